import type { Environment } from './environment';
import { AuthError, isTidewireError, type TidewireError } from './errors';

/** Why a token is being asked for. */
export type TokenReason =
  /** The first connection. */
  | 'connect'
  /** A reconnection after a loss. */
  | 'reconnect'
  /** The server rejected or expired the previous token. */
  | 'expired'
  /** The server announced expiry on an open WebSocket; the new token is sent in-band. */
  | 'refresh'
  /** An HTTP publish. */
  | 'publish';

/** What `getToken` is told. */
export interface TokenContext {
  /** Why the token is asked for; see {@link TokenReason}. */
  reason: TokenReason;
  /** Consecutive attempts for this connection; 0 for the first. */
  attempt: number;
}

/**
 * Supplies the bearer token. Return `undefined`/`null` to send none (cookie auth).
 * An empty string or a throw stops the connection with a fatal {@link AuthError}.
 */
export type GetToken = (
  context: TokenContext,
) => string | null | undefined | Promise<string | null | undefined>;

/**
 * Single-flight access to `getToken`, and the client's rule for refused tokens: the first refusal
 * retries at once with a fresh token (the common case: it had expired), the second waits the
 * retry schedule, the third gives up with a fatal `auth_rejected`. Refusals count across
 * connections and transports until a connection has stayed open for `stableAfter`, so a server
 * that sends `welcome` and then rejects the token is not hammered.
 */
export interface TokenSource {
  /** A token; joins a call already in flight. With `fresh` false, the last token is reused when there is one. */
  get(context: TokenContext, fresh?: boolean): Promise<string | undefined>;
  /** Stops the timeout timer of a call in flight (which then rejects). */
  cancel(): void;
  /**
   * A connection ended: when the server refused its token (`unauthorized`, `token_expired`), how
   * many times in a row it has (1: retry at once with a fresh token, 2: wait the retry schedule,
   * 3: give up); undefined when it did not.
   */
  rejected(error: TidewireError): number | undefined;
  /** A connection stayed open for `stableAfter`: refusals start over. */
  accepted(): void;
}

/** Characters a header value cannot hold (fetch would throw, with the token in its message). */
const NOT_A_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** @internal `timeout`: how long `getToken` may take. */
export function createTokenSource(
  getToken: GetToken | undefined,
  env: Environment,
  timeout: number,
): TokenSource {
  let pending: Promise<string | undefined> | undefined;
  let last: string | undefined;
  let timer: unknown;
  let stop: (() => void) | undefined;
  let rejections = 0;
  return {
    get(context, fresh = true) {
      // Without getToken there is never a last token: cookie auth sends none.
      if (!getToken || (!fresh && last !== undefined)) return Promise.resolve(last);
      pending ??= new Promise<string | undefined>((resolve, reject) => {
        timer = env.setTimeout(() => reject(new AuthError('token_timeout')), timeout);
        stop = () => reject(new AuthError('client_closed'));
        Promise.resolve()
          .then(() => getToken(context))
          .then((token) => {
            if (token === '') throw new AuthError('token_empty');
            // No token (undefined, null) reads as its name, a valid header value.
            if (NOT_A_HEADER_VALUE.test(token as string)) throw new AuthError('token_invalid');
            last = token ?? undefined;
            resolve(last);
          })
          .catch((cause: unknown) =>
            reject(isTidewireError(cause) ? cause : new AuthError('token_failed', { cause })),
          );
      }).finally(() => {
        env.clearTimeout(timer);
        pending = stop = undefined;
      });
      return pending;
    },
    cancel: () => stop?.(),
    rejected({ code }) {
      if (code !== 'unauthorized' && code !== 'token_expired') return undefined;
      return ++rejections;
    },
    accepted() {
      rejections = 0;
    },
  };
}
