import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWatchdog } from '../src/watchdog';
import { fakeEnvironment } from './helpers';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('createWatchdog', () => {
  it('should expire when nothing is fed before the deadline', () => {
    const expired = vi.fn();
    const dog = createWatchdog(fakeEnvironment().env, expired);
    dog.start(1000);
    vi.advanceTimersByTime(999);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('should push the deadline out when fed, without a timer per feed', () => {
    const expired = vi.fn();
    const dog = createWatchdog(fakeEnvironment().env, expired);
    dog.start(1000);
    vi.advanceTimersByTime(800);
    dog.feed();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(900);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('should judge by clock time when its timer is throttled', () => {
    const expired = vi.fn();
    const dog = createWatchdog(fakeEnvironment().env, expired);
    dog.start(1000);
    vi.setSystemTime(Date.now() + 5000);
    dog.check();
    expect(expired).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should not expire on check before the deadline, nor after stop', () => {
    const expired = vi.fn();
    const dog = createWatchdog(fakeEnvironment().env, expired);
    dog.start(1000);
    dog.check();
    dog.stop();
    vi.advanceTimersByTime(5000);
    expect(expired).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should read the clock once per task, however many feeds it gets', async () => {
    const now = vi.fn(() => Date.now());
    const dog = createWatchdog(fakeEnvironment({ now }).env, vi.fn());
    dog.start(1000);
    now.mockClear();
    for (let i = 0; i < 100; i++) dog.feed();
    expect(now).toHaveBeenCalledTimes(1);
    await Promise.resolve();
    dog.feed();
    expect(now).toHaveBeenCalledTimes(2);
    dog.stop();
  });
});
