// Shared by the SSE transport tests that run against a real HTTP server on 127.0.0.1.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SseHandlers } from '../../src/transports/sse';
import { received, type SseEnd, type SseReceived, sseEnd } from '../helpers';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** One raw HTTP server at a time, and the streams to close after each test. */
export function loopback() {
  let server: Server | undefined;
  const closers: Array<() => void> = [];
  const stop = async (): Promise<void> => {
    if (!server) return;
    const s = server;
    server = undefined;
    s.closeAllConnections();
    s.close();
    await once(s, 'close');
  };
  return {
    /** Starts the server and returns its base URL; `preflight` answers OPTIONS with those headers. */
    async serve(handler: Handler, preflight?: Record<string, string>): Promise<string> {
      const s = createServer((req, res) => {
        if (preflight && req.method === 'OPTIONS') return void res.writeHead(204, preflight).end();
        handler(req, res);
      });
      server = s;
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    },
    /** Remembers a stream's closer so `cleanup` runs it. */
    track(close: () => void): () => void {
      closers.push(close);
      return close;
    },
    /** Stops the server now (its connections included). */
    stop,
    /** Closes every tracked stream, then the server: for afterEach. */
    async cleanup(): Promise<void> {
      for (const close of closers.splice(0)) close();
      await stop();
    },
  };
}

/** Handlers that record what a stream reports. */
export function recorder() {
  const messages: SseReceived[] = [];
  let resolveEnd!: (end: SseEnd) => void;
  const ended = new Promise<SseEnd>((resolve) => {
    resolveEnd = resolve;
  });
  let opened = 0;
  const handlers: SseHandlers = {
    onOpen: () => {
      opened++;
    },
    onMessage: (message) => messages.push(received(message)),
    onRetry: () => {},
    onActivity: () => {},
    onEnd: (error) => resolveEnd(sseEnd(error)),
  };
  return { messages, ended, handlers, opened: () => opened };
}

/** Resolves when `check` passes, polling every few milliseconds (bounded by the test timeout). */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}
