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

/**
 * Exponential backoff with full jitter: retry n waits a uniformly random time in
 * `[0, min(maxDelay, base × 2^(n-1)))`, so even the first retry is spread out and a
 * restarted server is not stampeded. A `Retry-After` from the server is a floor
 * added before the jitter.
 * @example createClient({ url, retryDelay: exponentialBackoff({ baseDelay: 250, maxDelay: 10_000 }) })
 */
export function exponentialBackoff({
  baseDelay = 1000,
  maxDelay = 30_000,
}: BackoffOptions = {}): RetryDelay {
  return ({ attempt, error, serverDelay, random }) =>
    (error.retryAfter ?? 0) +
    Math.floor(random * Math.min(maxDelay, (serverDelay ?? baseDelay) * 2 ** (attempt - 1)));
}
