import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveEnvironment } from '../src/environment';

afterEach(() => vi.useRealTimers());

describe('resolveEnvironment', () => {
  it('should report online/offline and visibility from window and document events', () => {
    const env = resolveEnvironment();
    const seen: string[] = [];
    const off = env.listen((s) => seen.push(s));
    window.dispatchEvent(new Event('offline'));
    window.dispatchEvent(new Event('online'));
    vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
    document.dispatchEvent(new Event('visibilitychange'));
    expect(env.visible()).toBe(false);
    off();
    window.dispatchEvent(new Event('offline'));
    expect(seen).toEqual(['offline', 'online', 'hidden']);
  });

  it('should read navigator.onLine when asked, not when created', () => {
    const env = resolveEnvironment();
    const spy = vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    expect(env.online()).toBe(false);
    spy.mockReturnValue(true);
    expect(env.online()).toBe(true);
  });

  it('should look up setTimeout at call time so fake timers apply', () => {
    const env = resolveEnvironment();
    vi.useFakeTimers();
    const fn = vi.fn();
    env.setTimeout(fn, 50);
    vi.advanceTimersByTime(50);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('should let overrides win', () => {
    const env = resolveEnvironment({ now: () => 42 });
    expect(env.now()).toBe(42);
  });
});
