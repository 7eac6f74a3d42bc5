import { describe, expect, it } from 'vitest';
import { createRouter } from '../../src/routing';
import { fakeEnvironment } from '../helpers';

// Found by the chaos suite: kills on both transports blocked both, and then 'auto' stayed on
// a WebSocket that a proxy refused (66 attempts) while SSE would have carried the channels.
describe('routing when both transports have been blocked', () => {
  it('should avoid the transport that failed last, so a refused WebSocket gives way to SSE', () => {
    let now = 0;
    const { env } = fakeEnvironment({ now: () => now });
    const r = createRouter(env, 'k', { after: 2 });
    r.report('websocket', false);
    expect(r.report('websocket', false)).toBe(true);
    expect(r.pick('auto', true)).toBe('sse');
    now = 10;
    r.report('sse', false);
    expect(r.report('sse', false)).toBe(true);
    expect(r.pick('auto', true)).toBe('websocket'); // both blocked, SSE last: back to the preference
    now = 20;
    // The proxy now refuses every upgrade: two more failures and SSE is the lesser evil.
    r.report('websocket', false);
    expect(r.report('websocket', false)).toBe(true);
    expect(r.pick('auto', true)).toBe('sse');
    expect(r.pick('auto', false)).toBe('sse');
    r.dispose();
  });

  it('should keep the preference when both were blocked at the same moment', () => {
    // A fixed clock: on the wall clock a millisecond may pass between the two reports.
    const r = createRouter(fakeEnvironment({ now: () => 0 }).env, 'k', { after: 1 });
    r.report('websocket', false);
    r.report('sse', false);
    expect(r.pick('auto', true)).toBe('websocket');
    expect(r.pick('auto', false)).toBe('sse');
    r.dispose();
  });
});
