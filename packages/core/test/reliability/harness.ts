import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { createTcpProxy, type TcpProxy } from '../../../../testing/tcp-proxy';
import {
  createMemoryEngine,
  createTidewireServer,
  type TidewireServer,
  type TidewireServerOptions,
} from '../../../server/src/index';
import { type Client, type ClientOptions, createClient } from '../../src/client';
import type { Environment } from '../../src/environment';
import type { WebSocketConstructor } from '../../src/transports/websocket';

/** What the server saw: every request and upgrade, with its URL and headers. */
export interface LoggedRequest {
  kind: 'request' | 'upgrade';
  url: string;
  headers: IncomingMessage['headers'];
}

/** Every line either logger received, so tests can look for tokens in them. */
export const logLines: string[] = [];
const serverLogger = {
  warn: (...a: unknown[]) => logLines.push(a.map(String).join(' ')),
  error: (...a: unknown[]) => logLines.push(a.map(String).join(' ')),
};

/** A Tidewire server on its own http server, logging every request before Tidewire sees it. */
export interface Node {
  tw: TidewireServer;
  http: Server;
  port: number;
  url: string;
  log: LoggedRequest[];
  stop(): Promise<void>;
}

export async function startNode(
  options: TidewireServerOptions = {},
  log: LoggedRequest[] = [],
  /** Serves the paths outside Tidewire's (attach() hands them to it). */
  app?: RequestListener,
) {
  const tw = createTidewireServer({ logger: serverLogger, ...options });
  const http = createServer(app);
  tw.attach(http);
  // Prepended after attach() (which takes over the request listeners there were), so the log
  // sees every request and upgrade first, as a reverse proxy's access log would.
  http.prependListener('request', (req) =>
    log.push({ kind: 'request', url: req.url ?? '', headers: req.headers }),
  );
  http.prependListener('upgrade', (req) =>
    log.push({ kind: 'upgrade', url: req.url ?? '', headers: req.headers }),
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const node: Node = {
    tw,
    http,
    port,
    url: `http://127.0.0.1:${port}/tidewire`,
    log,
    async stop() {
      await tw.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
  return node;
}

/** A server behind a chaos proxy; `restart()` swaps in a new server on the same history. */
export interface Rig {
  node: Node;
  proxy: TcpProxy;
  /** The base URL through the proxy. */
  url: string;
  log: LoggedRequest[];
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function createRig(options: TidewireServerOptions = {}): Promise<Rig> {
  const engine = options.engine ?? createMemoryEngine();
  const log: LoggedRequest[] = [];
  const first = await startNode({ ...options, engine }, log);
  const proxy = await createTcpProxy({ targetPort: first.port });
  const rig: Rig = {
    node: first,
    proxy,
    url: `http://127.0.0.1:${proxy.port}/tidewire`,
    log,
    async restart() {
      const old = rig.node;
      rig.node = await startNode({ ...options, engine }, log);
      proxy.setTarget(rig.node.port);
      await old.stop();
    },
    async stop() {
      await proxy.close();
      await rig.node.stop();
    },
  };
  return rig;
}

/** Client timers through a counting environment: `live()` is how many are still pending. */
export function countingEnvironment(): { environment: Partial<Environment>; live(): number } {
  const pending = new Set<ReturnType<typeof setTimeout>>();
  return {
    environment: {
      setTimeout(fn, ms) {
        const t = setTimeout(() => {
          pending.delete(t);
          fn();
        }, ms);
        pending.add(t);
        return t;
      },
      clearTimeout(h) {
        pending.delete(h as ReturnType<typeof setTimeout>);
        clearTimeout(h as ReturnType<typeof setTimeout>);
      },
    },
    live: () => pending.size,
  };
}

/** Node's fetch, counting requests that have not settled and streams not aborted. */
export function countingFetch() {
  let pending = 0;
  const signals: AbortSignal[] = [];
  const counted: typeof fetch = (input, init) => {
    pending++;
    if (init?.signal) signals.push(init.signal);
    return fetch(input, init).finally(() => pending--);
  };
  return {
    fetch: counted,
    pending: () => pending,
    /** Requests whose signal was never aborted (a stream still being read, or a finished POST). */
    unaborted: () => signals.filter((s) => !s.aborted).length,
  };
}

export const TOKEN_PREFIX = 'tok-s3cr3t-';

/** Accepts any token with the secret prefix. */
export const authenticate = (token: string | undefined) =>
  token?.startsWith(TOKEN_PREFIX) ? { principal: token.slice(TOKEN_PREFIX.length) } : null;

const clients = new Set<Client>();

/** A Node client (ws + fetch) with fast retries, a token and the given extras. */
export function connect<M extends Record<string, unknown>>(
  url: string,
  options: Partial<ClientOptions> = {},
): Client<M> {
  const client = createClient<M>({
    url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    getToken: () => `${TOKEN_PREFIX}${Math.random().toString(36).slice(2)}`,
    retryDelay: ({ attempt }) => Math.min(10 * 2 ** attempt, 250),
    closeDelay: 0,
    connectTimeout: 2000,
    ...options,
  });
  clients.add(client as Client);
  return client;
}

export function closeClients() {
  for (const c of clients) c.close();
  clients.clear();
}

export { sleep, until } from '../int-server';

/** A seeded generator, so a failing chaos run can be replayed with its seed. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
