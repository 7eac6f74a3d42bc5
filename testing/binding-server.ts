import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vi } from 'vitest';
import { type Client, type ClientOptions, createClient } from '../packages/core/src/index';
import {
  createTidewireServer,
  type TidewireServer,
  type TidewireServerOptions,
} from '../packages/server/src/index';

/** A real Tidewire server on 127.0.0.1 that allows happy-dom's page origin. */
export interface TestServer {
  tw: TidewireServer;
  url: string;
}

const stops = new Set<() => Promise<void>>();
const clients = new Set<Client>();

export async function startServer(options: TidewireServerOptions = {}): Promise<TestServer> {
  const tw = createTidewireServer({
    path: '/tidewire',
    cors: { origins: [location.origin] },
    logger: { warn() {}, error() {} },
    ...options,
  });
  const http: Server = createServer();
  tw.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  stops.add(async () => {
    await tw.close();
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  });
  const { port } = http.address() as AddressInfo;
  return { tw, url: `http://127.0.0.1:${port}/tidewire` };
}

const timersOf = new WeakMap<Client, Set<unknown>>();

/**
 * A client on happy-dom's own fetch and WebSocket, with fast retries, a short
 * closeDelay, and its timers counted (see {@link pendingTimers}).
 */
export function connect<M extends Record<string, unknown>>(
  url: string,
  options: Partial<ClientOptions> = {},
): Client<M> {
  const timers = new Set<unknown>();
  const client = createClient<M>({
    url,
    retryDelay: ({ attempt }) => 20 * attempt,
    closeDelay: 50,
    ...options,
    environment: {
      setTimeout(callback, ms) {
        const t = setTimeout(() => {
          timers.delete(t);
          callback();
        }, ms);
        timers.add(t);
        return t;
      },
      clearTimeout(t) {
        timers.delete(t);
        clearTimeout(t as ReturnType<typeof setTimeout>);
      },
      ...options.environment,
    },
  });
  timersOf.set(client as Client, timers);
  clients.add(client as Client);
  return client;
}

/** How many timers the client has armed and not yet run or cleared. */
export const pendingTimers = (client: Client): number => timersOf.get(client)?.size ?? 0;

/** Closes every client, then every server, of the test. */
export async function cleanup(): Promise<void> {
  for (const c of clients) c.close();
  clients.clear();
  for (const stop of stops) await stop();
  stops.clear();
}

export const until = (fn: () => unknown, timeout = 5000): Promise<void> =>
  vi.waitFor(
    async () => {
      if (!(await fn())) throw new Error('not yet');
    },
    { timeout, interval: 10 },
  );

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
