import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineHealth } from '../src/index.js';
import { createReadiness, PROBE_MS } from '../src/readiness.js';
import { systemTimers } from '../src/timers.js';

const down = { ready: false, reason: 'the Redis connection is down' } as const;

/** A readiness over an engine whose health the test sets, on vitest's fake clock. */
function setup(staleAfterMs = 30_000) {
  let health: EngineHealth = { ready: true };
  const stale: Array<{ at: number; since: number; reason: string }> = [];
  const readiness = createReadiness({
    engine: { health: () => health },
    staleAfterMs,
    timers: systemTimers,
    now: () => Date.now(),
    onStale: (current, since) => stale.push({ at: Date.now(), since, reason: current.reason }),
  });
  return {
    readiness,
    stale,
    set(next: EngineHealth) {
      health = next;
    },
  };
}

describe('createReadiness', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should call onStale exactly staleAfterMs after the probe first saw the engine not ready', async () => {
    const { readiness, stale, set } = setup();
    await vi.advanceTimersByTimeAsync(2500);
    set(down); // between two probes: the one at 3000 ms sees it
    await vi.advanceTimersByTimeAsync(500);
    expect(readiness.notReadySince()).toBe(3000);
    await vi.advanceTimersByTimeAsync(30_000 - 1);
    expect(stale).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(stale).toEqual([{ at: 33_000, since: 3000, reason: down.reason }]);
    readiness.close();
  });

  it('should count from the first look, a request included, not only from a probe', async () => {
    const { readiness, stale, set } = setup(5000);
    await vi.advanceTimersByTimeAsync(200);
    set(down);
    expect(readiness.health()).toEqual(down); // a request for /ready at 200 ms
    expect(readiness.notReadySince()).toBe(200);
    await vi.advanceTimersByTimeAsync(4800 - 1);
    expect(stale).toEqual([]);
    // Probes run on whole seconds: the one at 5000 ms sets a look for 5200 ms, when the count
    // runs out, rather than leaving it to the probe at 6000 ms.
    await vi.advanceTimersByTimeAsync(1);
    expect(stale).toEqual([]);
    await vi.advanceTimersByTimeAsync(200 - 1);
    expect(stale).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(stale).toEqual([{ at: 5200, since: 200, reason: down.reason }]);
    readiness.close();
  });

  it('should start the count over when a look finds the engine ready again', async () => {
    const { readiness, stale, set } = setup();
    set(down);
    await vi.advanceTimersByTimeAsync(20_000);
    set({ ready: true });
    await vi.advanceTimersByTimeAsync(PROBE_MS);
    expect(readiness.notReadySince()).toBeUndefined();
    set(down); // at 21 s: the probe at 22 s sees it
    await vi.advanceTimersByTimeAsync(30_000);
    expect(stale).toEqual([]);
    await vi.advanceTimersByTimeAsync(PROBE_MS);
    expect(stale).toEqual([{ at: 52_000, since: 22_000, reason: down.reason }]);
    readiness.close();
  });

  it('should keep calling onStale on every probe while the engine stays not ready', async () => {
    const { readiness, stale, set } = setup(2000);
    set(down);
    await vi.advanceTimersByTimeAsync(5000);
    expect(stale.map((call) => call.at)).toEqual([3000, 4000, 5000]);
    readiness.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(stale).toHaveLength(3);
  });

  it('should probe at staleAfterMs when that is shorter than a second', async () => {
    const { readiness, stale, set } = setup(300);
    set(down);
    await vi.advanceTimersByTimeAsync(600);
    expect(stale.map((call) => call.at)).toEqual([600]);
    readiness.close();
  });

  it('should never call onStale with Infinity, and set no timer', async () => {
    const { readiness, stale, set } = setup(Number.POSITIVE_INFINITY);
    expect(vi.getTimerCount()).toBe(0);
    set(down);
    expect(readiness.health()).toEqual(down);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(stale).toEqual([]);
    expect(readiness.notReadySince()).toBe(0);
    readiness.close();
  });
});
