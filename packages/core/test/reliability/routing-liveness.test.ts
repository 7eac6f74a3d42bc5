import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/errors';
import { createRouter } from '../../src/routing';
import { fakeEnvironment } from '../helpers';

// Found by the chaos suite: kills on both transports blocked both, and then 'auto' stayed on
// a WebSocket that a proxy refused (66 attempts) while SSE would have carried the channels.
const lost = new ConnectionError('network');

describe('routing when both transports have been blocked', () => {
  it('should avoid the transport that failed last, so a refused WebSocket gives way to SSE', () => {
    let now = 0;
    const { env } = fakeEnvironment({ now: () => now });
    const r = createRouter(env, { after: 2 }, () => {});
    r.observe('websocket', lost);
    expect(r.observe('websocket', lost)).toBe(true);
    expect(r.pick('auto', true)).toBe('sse');
    now = 10;
    r.observe('sse', lost);
    expect(r.observe('sse', lost)).toBe(true);
    expect(r.pick('auto', true)).toBe('websocket'); // both blocked, SSE last: back to the preference
    now = 20;
    // The proxy now refuses every upgrade: two more failures and SSE is the lesser evil.
    r.observe('websocket', lost);
    expect(r.observe('websocket', lost)).toBe(true);
    expect(r.pick('auto', true)).toBe('sse');
    expect(r.pick('auto', false)).toBe('sse');
    r.dispose();
  });

  it('should keep the preference when both were blocked at the same moment', () => {
    // A fixed clock: on the wall clock a millisecond may pass between the two reports.
    const r = createRouter(fakeEnvironment({ now: () => 0 }).env, { after: 1 }, () => {});
    r.observe('websocket', lost);
    r.observe('sse', lost);
    expect(r.pick('auto', true)).toBe('websocket');
    expect(r.pick('auto', false)).toBe('sse');
    r.dispose();
  });

  it('should lift both blocks once a transport works again after an outage that blocked both', () => {
    let now = 0;
    const changes: string[] = [];
    const r = createRouter(fakeEnvironment({ now: () => now }).env, { after: 2 }, () => {});
    for (const t of ['sse', 'sse', 'websocket', 'websocket'] as const) {
      now += 10;
      if (r.observe(t, lost)) changes.push(t);
    }
    expect(changes).toEqual(['sse', 'websocket']);
    // The server is back: the first stable connection proves neither path was to blame.
    expect(r.observe('sse', 'stable')).toBe(true);
    expect(r.pick('auto', false)).toBe('sse');
    expect(r.pick('auto', true)).toBe('websocket');
    r.dispose();
  });

  it('should keep a block when the other transport only failed in passing', () => {
    // A drop of every connection (one failure each), then a proxy that refuses upgrades.
    let now = 0;
    const r = createRouter(fakeEnvironment({ now: () => now }).env, { after: 2 }, () => {});
    r.observe('sse', lost);
    r.observe('websocket', lost);
    now = 10;
    expect(r.observe('websocket', lost)).toBe(true);
    expect(r.pick('auto', true)).toBe('sse');
    // SSE reconnects and proves stable: the refused WebSocket stays avoided.
    expect(r.observe('sse', 'stable')).toBe(false);
    expect(r.pick('auto', true)).toBe('sse');
    r.dispose();
  });
});
