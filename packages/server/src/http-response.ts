import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '@tidewire/core/protocol';
import { systemTimers } from './timers.js';

/** An HTTP error answer: status, protocol code and message. */
export interface HttpFailure {
  status: number;
  code: ErrorCode;
  message: string;
  headers?: Record<string, string>;
}

const statusTexts: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** Headers every 401 carries. */
export const unauthorizedHeaders: Readonly<Record<string, string>> = {
  'WWW-Authenticate': 'Bearer error="invalid_token"',
};

/** Sends `{ code, message }` with the failure's status; see {@link sendJson} for the connection. */
export function sendFailure(
  res: ServerResponse,
  failure: HttpFailure,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(
    res,
    failure.status,
    { code: failure.code, message: failure.message },
    {
      ...extraHeaders,
      ...failure.headers,
    },
  );
}

/**
 * How long a connection whose request body is left unread stays open after the answer was
 * written. Closing at once would reset the connection under a client that is still sending,
 * and the reset can destroy the answer before the client reads it.
 */
export const UNREAD_BODY_LINGER_MS = 1000;

/**
 * Sends a JSON body.
 *
 * When the request's body has not been read to its end (an answer decided before reading it,
 * or a body cut short), the rest is never read: the answer says `Connection: close`, the
 * request stays paused (Node stops reading once its small buffer is full), and the connection
 * is closed {@link UNREAD_BODY_LINGER_MS} after the answer, or earlier by the client.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  const unread = hasUnreadBody(res.req);
  if (unread) res.shouldKeepAlive = false;
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  if (!unread) {
    res.end(text);
    return;
  }
  // The answer is complete for the client (Content-Length); ending it is what closes the socket.
  res.write(text);
  const linger = systemTimers.setTimeout(() => res.end(), UNREAD_BODY_LINGER_MS);
  res.once('close', () => systemTimers.clearTimeout(linger));
}

/** True when the request announced a body that has not been read to its end. */
function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Answers an upgrade request on its raw socket with an HTTP error, then closes it. */
export function rejectUpgrade(socket: Duplex, failure: HttpFailure): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ code: failure.code, message: failure.message });
  const headers = {
    ...failure.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  const text = statusTexts[failure.status] ?? 'Error';
  socket.end(`HTTP/1.1 ${failure.status} ${text}\r\n${lines.join('')}\r\n${body}`);
}
