import type { Environment } from './environment';
import { AuthError, isTidewireError } from './errors';

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

/** Single-flight access to `getToken`. */
export interface TokenSource {
  /** A token; joins a call already in flight. With `fresh` false, the last token is reused when there is one. */
  get(context: TokenContext, fresh?: boolean): Promise<string | undefined>;
  /** Stops the timeout timer of a call in flight (which then rejects). */
  cancel(): void;
}

/** @internal */
export function createTokenSource(
  getToken: GetToken | undefined,
  env: Environment,
  timeout: number,
): TokenSource {
  let pending: Promise<string | undefined> | undefined;
  let last: string | undefined;
  let timer: unknown;
  let stop: (() => void) | undefined;
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
  };
}
