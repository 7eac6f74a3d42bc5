/**
 * Why the Redis engine refused an operation.
 * - `unavailable`: Redis cannot serve now: the connection is down, Redis did not answer in
 *   time, or it answered that it cannot write yet (a replica, loading, busy, out of memory).
 *   Retry later, perhaps through another node; a server answers `503` with `Retry-After`.
 * - `failed`: Redis answered with an error that retrying will not fix, such as a key of the
 *   engine holding a value of another type.
 * - `closed`: the engine was closed.
 */
export type RedisEngineErrorCode = 'unavailable' | 'failed' | 'closed';

/**
 * Rejects an engine operation. The message says what happened; it never holds a
 * connection URL or a password.
 * @example
 * try { await engine.append(event) } catch (e) { if (isRedisEngineError(e) && e.code === 'unavailable') retryLater() }
 */
export class RedisEngineError extends Error {
  override name = 'RedisEngineError' as const;
  /** Why the operation was refused. */
  readonly code: RedisEngineErrorCode;

  /** An error for `code`, with a message that says what happened, and its cause if any. */
  constructor(code: RedisEngineErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** True for a {@link RedisEngineError}, also one from another copy of this package. */
export function isRedisEngineError(error: unknown): error is RedisEngineError {
  return error instanceof Error && error.name === 'RedisEngineError' && 'code' in error;
}

/**
 * Redis error replies that retrying cannot fix. Any other failure (every connection error,
 * and replies such as `READONLY`, `LOADING`, `BUSY`, `OOM`, `MASTERDOWN`, `TRYAGAIN`) is
 * `unavailable`: it passes once Redis or the way to it recovers.
 */
const LASTING = ' ERR WRONGTYPE NOPERM NOAUTH WRONGPASS CROSSSLOT EXECABORT ';

/**
 * The engine's error for a failed Redis operation: `failed` for a lasting error reply,
 * `unavailable` for anything else. `doing` names the operation for the message.
 */
export function toEngineError(doing: string, error: unknown): RedisEngineError {
  if (isRedisEngineError(error)) return error;
  const detail = redact(error instanceof Error ? error.message : String(error));
  const word = /^([A-Z]+) /.exec(detail)?.[1];
  const code = word !== undefined && LASTING.includes(` ${word} `) ? 'failed' : 'unavailable';
  return new RedisEngineError(code, `${doing} failed: ${detail}`, { cause: error });
}

/** `message` without the credentials of any URL in it (`redis://user:secret@host` → `redis://***@host`). */
export function redact(message: string): string {
  return message.replace(/\b([a-z][\w+.-]*:\/\/)[^\s/@]*@/gi, '$1***@');
}
