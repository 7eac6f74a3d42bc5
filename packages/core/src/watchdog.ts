import type { Environment } from './environment';

/** A deadline kept by clock time, so a late (throttled) timer still judges correctly. */
export interface Watchdog {
  /** (Re)starts the deadline `ms` from now; 0 or less disarms it. */
  start(ms: number): void;
  /**
   * Something arrived: push the deadline out. Costs no timer, and one clock read per task: feeds
   * in the same task (a chunk of messages) share the first one's time.
   */
  feed(): void;
  /** Checks the deadline now (a page became visible); expires when it has passed. */
  check(): void;
  stop(): void;
}

/** @internal */
export function createWatchdog(env: Environment, onExpire: () => void): Watchdog {
  let last = 0;
  let limit = 0;
  let timer: unknown;
  // A clock read is a tenth of a message's cost on the hot path: one per task is enough.
  let fresh = false;
  const stale = () => {
    fresh = false;
  };
  const stop = () => {
    env.clearTimeout(timer);
    timer = undefined;
  };
  const tick = () => {
    const left = last + limit - env.now();
    timer = undefined;
    if (left > 0) timer = env.setTimeout(tick, left);
    else onExpire();
  };
  return {
    start(ms) {
      stop();
      last = env.now();
      limit = ms;
      if (ms > 0) timer = env.setTimeout(tick, ms);
    },
    feed() {
      if (fresh) return;
      fresh = true;
      last = env.now();
      queueMicrotask(stale);
    },
    check() {
      if (timer !== undefined && env.now() - last >= limit) {
        stop();
        onExpire();
      }
    },
    stop,
  };
}
