import type { TidewireError } from './errors';

/** What a {@link RetryDelay} policy is told about the retry it must time. */
export interface RetryContext {
  /** 1 for the first retry after a loss, 2 for the next, …; back to 1 after a stable open. */
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

/** The least SSE `retry:` honoured as the base, so `retry: 0` still backs off. */
export const MIN_SERVER_DELAY = 500;
/** The most of a `Retry-After` honoured: a date years ahead must not overflow a timer. */
export const MAX_RETRY_AFTER = 300_000;

/**
 * Exponential backoff with full jitter: retry n waits a uniformly random time in
 * `[0, min(maxDelay, base × 2^(n-1)))`, so even the first retry is spread out and a
 * restarted server is not stampeded. The SSE `retry:` field replaces the base, but never below
 * {@link MIN_SERVER_DELAY}. A `Retry-After` from the server is a floor added before the jitter,
 * capped at {@link MAX_RETRY_AFTER}. Every delay is finite, however many attempts.
 * @example createClient({ url, retryDelay: exponentialBackoff({ baseDelay: 250, maxDelay: 10_000 }) })
 */
export function exponentialBackoff({
  baseDelay = 1000,
  maxDelay = 30_000,
}: BackoffOptions = {}): RetryDelay {
  return ({ attempt, error, serverDelay, random }) => {
    const base = serverDelay === undefined ? baseDelay : Math.max(serverDelay, MIN_SERVER_DELAY);
    // The exponent stops once the ceiling is reached anyway: 2^1024 would be Infinity, and 0 × Infinity NaN.
    const ceiling = Math.min(maxDelay, base * 2 ** Math.min(attempt - 1, 40));
    return Math.min(error.retryAfter ?? 0, MAX_RETRY_AFTER) + Math.floor(random * ceiling);
  };
}
