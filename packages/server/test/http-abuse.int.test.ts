import { connect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AuthError, type TidewireServerOptions } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { startServer, type TestServer } from './utils/server.js';

/** What a raw exchange saw, from both ends. */
interface Exchange {
  /** The status line's code, 0 when no answer came. */
  status: number;
  /** The whole answer as text. */
  answer: string;
  /** Milliseconds from the request head to the answer's first byte. */
  answeredAfterMs: number;
  /** Bytes the server read from the connection (request head included). */
  serverBytesRead: number;
  /** Whether the server closed the connection. */
  serverClosed: boolean;
}

/**
 * Sends `head` on a new connection, then body bytes from `body` (called with the socket until it
 * returns), and watches the connection from the server side. Settles once the server has closed
 * the connection, or `settleMs` after the answer (or after `giveUpMs` without one).
 */
async function exchange(
  server: TestServer,
  head: string,
  body: (socket: Socket) => Promise<void>,
  { settleMs = 2000, giveUpMs = 3000 } = {},
): Promise<Exchange> {
  const serverSide = new Promise<Socket>((resolve) => server.http.once('connection', resolve));
  const { port } = new URL(server.origin);
  const socket = connect(Number(port), '127.0.0.1');
  onTestFinished(() => {
    socket.destroy();
  });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  const peer = await serverSide;
  let serverClosed = false;
  const closed = new Promise<void>((resolve) =>
    peer.once('close', () => {
      serverClosed = true;
      resolve();
    }),
  );
  const sentAt = performance.now();
  let answer = '';
  let answeredAt: number | undefined;
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      answeredAt ??= performance.now();
      answer += chunk.toString('latin1');
      resolve();
    });
  });
  socket.write(head);
  void body(socket).catch(() => {});
  const giveUp = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  await Promise.race([answered, closed, giveUp(giveUpMs)]);
  await Promise.race([closed, giveUp(settleMs)]);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
  return {
    status,
    answer,
    answeredAfterMs: answeredAt === undefined ? Number.NaN : answeredAt - sentAt,
    serverBytesRead: peer.bytesRead,
    serverClosed,
  };
}

/** Writes zeros as fast as the connection takes them, up to `total` bytes. */
async function flood(socket: Socket, total: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  for (let sent = 0; sent < total && !socket.destroyed; sent += chunk.length) {
    if (!socket.write(chunk)) {
      await new Promise((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  }
}

const MiB = 1024 * 1024;

const publishHead = (path: string, headers: Record<string, string | number>): string => {
  const lines = Object.entries({ host: 'localhost', ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
};

describe('HTTP publish under abuse', () => {
  it('should have a documented body timeout of 10 s by default', () => {
    expect(resolveOptions({}).limits.bodyTimeoutMs).toBe(10_000);
  });

  it('should answer 408 and close a body trickled past bodyTimeoutMs', async () => {
    const server = await startServer({ limits: { bodyTimeoutMs: 300 } });
    const head = publishHead('/tidewire/publish', {
      'content-type': 'application/json',
      'content-length': 1000,
    });
    let trickled = 0;
    const result = await exchange(server, head, async (socket) => {
      // One byte every 20 ms: 1,000 bytes would take 20 s.
      while (!socket.destroyed && trickled < 1000) {
        socket.write(' ');
        trickled++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    expect(result.status).toBe(408);
    expect(result.answeredAfterMs).toBeGreaterThanOrEqual(290);
    expect(result.answeredAfterMs).toBeLessThan(1000);
    expect(result.answer).toContain('Connection: close');
    expect(result.serverClosed).toBe(true);
    expect(trickled).toBeLessThan(100);
    expect((await server.tw.stats()).channels).toEqual({});
  });

  it.each<[string, TidewireServerOptions, Record<string, string>, number]>([
    [
      'unauthorized (401)',
      {
        authenticate: () => {
          throw new AuthError('unauthorized');
        },
      },
      {},
      401,
    ],
    [
      'forbidden (403)',
      {
        authenticate: () => {
          throw new AuthError('forbidden');
        },
      },
      {},
      403,
    ],
    ['rate limited (429)', { limits: { publishRate: { perSecond: 0, burst: 0 } } }, {}, 429],
    ['from a refused origin (403)', {}, { origin: 'http://evil.example' }, 403],
    ['not JSON (415)', {}, { 'content-type': 'text/plain' }, 415],
  ])(
    'should not read the body of a publish refused as %s',
    async (_name, options, headers, status) => {
      // A body limit above what is sent, so that only the refusal can stop the reading.
      const server = await startServer({
        ...options,
        limits: { maxBodyBytes: 512 * MiB, ...options.limits },
      });
      const head = publishHead('/tidewire/publish', {
        'content-type': 'application/json',
        'content-length': 256 * MiB,
        ...headers,
      });
      const result = await exchange(server, head, (socket) => flood(socket, 256 * MiB));
      expect(result.status).toBe(status);
      expect(result.answer).toContain('Connection: close');
      expect(result.serverClosed).toBe(true);
      // Whatever was in flight when the answer went out; not the 256 MiB offered.
      expect(result.serverBytesRead).toBeLessThan(MiB);
    },
  );

  it('should not read the rest of a body over maxBodyBytes', async () => {
    const server = await startServer({ limits: { maxBodyBytes: 1024 } });
    // Chunked: the size is only found out while reading.
    const head = publishHead('/tidewire/publish', {
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    const result = await exchange(server, head, async (socket) => {
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const framed = Buffer.concat([
        Buffer.from(`${chunk.length.toString(16)}\r\n`),
        chunk,
        Buffer.from('\r\n'),
      ]);
      for (let sent = 0; sent < 256 * MiB && !socket.destroyed; sent += chunk.length) {
        if (!socket.write(framed)) await new Promise((resolve) => socket.once('drain', resolve));
      }
    });
    expect(result.status).toBe(413);
    expect(result.serverClosed).toBe(true);
    expect(result.serverBytesRead).toBeLessThan(MiB);
  });

  it('should keep the connection when a small refused body had arrived whole', async () => {
    const server = await startServer({ authenticate: () => null });
    const body = '{"channel":"a","data":1}';
    const head = publishHead('/tidewire/publish', {
      'content-type': 'application/json',
      'content-length': body.length,
    });
    const result = await exchange(server, head + body, async () => {}, { settleMs: 200 });
    expect(result.status).toBe(401);
    expect(result.serverClosed).toBe(false);
  });
});
