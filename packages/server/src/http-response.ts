import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '@tidewire/core/protocol';

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
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** Headers every 401 carries. */
export const unauthorizedHeaders: Readonly<Record<string, string>> = {
  'WWW-Authenticate': 'Bearer error="invalid_token"',
};

/** Sends `{ code, message }` with the failure's status. */
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

/** Sends a JSON body. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
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
