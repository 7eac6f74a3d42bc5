import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vi } from 'vitest';
import WebSocket from 'ws';
import {
  createTidewireServer,
  type TidewireServer,
  type TidewireServerOptions,
} from '../../server/src/index';
import { type Client, type ClientOptions, createClient } from '../src/client';
import type { WebSocketConstructor } from '../src/transports/websocket';

const quiet = { warn() {}, error() {} };

/** A Tidewire server on 127.0.0.1 that can be stopped and started again on the same port. */
export interface TestServer {
  tw: TidewireServer;
  url: string;
  stop(): Promise<void>;
  /** Starts a fresh server (same options, same engine) on the same port. */
  restart(): Promise<void>;
}

async function listen(options: TidewireServerOptions, port: number) {
  const tw = createTidewireServer({ logger: quiet, ...options });
  const http: Server = createServer();
  tw.attach(http);
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return { tw, http, port: (http.address() as AddressInfo).port };
}

const running = new Set<() => Promise<void>>();
const clients = new Set<Client>();

export async function startServer(options: TidewireServerOptions = {}): Promise<TestServer> {
  let cur = await listen(options, 0);
  const stop = async () => {
    const { tw, http } = cur;
    await tw.close();
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  };
  running.add(stop);
  const s: TestServer = {
    tw: cur.tw,
    url: `http://127.0.0.1:${cur.port}/tidewire`,
    stop,
    async restart() {
      cur = await listen(options, cur.port);
      s.tw = cur.tw;
    },
  };
  return s;
}

/** A client wired for Node: `ws` and global fetch, fast retries. */
export function connect<M extends Record<string, unknown>>(
  url: string,
  options: Partial<ClientOptions> = {},
): Client<M> {
  const client = createClient<M>({
    url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    retryDelay: ({ attempt }) => 20 * attempt,
    closeDelay: 0,
    ...options,
  });
  clients.add(client as Client);
  return client;
}

/** Closes every client and server of the test. */
export async function cleanup() {
  for (const c of clients) c.close();
  clients.clear();
  for (const stop of running) await stop();
  running.clear();
}

export const until = (fn: () => unknown, timeout = 5000) =>
  vi.waitFor(
    async () => {
      if (!(await fn())) throw new Error('not yet');
    },
    { timeout, interval: 10 },
  );

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
