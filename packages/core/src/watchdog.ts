import type { Environment } from './environment';

/** A deadline kept by clock time, so a late (throttled) timer still judges correctly. */
export interface Watchdog {
  /** (Re)starts the deadline `ms` from now; 0 or less disarms it. */
  start(ms: number): void;
  /** Something arrived: push the deadline out. Costs one clock read, no timer. */
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
  const stop = () => {
    if (timer !== undefined) env.clearTimeout(timer);
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
      last = env.now();
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
