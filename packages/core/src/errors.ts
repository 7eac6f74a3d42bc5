import { ADVICE } from './advice';
import { DEV } from './dev';
import type { ErrorCode as ProtocolErrorCode } from './protocol';

/**
 * Every code a {@link TidewireError} can carry: the protocol's error codes plus
 * the client's own.
 */
export type ErrorCode =
  | ProtocolErrorCode
  /** fetch rejected, the socket failed, or the stream broke. */
  | 'network'
  /** No `welcome` (or, for plain streams, no open) within `connectTimeout`. */
  | 'connect_timeout'
  /**
   * An SSE stream's `welcome` did not come within 4 s of its request (a server sends it at once):
   * a proxy or antivirus holds the stream back. SSE polls instead (a response per batch) until
   * the fallback's TTL, and `'auto'` prefers WebSocket meanwhile.
   */
  | 'buffered'
  /** Nothing heard for longer than the heartbeat allows: a half-open connection. */
  | 'heartbeat_timeout'
  /** The server closed the connection (WebSocket close code, or end of an SSE stream). */
  | 'closed'
  /** An HTTP status the protocol does not name (5xx, 408, other 4xx). */
  | 'http_status'
  /** HTTP 204: the server has nothing to stream. */
  | 'no_content'
  /** A 200 response without `text/event-stream`. */
  | 'bad_content_type'
  /** A frame that is not JSON, lacks fields, or has an unknown type. */
  | 'bad_message'
  /** `getToken` threw or rejected. */
  | 'token_failed'
  /** `getToken` returned an empty string. */
  | 'token_empty'
  /** `getToken` did not settle in time. */
  | 'token_timeout'
  /** Fresh tokens were rejected again and again. */
  | 'auth_rejected'
  /** The outgoing publish queue is full. */
  | 'queue_full'
  /** A publish was sent but the connection dropped before its acknowledgement. */
  | 'unconfirmed'
  /** A publish was not acknowledged within `publishTimeout`. */
  | 'publish_timeout'
  /** The client or stream was closed. */
  | 'client_closed'
  /** A listener threw; the error is in `cause`. */
  | 'listener_failed'
  /** No WebSocket or fetch implementation was found or given. */
  | 'unsupported'
  /** `getToken` returned a value that cannot be sent as a header value. */
  | 'token_invalid'
  /** `createClient` or `openStream` was given an option it cannot work with (development build). */
  | 'invalid_options'
  /** An event or a publish did not match its channel's schema (`@tidewire/core/schema`). */
  | 'invalid_event';

// How each code behaves, in one place: each list names the codes that share a behaviour. A code in
// none of them (a newer server's, a close the server chose such as `closed` or `rate_limited`) is
// retryable and says nothing about the path to the server.

/** Retrying cannot help: the connection stops in its `failed` state. */
const FATAL =
  ' bad_request bad_json invalid_channel too_many_channels forbidden origin_not_allowed not_found method_not_allowed unsupported_media_type too_large no_content bad_content_type token_failed token_empty token_invalid auth_rejected client_closed unsupported invalid_options ';
/** About the credential: raised as an {@link AuthError}. */
const AUTH =
  ' unauthorized token_expired token_timeout forbidden token_failed token_empty token_invalid auth_rejected ';
/** The path to the server may be blocked: the end counts toward falling back to the other transport. */
const PATH = ' network connect_timeout heartbeat_timeout http_status ';
/** The transport cannot work here: it is avoided at once. */
const BLOCKS = ' bad_content_type unsupported ';

const is = (code: ErrorCode, codes: string) => codes.includes(` ${code} `);

/**
 * The one place that decides whether an error is fatal (stop) or retryable
 * (reconnect with backoff).
 * @example isFatal('forbidden') // true
 */
export function isFatal(code: ErrorCode): boolean {
  return is(code, FATAL);
}

