import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AuthError,
  createMemoryEngine,
  createTidewireServer,
  type Engine,
  isPublishError,
  type TidewireServer,
} from '@tidewire/server';
import {
  type BuiltInChaosName,
  type ChaosResult,
  checkChaosOptions,
  createChaosBoard,
  type PlaygroundChaosOptions,
} from './chaos.js';
import { createDemo, type DemoIntervals, type Publish } from './demo.js';
import { findPlaygroundDir, readJson, sendJson, serveStatic } from './http.js';

/** Options of {@link startPlayground}. */
export interface PlaygroundOptions {
  /** Port to listen on; 0 picks a free one. @default 5173 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** The Tidewire heartbeat: short, so that a stalled stream is noticed within seconds. @default 2000 */
  heartbeatMs?: number;
  /** Lifetime of the tokens `/token` issues. @default 600000 */
  tokenTtlMs?: number;
  /** Timer periods of the demo publishers. */
  intervals?: DemoIntervals;
  /**
   * A certificate and key (PEM): serve HTTPS with HTTP/2 (and HTTP/1.1 for WebSocket upgrades)
   * instead of plain HTTP. @default none (plain HTTP)
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * The engine of the playground's Tidewire server, such as a Redis engine shared with other
   * nodes (`node scripts/cluster.mjs` does that). The playground counts what reaches it from
   * every node, does not close it, and a restart that loses history keeps it instead.
   * @default a memory engine of its own
   */
  engine?: Engine;
  /**
   * Chaos controls of the host's own, and the built-in ones that do not apply where the
   * playground runs (such as those acting on its own server while the pages' connections go to
   * other nodes). The pages show the controls `/api/stats` lists: the host's, then the built-in
   * ones that apply, and say why the others are left out.
   * @default the built-in controls only, every one of them applying
   * @example
   * startPlayground({
   *   engine,
   *   chaos: {
   *     controls: [{
   *       name: 'kill-node-1',
   *       label: 'Kill node 1',
   *       description: 'SIGKILL node 1; it starts again 2 s later',
   *       run: async () => ({ action: `Killed node 1 (pid ${await killNode(1)})` }),
   *     }],
   *     unavailable: { drop: 'the pages connect to the nodes, not to the playground' },
   *   },
   * });
   */
  chaos?: PlaygroundChaosOptions;
  /**
   * Counts the pages' connections for `/api/stats` (the top bar), where they do not reach the
   * playground's own Tidewire server, such as the nodes of a cluster. A count that fails shows as
   * none.
   * @default the playground's own server's connections
   */
  connections?: () => Promise<ConnectionCounts>;
}

/** Open connections of each transport, as the top bar shows them. */
export interface ConnectionCounts {
  sse: number;
  websocket: number;
}

export type {
  BuiltInChaosName,
  ChaosControl,
  ChaosResult,
  ChaosTone,
  PlaygroundChaosOptions,
} from './chaos.js';

/** A running playground. */
export interface Playground {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  readonly port: number;
  /** Events accepted on `channel` since the playground started, whatever their source. */
  published(channel: string): number;
  /** Stops (and restarts) the demo publishers, so that counts can settle. */
  pause(): void;
  resume(): void;
  /** Stops the publishers, the Tidewire server and the HTTP server. */
  close(): Promise<void>;
}

/** How many of each channel's newest ids are kept for `/api/start`. */
const RECENT = 64;

interface Token {
  user: string;
  expiresAt: number;
}

/**
 * Starts the playground: the pages, the built packages, `/token`, the demo API,
 * the chaos controls and a Tidewire server at `/tidewire`, all on one port.
 * @throws {TypeError} when a chaos control of `options.chaos` has a malformed or taken name, or
 * `options.chaos.unavailable` names no built-in control.
 * @example
 * const pg = await startPlayground({ port: 0 });
 * console.log(pg.url);
 * await pg.close();
 */
