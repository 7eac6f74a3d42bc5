import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './http-response.js';
import type { Logger } from './logger.js';

/**
 * Which browser pages may connect, judged by the request's `Origin` header (requests without
 * one, such as server-to-server calls, are not affected).
 *
 * Without `cors`, only same-origin requests are accepted: an `Origin` whose host equals the
 * `Host` header. `Host` is chosen by the browser from the name it resolved, so a DNS-rebinding
 * page (the attacker's name, re-pointed at this server) passes that test: a server reachable
 * from a browser on a private network or on localhost should set `cors.origins` to its own
 * origins instead.
 *
 * With `cors`, an `Origin` is accepted only when `origins` accepts it; `Host` plays no part, so
 * list the origin of any page this server serves itself as well.
 * @example
 * cors: { origins: ['https://app.example.com', 'http://localhost:5173'] }
 */
export interface CorsOptions {
  /**
   * - a list such as `['https://app.example.com']`: exactly those origins, with credentials
   *   (`Access-Control-Allow-Credentials: true`, so cookies may authenticate);
   * - a predicate `(origin) => boolean`: the origins it returns `true` for, with credentials
   *   (a throw counts as `false`);
   * - `'*'`: any origin, `null` included, without credentials: the answer carries
   *   `Access-Control-Allow-Origin: *` and no `Access-Control-Allow-Credentials`, and the
   *   request's `Cookie` header is removed before `authenticate` sees it (a WebSocket handshake
   *   would otherwise bring any site the user's cookies). Use a list or a predicate for
   *   credentials.
   *
   * A refused origin gets `403` with the body `{"code":"origin_not_allowed"}` and
   * `Access-Control-Allow-Origin` naming it (without credentials), so that the page can read
   * why; its preflight is answered too, for the same reason. Each refused origin is logged once
   * with `logger.warn`.
   */
  origins: readonly string[] | '*' | ((origin: string) => boolean);
}

/** The verdict on a request's `Origin`. */
export type OriginVerdict =
  | { kind: 'none' }
  | { kind: 'same-origin' }
  /** In the list or accepted by the predicate: credentials allowed. */
  | { kind: 'allowed'; origin: string }
  /** Accepted by `'*'`: no credentials. */
  | { kind: 'any'; origin: string }
  | { kind: 'refused'; origin: string };

/**
 * Judges the `Origin` of a request: see {@link CorsOptions} for the rule with and without
 * CORS options. A request without an `Origin` is not judged (`none`).
 */
export function checkOrigin(req: IncomingMessage, cors: CorsOptions | undefined): OriginVerdict {
  const origin = req.headers.origin;
  if (origin === undefined) return { kind: 'none' };
  if (cors === undefined) {
    // HTTP/2 names the host in `:authority`; `Host` is HTTP/1.1's.
    const host = req.headers.host ?? (req.headers[':authority'] as string | undefined);
    return isSameOrigin(origin, host) ? { kind: 'same-origin' } : { kind: 'refused', origin };
  }
  const { origins } = cors;
  if (origins === '*') return { kind: 'any', origin };
  let allowed: boolean;
  try {
    allowed = typeof origins === 'function' ? origins(origin) === true : origins.includes(origin);
  } catch {
    allowed = false;
  }
  return allowed ? { kind: 'allowed', origin } : { kind: 'refused', origin };
}

/**
 * Response headers for a verdict. Accepted cross-origin answers expose `Retry-After`, so that a
 * page can honour the delay of a `429` or `503`.
 */
export function corsHeaders(verdict: OriginVerdict): Record<string, string> {
  switch (verdict.kind) {
    case 'allowed':
      return {
        'Access-Control-Allow-Origin': verdict.origin,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Expose-Headers': 'Retry-After',
        Vary: 'Origin',
      };
    case 'any':
      return {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Expose-Headers': 'Retry-After',
        Vary: 'Origin',
      };
    case 'refused':
      return { 'Access-Control-Allow-Origin': verdict.origin, Vary: 'Origin' };
    default:
      return {};
  }
}

/** Extra headers of a preflight answer. */
export const preflightHeaders: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'authorization, content-type, last-event-id',
  'Access-Control-Max-Age': '600',
};

/** Answers a refused origin: `403` with `{"code":"origin_not_allowed"}`, readable by the page. */
export function refuseOrigin(res: ServerResponse, verdict: OriginVerdict): void {
  sendJson(res, 403, { code: 'origin_not_allowed' }, corsHeaders(verdict));
}

/** Refused origins remembered as logged; past it the memory starts over. */
const LOGGED_ORIGINS_KEPT = 1000;
/** Characters of an origin kept for the log. */
const LOGGED_ORIGIN_LENGTH = 200;

/**
 * Returns a function that logs a refused origin with `logger.warn` the first time it is seen,
 * so that a misconfigured allow-list shows up in the logs without a line per request.
 */
export function createRefusedOriginLog(logger: Logger): (origin: string) => void {
  const logged = new Set<string>();
  return (origin) => {
    const shown = origin.slice(0, LOGGED_ORIGIN_LENGTH);
    if (logged.has(shown)) return;
    if (logged.size >= LOGGED_ORIGINS_KEPT) logged.clear();
    logged.add(shown);
    logger.warn('origin not allowed', { origin: shown });
  };
}

function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
