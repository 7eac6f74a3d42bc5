import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError } from '../src/errors';
import { createRouter } from '../src/routing';
import { fakeEnvironment } from './helpers';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const lost = new ConnectionError('network');

describe('createRouter', () => {
  it('should follow the rule: explicit wins, duplex prefers WebSocket, listen-only SSE', () => {
    const r = createRouter(fakeEnvironment().env, undefined, () => {});
    expect(r.pick('auto', false)).toBe('sse');
    expect(r.pick('auto', true)).toBe('websocket');
    expect(r.pick('websocket', false)).toBe('websocket');
    expect(r.pick('sse', true)).toBe('sse');
  });

  it('should block a transport after repeated failures before welcome, but not explicit picks', () => {
    const r = createRouter(fakeEnvironment().env, { after: 2 }, () => {});
    expect(r.observe('websocket', lost)).toBe(false);
    expect(r.observe('websocket', lost)).toBe(true);
    expect(r.pick('auto', true)).toBe('sse');
    expect(r.pick('websocket', true)).toBe('websocket');
    r.dispose();
  });

  it('should set no timer while nothing is blocked', () => {
    const r = createRouter(fakeEnvironment().env, undefined, () => {});
    r.observe('sse', lost);
    expect(vi.getTimerCount()).toBe(0);
    r.dispose();
  });

  it('should forget failures after a success', () => {
    const r = createRouter(fakeEnvironment().env, { after: 2 }, () => {});
    r.observe('websocket', lost);
    r.observe('websocket', 'stable');
    expect(r.observe('websocket', lost)).toBe(false);
  });

  it('should re-probe a blocked transport after the TTL', () => {
    const f = fakeEnvironment();
    const changed = vi.fn();
    const r = createRouter(f.env, { after: 1, ttl: 1000 }, changed);
    r.observe('websocket', lost);
    expect(r.pick('auto', true)).toBe('sse');
    vi.advanceTimersByTime(999);
    expect(changed).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(r.pick('auto', true)).toBe('websocket');
    r.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should keep the preferred transport when both are blocked', () => {
    const r = createRouter(fakeEnvironment().env, { after: 1 }, () => {});
    r.observe('websocket', lost);
    r.observe('sse', lost);
    expect(r.pick('auto', true)).toBe('websocket');
    r.dispose();
  });
});
