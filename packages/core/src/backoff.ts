import type { Environment } from './environment';
import type { TidewireError } from './errors';

/** What a {@link RetryDelay} policy is told about the retry it must time. */
export interface RetryContext {
  /** 1 for the first retry after a loss, 2 for the next, …; counted for the whole client, back to 1 after a stable open. */
  attempt: number;
  /** Why the last attempt ended. */
  error: TidewireError;
  /** The server's suggested reconnection delay (the SSE `retry:` field), when it sent one. */
  serverDelay: number | undefined;
  /** A uniformly distributed number in [0, 1), from the environment. */
  random: number;
}

/** Milliseconds to wait before the next connection attempt. */
export type RetryDelay = (context: RetryContext) => number;

/** Options of {@link exponentialBackoff}. */
export interface BackoffOptions {
  /** The ceiling of the first retry's delay; the SSE `retry:` field replaces it. @default 1000 */
  baseDelay?: number;
  /** The largest ceiling. @default 30000 */
  maxDelay?: number;
}

/** The least SSE `retry:` honoured, so `retry: 0` still backs off. */
export const MIN_SERVER_DELAY = 500;
/** The most of a server's `Retry-After` honoured: a date years ahead must not stop a client for good. */
export const MAX_RETRY_AFTER = 300_000;
/** The longest delay a timer can hold (2^31 − 1 ms); longer ones fire at once. */
const MAX_TIMER = 2_147_483_647;

/** `value` within [low, high]; a value that is not a number becomes `low`. */
export const clamp = (value: number, low: number, high: number): number =>
  value > low ? Math.min(value, high) : low;

/**
 * Exponential backoff with full jitter: retry n waits a uniformly random time in
 * `[0, min(maxDelay, base × 2^(n-1)))`, so even the first retry is spread out and a
 * restarted server is not stampeded. The SSE `retry:` field replaces the base, clamped to
 * [{@link MIN_SERVER_DELAY}, maxDelay]; a `Retry-After` from the server is a floor added before
 * the jitter, capped at {@link MAX_RETRY_AFTER}.
 * @example createClient({ url, retryDelay: exponentialBackoff({ baseDelay: 250, maxDelay: 10_000 }) })
 */
export function exponentialBackoff({
  baseDelay = 1000,
  maxDelay = 30_000,
}: BackoffOptions = {}): RetryDelay {
  return ({ attempt, error, serverDelay, random }) => {
    const base =
      serverDelay === undefined ? baseDelay : clamp(serverDelay, MIN_SERVER_DELAY, maxDelay);
    // The exponent stops growing once the ceiling is reached anyway: 2^1024 would be Infinity.
    const ceiling = Math.min(maxDelay, base * 2 ** Math.min(attempt - 1, 40));
    return Math.min(error.retryAfter ?? 0, MAX_RETRY_AFTER) + Math.floor(random * ceiling);
  };
}

/**
 * The client's one retry schedule, shared by the connections of both transports: attempts
 * count for the client, so a connection that starts while another is failing (a fallback move)
 * waits the rest of the current delay instead of starting over.
 * @internal
 */
export interface RetrySchedule {
  /** Consecutive failed attempts since the last stable connection. */
  attempt(): number;
  /** An attempt failed: counts it and returns the delay before the next one (0 with `retryNow`). */
  failed(error: TidewireError, retryNow: boolean): number;
  /** The wait a connection starting now must keep (the rest of the current delay, and why), if any. */
  pending(): { delay: number; error: TidewireError } | undefined;
  /** The server's reconnection delay (SSE `retry:`), passed to the policy. */
  setServerDelay(ms: number): void;
  /** A connection stayed open for `stableAfter`: the failures are over. */
  reset(): void;
}

/** @internal */
export function createRetrySchedule(retryDelay: RetryDelay, env: Environment): RetrySchedule {
  let attempt = 0;
  let until = 0;
  let lastError: TidewireError;
  let serverDelay: number | undefined;
  return {
    attempt: () => attempt,
    failed(error, retryNow) {
      attempt++;
      lastError = error;
      // A policy of the app's may return anything: keep it a delay a timer can hold.
      const delay = retryNow
        ? 0
        : clamp(retryDelay({ attempt, error, serverDelay, random: env.random() }), 0, MAX_TIMER);
      until = env.now() + delay;
      return delay;
    },
    pending() {
      const delay = until - env.now();
      return attempt && delay > 0 ? { delay, error: lastError } : undefined;
    },
    setServerDelay(ms) {
      serverDelay = ms;
    },
    reset() {
      attempt = 0;
    },
  };
}
