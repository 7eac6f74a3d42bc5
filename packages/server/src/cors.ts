import type { IncomingMessage } from 'node:http';

/** Which cross-origin pages may connect. */
export interface CorsOptions {
  /**
   * Allowed origins: a list such as `['https://app.example.com']`, `'*'` for any origin
   * (echoed back, so credentials still work), or a predicate.
   */
  origins: readonly string[] | '*' | ((origin: string) => boolean);
}

/** The verdict on a request's `Origin`. */
export type OriginVerdict =
  | { kind: 'none' }
  | { kind: 'same-origin' }
  | { kind: 'allowed'; origin: string }
  | { kind: 'refused'; origin: string };

/**
 * Judges the `Origin` of a request. Without CORS options only same-origin requests
 * (Origin host equal to the Host header) and requests without an Origin are accepted.
 */
export function checkOrigin(req: IncomingMessage, cors: CorsOptions | undefined): OriginVerdict {
  const origin = req.headers.origin;
  if (origin === undefined) return { kind: 'none' };
  if (isSameOrigin(origin, req.headers.host)) return { kind: 'same-origin' };
  if (cors === undefined) return { kind: 'refused', origin };
  const { origins } = cors;
  let allowed: boolean;
  try {
    allowed =
      origins === '*' ||
      (typeof origins === 'function' ? origins(origin) : origins.includes(origin));
  } catch {
    allowed = false;
  }
  return allowed ? { kind: 'allowed', origin } : { kind: 'refused', origin };
}

/** Response headers for an accepted request. */
export function corsHeaders(verdict: OriginVerdict): Record<string, string> {
  if (verdict.kind !== 'allowed') return {};
  return {
    'Access-Control-Allow-Origin': verdict.origin,
    'Access-Control-Allow-Credentials': 'true',
    Vary: 'Origin',
  };
}

/** Extra headers of a preflight answer. */
export const preflightHeaders: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'authorization, content-type, last-event-id',
  'Access-Control-Max-Age': '600',
};

function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