export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  const {
    port = 5173,
    host = '127.0.0.1',
    heartbeatMs = 2000,
    tokenTtlMs = 600_000,
    intervals,
  } = options;
  const dir = findPlaygroundDir(import.meta.url);
  // The host's chaos options are checked before anything starts: a mistake leaves nothing running.
  const chaosOptions = checkChaosOptions(options.chaos);

  /** Per channel: events accepted, and the ids of the newest ones (for `/api/start`). */
  const published = new Map<string, { count: number; lastId: string; recent: string[] }>();
  const tokens = new Map<string, Token>();
  let tokensIssued = 0;
  let restarts = 0;
  let webSocketEnabled = true;
  /** An engine passed in is shared: the playground neither replaces nor closes it. */
  const shared = options.engine;
  let engine: Engine = shared ?? createMemoryEngine();

  /**
   * Counts every event the engine delivers, whoever published it: on a shared engine, chat
   * messages sent through another node count too.
   */
  const count = (target: Engine): (() => void) =>
    target.listen({
      event({ channel, id }) {
        const entry = published.get(channel);
        if (entry === undefined) published.set(channel, { count: 1, lastId: id, recent: [id] });
        else {
          entry.count += 1;
          entry.lastId = id;
          entry.recent.push(id);
          if (entry.recent.length > RECENT) entry.recent.shift();
        }
      },
      reset() {
        // A failover lost events this process had counted: pages resume and get a gap.
      },
    });
  let uncount = count(engine);

  const makeServer = (): TidewireServer => {
    const tw = createTidewireServer<string>({
      engine,
      heartbeatMs,
      authenticate(token) {
        const entry = token === undefined ? undefined : tokens.get(token);
        if (entry === undefined) return null;
        if (entry.expiresAt <= Date.now()) throw new AuthError('token_expired');
        return { principal: entry.user, expiresAt: entry.expiresAt };
      },
      // Pages may read every channel; only the chat takes events from browsers.
      authorize: (_user, channel, action) => action === 'subscribe' || channel === 'chat',
    });
    tw.setWebSocketEnabled(webSocketEnabled);
    return tw;
  };
  let tw = makeServer();

  const publish: Publish = async (channel, data, type) => {
    try {
      return (await tw.publish(channel, data, type === undefined ? {} : { type })).id;
    } catch (error) {
      // Restarting, or (a shared engine) Redis unavailable for a moment: skipped, not counted.
      if (
        isPublishError(error) &&
        (error.code === 'shutting_down' || error.code === 'unavailable')
      ) {
        return undefined;
      }
      throw error;
    }
  };
  const demo = createDemo(publish, intervals);
  demo.seed();
  demo.resume();

  /** A new Tidewire server on the same port; the old one's clients reconnect to it. */
  const restart = async (keepHistory: boolean): Promise<void> => {
    const old = tw;
    const oldEngine = engine;
    if (!keepHistory) {
      uncount();
      engine = createMemoryEngine();
      uncount = count(engine);
      // Positions of the old history would only get new pages a gap.
      for (const entry of published.values()) entry.recent = [];
    }
    tw = makeServer();
    restarts += 1;
    if (!keepHistory) demo.seed('I restarted with an empty history: your client got a gap.');
    await old.close();
    // The playground made it, so the playground closes it once no server uses it.
    if (!keepHistory) await oldEngine.close();
  };

  const issueToken = (): string => {
    const now = Date.now();
    for (const [key, entry] of tokens) if (entry.expiresAt < now - 60_000) tokens.delete(key);
    const token = randomBytes(18).toString('base64url');
    tokens.set(token, { user: `guest-${token.slice(0, 4)}`, expiresAt: now + tokenTtlMs });
    tokensIssued += 1;
    return token;
  };

  const builtIn: Record<BuiltInChaosName, () => ChaosResult | Promise<ChaosResult>> = {
    drop: () => ({ action: 'Dropped every connection', affected: tw.disconnectAll() }),
    // Refusing upgrades affects new sockets only, so the open ones are dropped too, as
    // a proxy that starts blocking WebSocket would.
    'block-websocket': () => {
      webSocketEnabled = false;
      tw.setWebSocketEnabled(false);
      return {
        action: 'WebSocket blocked (503), connections dropped',
        affected: tw.disconnectAll(),
      };
    },
    'allow-websocket': () => {
      webSocketEnabled = true;
      tw.setWebSocketEnabled(true);
      return { action: 'WebSocket upgrades allowed' };
    },
    'expire-tokens': () => {
      const now = Date.now();
      for (const entry of tokens.values()) entry.expiresAt = Math.min(entry.expiresAt, now);
      return { action: 'Expired every token', affected: tw.expireCredentials() };
    },
    stall: () => ({ action: 'Stalled every stream', affected: tw.stallConnections() }),
    'restart-kept': async () => {
      await restart(true);
      return { action: 'Restarted the server, history kept' };
    },
    'restart-lost': async () => {
      // A shared engine is not the playground's to replace: its history stays.
      await restart(shared !== undefined);
      return {
        action: shared
          ? 'Restarted the server, history kept (the engine is shared)'
          : 'Restarted the server, history lost',
      };
    },
    pause: () => {
      demo.pause();
      return { action: 'Publishers paused' };
    },
    resume: () => {
      demo.resume();
      return { action: 'Publishers resumed' };
    },
  };
  const chaos = createChaosBoard({ builtIn, chaos: chaosOptions });

  const stats = async (url: URL) => {
    const channels: Record<string, { published: number; lastId: string | undefined }> = {};
    for (const name of url.searchParams.getAll('channel')) {
      const entry = published.get(name);
      channels[name] = { published: entry?.count ?? 0, lastId: entry?.lastId };
    }
    return {
      epoch: engine.epoch,
      restarts,
      webSocketEnabled,
      paused: demo.paused,
      tokensIssued,
      heartbeatMs,
      connections: options.connections
        ? await options.connections().catch(() => ({ sse: 0, websocket: 0 }))
        : (await tw.stats()).connections,
      channels,
      chaos: chaos.log,
      controls: chaos.listed({ webSocketEnabled, paused: demo.paused }),
      unavailable: chaos.unavailable,
    };
  };

  /**
   * `?metrics=39&chat=20`: for each channel, the position a page should subscribe from
   * to get (up to) that many recent events first, and how many events the server had
   * published up to that position (the page counts from there).
   */
  const starts = (url: URL) => {
    const out: Record<string, { since: string | undefined; baseline: number }> = {};
    for (const [channel, value] of url.searchParams) {
      const entry = published.get(channel);
      if (entry === undefined || entry.recent.length === 0) {
        out[channel] = { since: undefined, baseline: entry?.count ?? 0 };
        continue;
      }
      const back = Math.min(Math.max(0, Number(value) || 0), entry.recent.length - 1);
      out[channel] = {
        since: entry.recent[entry.recent.length - 1 - back],
        baseline: entry.count - back,
      };
    }
    return out;
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const { pathname } = url;
    const post = req.method === 'POST';
    if (pathname === '/token' && post) {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' });
      res.end(issueToken());
    } else if (pathname === '/api/stats' && req.method === 'GET') {
      sendJson(res, 200, await stats(url));
    } else if (pathname === '/api/start' && req.method === 'GET') {
      sendJson(res, 200, starts(url));
    } else if (pathname === '/api/jobs' && post) {
      sendJson(res, 200, await demo.startJob());
    } else if (pathname === '/api/completions' && post) {
      const body = await readJson(req);
      const prompt = typeof body?.prompt === 'string' ? body.prompt : '';
      sendJson(res, 200, await demo.startCompletion(prompt));
    } else if (pathname.startsWith('/api/chaos/') && post) {
      const reply = await chaos.run(decodeURIComponent(pathname.slice('/api/chaos/'.length)));
      sendJson(res, reply.status, reply.body);
    } else {
      return false;
    }
    return true;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/tidewire' || url.pathname.startsWith('/tidewire/')) {
      tw.handleRequest(req, res);
      return;
    }
    api(req, res, url)
      .then((handled) => {
        if (!handled) serveStatic(dir, req, res, url);
      })
      .catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: String(error) });
        else res.destroy();
      });
  };
  // Over TLS the pages and SSE streams share one HTTP/2 connection per browser; the HTTP/2
  // compatibility request and response have what the handlers use.
  const server: Server =
    options.tls === undefined
      ? createServer(handle)
      : (createSecureServer(
          { ...options.tls, allowHTTP1: true },
          handle as unknown as Parameters<typeof createSecureServer>[1],
        ) as unknown as Server);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!tw.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  if (!existsSync(`${dir}/dist/react.js`)) {
    console.warn('[playground] the page bundles are missing: run `pnpm build` first');
  }

  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${shownHost}:${actualPort}/`,
    port: actualPort,
    published: (channel) => published.get(channel)?.count ?? 0,
    pause: () => demo.pause(),
    resume: () => demo.resume(),
    close() {
      closing ??= (async () => {
        demo.stop();
        await tw.close();
        uncount();
        if (shared === undefined) await engine.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // An HTTP/2 server has no closeAllConnections: its sessions end with the close.
          server.closeAllConnections?.();
        });
      })();
      return closing;
    },
  };
}
