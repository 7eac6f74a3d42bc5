// A server that is down, for the server-down tests (Node and Chromium): every TCP connection is
// accepted, its request read and the socket destroyed, so fetch and WebSocket both fail with
// network errors. It counts each connection: the honest measure of how hard a client knocks.
import { type AddressInfo, createServer, type Socket } from 'node:net';
import type { ExpectStatic } from 'vitest';

/** How long each scenario watches the client. */
export const WINDOW_MS = 15_000;
/** The ceiling of attempts in that window: full jitter from 1 s to 30 s makes about 5–7. */
export const MAX_ATTEMPTS = 12;
/** The default policy's largest delay. */
export const MAX_DELAY_MS = 30_000;

export type Kind = 'sse' | 'websocket' | 'other';
export type Counts = Record<Kind | 'total' | 'preflight', number>;

/** A `node:net` server on 127.0.0.1 that refuses service by destroying every connection. */
export interface DownServer {
  /** The base URL a client is given. */
  url: string;
  /** Connections accepted so far: in all, by the kind of request they carried, and CORS preflights. */
  counts(): Counts;
  close(): Promise<void>;
}

/** Tells a Tidewire request from its request line and headers. */
const kindOf = (head: string): Kind => {
  if (/^upgrade:\s*websocket/im.test(head) || /^GET \/tidewire\/ws[ ?]/.test(head))
    return 'websocket';
  return /^(GET|OPTIONS) \/tidewire\/sse[ ?]/.test(head) ? 'sse' : 'other';
};

export async function startDownServer(): Promise<DownServer> {
  const counts: Counts = { total: 0, sse: 0, websocket: 0, other: 0, preflight: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    counts.total++;
    sockets.add(socket);
    let head = '';
    let done = false;
    // Destroy once the request line and headers are in (or nothing more comes).
    const finish = () => {
      if (done) return;
      done = true;
      counts[kindOf(head)]++;
      if (head.startsWith('OPTIONS ')) counts.preflight++;
      socket.destroy();
    };
    socket.setEncoding('latin1');
    socket.setTimeout(500, finish);
    socket.on('data', (chunk: string) => {
      head += chunk;
      if (head.includes('\r\n\r\n') || head.length > 16_384) finish();
    });
    socket.on('end', finish);
    socket.on('error', finish);
    socket.on('close', () => {
      finish();
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/tidewire`,
    counts: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What a scenario saw, for {@link expectPolite}. */
export interface Politeness {
  /** Connections the server counted. */
  attempts: number;
  /** `getToken` calls. */
  tokens: number;
  /** The delay of every `waiting` state. */
  delays: (number | undefined)[];
  /** Pairs of states in which the attempt number went down, described. */
  decreases: string[];
}

/** The bounds every scenario holds, as soft expectations so one run reports them all. */
export function expectPolite(
  expect: ExpectStatic,
  { attempts, tokens, delays, decreases }: Politeness,
) {
  // It does retry (a client that gave up would pass the ceiling trivially)…
  expect.soft(attempts, 'connection attempts').toBeGreaterThanOrEqual(2);
  // …but no harder than the backoff allows.
  expect.soft(attempts, 'connection attempts').toBeLessThanOrEqual(MAX_ATTEMPTS);
  expect.soft(tokens, 'getToken calls').toBeLessThanOrEqual(attempts + 1);
  expect
    .soft(
      delays.filter((d) => !(d !== undefined && Number.isFinite(d) && d >= 0 && d <= MAX_DELAY_MS)),
      'waiting delays outside [0, 30000]',
    )
    .toEqual([]);
  expect
    .soft(decreases.length, `attempt numbers that went down (${decreases.slice(0, 3).join('; ')})`)
    .toBe(0);
}
