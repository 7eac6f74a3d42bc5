/**
 * Where the server reports problems that are not the client's business: hook
 * failures and dropped connections. Messages and details never contain tokens.
 */
export interface Logger {
  /**
   * What clients did or hit: a refused origin (once per origin), a limit reached (at most once a
   * minute per principal or address). The default logger drops these.
   */
  warn(message: string, details?: Record<string, unknown>): void;
  /** What the operator should look at: a hook that threw, a request that failed. */
  error(message: string, details?: Record<string, unknown>): void;
}

/** How often one limit may be logged for one principal or client: once a minute. */
export const LIMIT_LOG_INTERVAL_MS = 60_000;
/** Keys remembered as recently logged; past it the memory starts over (a few extra lines). */
const LIMIT_LOG_KEYS_KEPT = 10_000;

/**
 * Logs a limit a client hit (a slow consumer dropped, a rate or connection limit) with
 * `logger.warn`, at most once per `LIMIT_LOG_INTERVAL_MS` for each pair of limit and `who`
 * (a principal or a client address), so that a client hammering a limit costs a log line a
 * minute, not one per request.
 */
export type LimitLog = (limit: string, who: string, details?: Record<string, unknown>) => void;

/** Creates the server's {@link LimitLog}. */
export function createLimitLog(logger: Logger, now: () => number): LimitLog {
  const loggedAt = new Map<string, number>();
  return (limit, who, details = {}) => {
    const key = `${limit}\u0000${who}`;
    const time = now();
    const last = loggedAt.get(key);
    if (last !== undefined && time - last < LIMIT_LOG_INTERVAL_MS) return;
    if (loggedAt.size >= LIMIT_LOG_KEYS_KEPT) loggedAt.clear();
    loggedAt.set(key, time);
    logger.warn(limit, { who, ...details });
  };
}