/** Whether a connection that ended with `code` shows its transport cannot work here. @internal */
export const blocksTransport = (code: ErrorCode): boolean => is(code, BLOCKS);

/** Whether a connection that ended with `code` counts as one failure of its path. @internal */
export const isPathFailure = (code: ErrorCode): boolean => is(code, PATH);

/** Extra facts attached to an error. */
export interface ErrorDetails {
  /** The underlying error. */
  cause?: unknown;
  /** HTTP status or WebSocket close code. */
  status?: number;
  /** The channel concerned, when there is one. */
  channel?: string | undefined;
  /** Milliseconds the server asked to wait (`Retry-After`). */
  retryAfter?: number | undefined;
}

const BRAND = Symbol.for('tidewire.error');

/**
 * The base of every error Tidewire raises. Its message reads
 * `code [status] [on 'channel'][: the server's or client's explanation]`, and never
 * contains a token. The development build adds a sentence that says what to do.
 * @example new TidewireError('forbidden', { status: 403, channel: 'admin' }).message
 * // "forbidden 403 on 'admin'"
 */
export class TidewireError extends Error {
  override name = 'TidewireError';
  /** What went wrong, as a stable string. */
  declare readonly code: ErrorCode;
  /** Whether retrying cannot help; see {@link isFatal}. */
  declare readonly fatal: boolean;
  /** HTTP status or WebSocket close code, when there is one. */
  declare readonly status?: number;
  /** The channel concerned, when there is one. */
  declare readonly channel?: string;
  /** Milliseconds the server asked to wait, when it said. */
  declare readonly retryAfter?: number;
  readonly [BRAND] = true;
  /** `message`: what the server said, or what to do, if anything. */
  constructor(code: ErrorCode, details: ErrorDetails = {}, message?: string) {
    const { status, channel } = details;
    const advice = DEV && ADVICE[code];
    const explanation = advice ? (message ? `${message}. ${advice}` : advice) : message;
    super(
      `${code}${status ? ` ${status}` : ''}${channel ? ` on '${channel}'` : ''}${explanation ? `: ${explanation}` : ''}`,
      details,
    );
    Object.assign(this, details, { code, fatal: isFatal(code) });
  }
}

/** The connection could not be made or was lost. */
export class ConnectionError extends TidewireError {
  override name = 'ConnectionError';
}

/** The credential was missing, refused or expired, or `getToken` failed. */
export class AuthError extends TidewireError {
  override name = 'AuthError';
}

/** A publish failed; the event was not (or not knowingly) accepted. */
export class PublishError extends TidewireError {
  override name = 'PublishError';
}

/** True for any {@link TidewireError}, even one from another copy of the package or realm. */
export function isTidewireError(value: unknown): value is TidewireError {
  return (value as { [BRAND]?: unknown } | null | undefined)?.[BRAND] === true;
}

/** Builds the error for a code, picking {@link AuthError} or {@link ConnectionError}. @internal */
export const errorFor = (
  code: ErrorCode,
  details?: ErrorDetails,
  message?: string,
): TidewireError => new (is(code, AUTH) ? AuthError : ConnectionError)(code, details, message);

/** The code of a non-2xx HTTP status, following PROTOCOL.md's status table. @internal */
export const statusCode = (status: number): ErrorCode =>
  (
    ({
      204: 'no_content',
      401: 'unauthorized',
      403: 'forbidden',
      404: 'not_found',
      429: 'rate_limited',
    }) as const
  )[status as 204] ?? (status < 500 && status !== 408 ? 'bad_request' : 'http_status');

/** Turns a WebSocket close the client did not ask for into an error, per the close-code table. @internal */
export const closeError = (status: number): TidewireError =>
  errorFor(
    ({ 4400: 'bad_request', 4401: 'unauthorized', 4403: 'forbidden', 1006: 'network' } as const)[
      status as 4400
    ] ?? 'closed',
    { status },
  );
