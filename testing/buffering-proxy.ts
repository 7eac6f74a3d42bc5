import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of {@link createBufferingProxy}. */
export interface BufferingProxyOptions {
  /** Where requests are forwarded: a port on 127.0.0.1. */
  targetPort: number;
  /**
   * `false` (the default) passes the response's headers at once and holds its body until it
   * ends, as nginx with `proxy_buffering on` does for a quiet stream; `true` holds the headers too
   * and sends the whole response with a `Content-Length`, as TLS-scanning antivirus does.
   */
  holdHeaders?: boolean;
}

/** A loopback HTTP proxy that buffers each response whole; WebSocket upgrades are refused. */
export interface BufferingProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** Requests forwarded so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * Starts an HTTP proxy that holds every response body until the upstream ends it: a stream
 * whose server never ends it delivers nothing through it, a response that ends (a poll) is
 * delivered whole.
 */
export async function createBufferingProxy(
  options: BufferingProxyOptions,
): Promise<BufferingProxy> {
  const { targetPort, holdHeaders = false } = options;
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const upstream = request(
      {
        host: '127.0.0.1',
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        if (!holdHeaders) res.writeHead(status, answer.headers).flushHeaders();
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          if (holdHeaders) {
            const headers = { ...answer.headers, 'content-length': String(body.length) };
            delete headers['transfer-encoding'];
            res.writeHead(status, headers);
          }
          res.end(body);
        });
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  // Any upgrade (WebSocket) is refused, as a proxy that does not forward them.
  server.on('upgrade', (_req, socket) => {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
