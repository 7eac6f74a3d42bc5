/** An opaque timer handle. */
export type TimerHandle = unknown;

/**
 * The timer functions the server uses. Inject your own (or fake timers) through
 * `TidewireServerOptions.timers`.
 */
export interface Timers {
  /** Calls `callback` once after `ms` milliseconds; returns its handle. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer set by `setTimeout`. */
  clearTimeout(handle: TimerHandle): void;
  /** Calls `callback` every `ms` milliseconds; returns its handle. */
  setInterval(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer set by `setInterval`. */
  clearInterval(handle: TimerHandle): void;
}

/** The global timers, looked up at call time so that fake timers can replace them. */
export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

/** Node's largest timer delay; longer delays fire at once. */
const MAX_DELAY = 2_147_483_647;

/**
 * Runs `callback` at the clock time `at`, even when that is further away than a
 * single Node timer can wait. Returns its disposer.
 */
export function scheduleAt(
  timers: Timers,
  now: () => number,
  at: number,
  callback: () => void,
): () => void {
  let handle: TimerHandle;
  const arm = (): void => {
    const delay = Math.max(0, at - now());
    handle = timers.setTimeout(delay > MAX_DELAY ? arm : callback, Math.min(delay, MAX_DELAY));
  };
  arm();
  return () => timers.clearTimeout(handle);
}
