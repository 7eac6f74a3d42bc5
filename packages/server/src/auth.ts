import type { IncomingMessage } from 'node:http';
import { type HttpFailure, unauthorizedHeaders } from './http-response.js';
import type { Logger } from './logger.js';
import type { ResolvedOptions } from './options.js';

/** Why a credential was refused. */
export type AuthErrorCode = 'unauthorized' | 'token_expired' | 'forbidden';

/**
 * Thrown by an `authenticate` hook to refuse a credential.
 * - `unauthorized` (default): 401 / close 4401; the client refreshes its token and retries.
 * - `token_expired`: the same, with code `token_expired`.
 * - `forbidden`: 403 / close 4403; the client must not retry.
 * @example
 * authenticate: async (token) => {
 *   const claims = await verify(token).catch(() => { throw new AuthError('unauthorized') });
 *   if (claims.banned) throw new AuthError('forbidden', 'account suspended');
 *   return { principal: claims.sub, expiresAt: claims.exp * 1000 };
 * }
 */
export class AuthError extends Error {
  override name = 'AuthError' as const;
  /** Why the credential was refused. */
  readonly code: AuthErrorCode;

  /** `message` defaults to a short description of `code`. */
  constructor(code: AuthErrorCode = 'unauthorized', message?: string, options?: ErrorOptions) {
    super(message ?? defaultMessages[code], options);
    this.code = code;
  }
}

/** True for an {@link AuthError}, also one from another copy of this package. */
export function isAuthError(error: unknown): error is AuthError {
  return error instanceof Error && error.name === 'AuthError' && 'code' in error;
}

const defaultMessages: Record<AuthErrorCode, string> = {
  unauthorized: 'missing or invalid credential',
  token_expired: 'the credential has expired',
  forbidden: 'the credential was refused',
};

/** What a successful `authenticate` returns. */
export interface AuthResult<P> {
  /**
   * Who the token stands for: passed to `authorize` and `onPublish`; a string or number
   * principal also counts toward `limits.maxConnectionsPerPrincipal`.
   */
  principal: P;
  /** When the credential expires, in milliseconds since the epoch. */
  expiresAt?: number;
}

/** The `authenticate` hook. `token` is the bearer token, `undefined` when none was sent. */
export type Authenticate<P> = (
  token: string | undefined,
  req: IncomingMessage,
) => AuthResult<P> | null | undefined | Promise<AuthResult<P> | null | undefined>;

/** The `authorize` hook. */
export type Authorize<P> = (
  principal: P,
  channel: string,
  action: 'subscribe' | 'publish',
) => boolean | Promise<boolean>;

/** The outcome of running `authenticate`. */
export type AuthOutcome<P> =
  | { ok: true; principal: P; expiresAt: number | undefined }
  | { ok: false; code: AuthErrorCode; message: string };

/** Runs `authenticate`, turning every failure into an outcome. */
export async function runAuthenticate<P>(
  authenticate: Authenticate<P>,
  token: string | undefined,
  req: IncomingMessage,
  now: number,
  logger: Logger,
): Promise<AuthOutcome<P>> {
  let result: AuthResult<P> | null | undefined;
  try {
    result = await authenticate(token, req);
  } catch (error) {
    if (isAuthError(error)) return { ok: false, code: error.code, message: error.message };
    logger.error('authenticate hook threw', { error: describe(error) });
    return { ok: false, code: 'unauthorized', message: defaultMessages.unauthorized };
  }
  if (result == null) {
    return { ok: false, code: 'unauthorized', message: defaultMessages.unauthorized };
  }
  const { expiresAt } = result;
  if (expiresAt !== undefined && expiresAt <= now) {
    return { ok: false, code: 'token_expired', message: defaultMessages.token_expired };
  }
  return { ok: true, principal: result.principal, expiresAt };
}

/**
 * Authenticates an HTTP request (SSE, publish) by its bearer token. A refusal comes with its HTTP
 * answer: `403` for `forbidden`, else `401` with `WWW-Authenticate`.
 */
export async function authenticateRequest<P>(
  options: Pick<ResolvedOptions<P>, 'authenticate' | 'now' | 'logger'>,
  req: IncomingMessage,
): Promise<
  { ok: true; principal: P; expiresAt: number | undefined } | { ok: false; failure: HttpFailure }
> {
  const auth = await runAuthenticate(
    options.authenticate,
    bearerToken(req),
    req,
    options.now(),
    options.logger,
  );
  if (auth.ok) return auth;
  const forbidden = auth.code === 'forbidden';
  return {
    ok: false,
    failure: {
      status: forbidden ? 403 : 401,
      code: auth.code,
      message: auth.message,
      headers: forbidden ? {} : unauthorizedHeaders,
    },
  };
}

/** Runs `authorize`; anything but `true`, a throw included, is a refusal. */
export async function runAuthorize<P>(
  authorize: Authorize<P>,
  principal: P,
  channel: string,
  action: 'subscribe' | 'publish',
  logger: Logger,
): Promise<boolean> {
  try {
    return (await authorize(principal, channel, action)) === true;
  } catch (error) {
    logger.error('authorize hook threw', { channel, action, error: describe(error) });
    return false;
  }
}

/** The bearer token of an `Authorization` header, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
