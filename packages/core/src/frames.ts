import { ConnectionError, errorFor, httpError, type TidewireError } from './errors';
import type { ServerFrame } from './protocol';
import type { SseEnd } from './transports/sse';

const FIELDS: Record<string, string[]> = {
  welcome: [],
  ping: [],
  refresh: [],
  subscribed: ['channel'],
  event: ['channel', 'id'],
  gap: ['channel', 'reason'],
  error: ['code'],
  ack: ['ref', 'id'],
};

/**
 * Parses one frame; `undefined` when it is not JSON, has an unknown `type`, or
 * lacks a field the client relies on.
 * @internal
 */
export function parseFrame(text: unknown): ServerFrame | undefined {
  try {
    const f = JSON.parse(text as string) as Record<string, unknown> | null;
    const need = FIELDS[f?.type as string];
    if (need?.every((k) => typeof f?.[k] === 'string')) {
      if (f!.type === 'event') f!.event ??= 'message';
      return f as unknown as ServerFrame;
    }
  } catch {}
  return undefined;
}

/** @internal */
export const badMessage = (): TidewireError =>
  new ConnectionError('bad_message', 'malformed or unknown frame');

/** Why an SSE stream ended, as an error, following the HTTP status rules of PROTOCOL.md. @internal */
export function sseEndError(end: SseEnd): TidewireError {
  switch (end.kind) {
    case 'status':
      return httpError(end.status, undefined, end.retryAfterMs);
    case 'content-type':
      return new ConnectionError('bad_content_type', 'not an event stream');
    case 'too-large':
      return errorFor('too_large', `message over ${end.limit} bytes`);
    case 'network':
      return new ConnectionError('network', 'network error', { cause: end.error });
    default:
      return new ConnectionError('closed', 'stream ended');
  }
}

/** The `Authorization` header for a token, if any. @internal */
export const bearer = (token: string | undefined): Record<string, string> =>
  token === undefined ? {} : { authorization: `Bearer ${token}` };
