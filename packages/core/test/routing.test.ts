import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRouter } from '../src/routing';
import { fakeEnvironment } from './helpers';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function memory() {
  const map = new Map<string, string>();
  return {
    map,
    storage: {
      getItem: (k: string) => map.get(k) ?? null,
      setItem: (k: string, v: string) => void map.set(k, v),
      removeItem: (k: string) => void map.delete(k),
    },
  };
}

describe('createRouter', () => {
  it('should follow the rule: explicit wins, duplex prefers WebSocket, listen-only SSE', () => {
    const r = createRouter(fakeEnvironment().env, 'k');
    expect(r.pick('auto', false)).toBe('sse');
    expect(r.pick('auto', true)).toBe('websocket');
    expect(r.pick('websocket', false)).toBe('websocket');
    expect(r.pick('sse', true)).toBe('sse');
  });

  it('should block a transport after repeated failures before welcome, but not explicit picks', () => {
    const r = createRouter(fakeEnvironment().env, 'k', { after: 2 });
    expect(r.report('websocket', false)).toBe(false);
    expect(r.report('websocket', false)).toBe(true);
    expect(r.pick('auto', true)).toBe('sse');
    expect(r.pick('websocket', true)).toBe('websocket');
    r.dispose();
  });

  it('should set no timer while nothing is blocked', () => {
    const r = createRouter(fakeEnvironment().env, 'k');
    r.report('sse', false);
    expect(vi.getTimerCount()).toBe(0);
    r.dispose();
  });

  it('should forget failures after a success', () => {
    const r = createRouter(fakeEnvironment().env, 'k', { after: 2 });
    r.report('websocket', false);
    r.report('websocket', true);
    expect(r.report('websocket', false)).toBe(false);
  });

  it('should remember a block in session storage and re-probe after the TTL', () => {
    const { map, storage } = memory();
    const f = fakeEnvironment({ session: () => storage });
    const changed = vi.fn();
    const r = createRouter(f.env, 'k', { after: 1, ttl: 1000 }, changed);
    r.report('websocket', false);
    expect(JSON.parse(map.get('k')!)).toHaveProperty('websocket');
    const again = createRouter(f.env, 'k', { after: 1, ttl: 1000 });
    expect(again.pick('auto', true)).toBe('sse');
    vi.advanceTimersByTime(1000);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(r.pick('auto', true)).toBe('websocket');
    r.dispose();
    again.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should keep the preferred transport when both are blocked', () => {
    const r = createRouter(fakeEnvironment().env, 'k', { after: 1 });
    r.report('websocket', false);
    r.report('sse', false);
    expect(r.pick('auto', true)).toBe('websocket');
    r.dispose();
  });
});
