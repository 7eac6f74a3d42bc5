import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Duplex } from 'node:stream';
import { DEFAULT_EVENT_TYPE } from '@tidewire/core/protocol';
import { WebSocketServer } from 'ws';
import { createConnectionRegistry } from './connections.js';
import type { ServerContext } from './context.js';
import {
  checkOrigin,
  corsHeaders,
  createRefusedOriginLog,
  type OriginVerdict,
  preflightHeaders,
  refuseOrigin,
} from './cors.js';
import type { EngineHealth } from './engine/engine.js';
import { type HttpFailure, rejectUpgrade, sendFailure, sendJson } from './http-response.js';
import { createHub } from './hub.js';
import { exceedsBytes, isValidChannel, isValidEventType, serializeData } from './limits.js';
import { createLimitLog } from './logger.js';
import { resolveOptions, type TidewireServerOptions } from './options.js';
import { PublishError } from './publish-error.js';
import { handlePublish } from './publish-http.js';
import { createReadiness } from './readiness.js';
import { handleSse } from './sse.js';
import { serveWebSocket } from './websocket.js';

/** Options of {@link TidewireServer.publish}. */
export interface PublishOptions {
  /** The application event type. @default 'message' */
  type?: string;
}

/** What {@link TidewireServer.publish} returns. */
export interface PublishResult {
  /** The id (position) the event received. */
  id: string;
}

/** What a node knows of its engine: with a shared engine, its view of the cluster. */
export interface EngineStats {
  /** The epoch of the history this node follows; it changes after a failover. */
  epoch: string;
  /**
   * The newest position delivered to this node (`<epoch>-<seq>`). Nodes of one cluster that
   * are healthy stand within a few events of each other: one far behind is lagging.
   */
  position: string;
  /** The engine's health, as `GET {path}/ready` reports it. */
  health: EngineHealth;
  /**
   * Milliseconds the engine has been not ready, while it is not; after `staleAfterMs` of it
   * the server ends its connections.
   */
  notReadyForMs?: number;
}

/** Counters returned by {@link TidewireServer.stats}. */
export interface ServerStats {
  /** Open connections of each transport. */
  connections: { sse: number; websocket: number };
  /** Channel subscriptions across all connections. */
  subscriptions: number;
  /**
   * Every channel with subscribers or history. `history` (events kept) and `lastId` come from
   * the engine: both are missing when it could not answer (see `engine.health`), and the
   * channels listed are then those with subscribers.
   */
  channels: Record<string, { subscribers: number; lastId?: string; history?: number }>;
  /** The engine's epoch, position and health. */
  engine: EngineStats;
}

/** Options of {@link TidewireServer.disconnectAll}. */
export interface DisconnectOptions {
  /**
   * `true`: end SSE streams and close WebSockets with 1001. `false`: destroy every
   * socket at once, as a network failure would.
   * @default false
   */
  graceful?: boolean;
}

/** A Tidewire server: endpoints, publishing, stats and lifecycle. */
export interface TidewireServer {
  /**
   * Serves `{path}/*` requests and WebSocket upgrades of an `http.Server` or `https.Server`,
   * or of a `node:http2` secure server created with `allowHTTP1: true` (SSE and publish over
   * HTTP/2, WebSocket upgrades over HTTP/1.1). Other paths go to the server's own request
   * listeners. Returns the disposer that detaches it.
   */
  attach(server: Server | Http2SecureServer): () => void;
  /** Connect/Express middleware: serves `{path}/*`, calls `next()` for anything else. */
  handleRequest(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** Serves a WebSocket upgrade. Returns false (and leaves the socket alone) outside `{path}`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * Publishes an event to every subscriber of `channel` and keeps it in history. Resolves
   * once the engine stored it (subscribers of this node have it queued by then).
   * Rejects with a {@link PublishError}: `invalid_channel`, `bad_request` (an invalid type,
   * data without a JSON form), `too_large`, `shutting_down`, or `unavailable` when the
   * engine cannot store it.
   */
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Connections and subscriptions right now, the engine's epoch, position and health, and
   * every channel with subscribers or (when the engine can list them) history, with what the
   * engine keeps of it. Resolves even when the engine cannot answer: the history figures are
   * then missing.
   */
  stats(): Promise<ServerStats>;
  /** Drops every connection without stopping the server. Returns how many were dropped. */
  disconnectAll(options?: DisconnectOptions): number;
  /**
   * Ends every connection as if its credential had expired just now: WebSockets are closed
   * with 4401 `token_expired`, SSE streams get an `error` frame `token_expired` and end.
   * Clients refresh their token and resume. Returns how many connections were ended.
   * (The credentials themselves are the `authenticate` hook's business: refuse the old
   * tokens there if they must not be accepted again.)
   */
  expireCredentials(): number;
  /**
   * Stops writing to every open connection, heartbeats included, without closing it, as a
   * stuck proxy or a half-open TCP connection would: clients must notice through their
   * heartbeat watchdog. New connections are not affected; a stalled one is cleaned up when
   * its client closes it (or by `close()`). Returns how many connections were stalled.
   * Meant for chaos testing and demos.
   */
  stallConnections(): number;
  /** `false` refuses WebSocket upgrades with 503, so that clients fall back to SSE. */
  setWebSocketEnabled(enabled: boolean): void;
  /**
   * Ends every stream, closes every socket with 1001, clears every timer and stops listening
   * to the engine, which it closes when it created it. Idempotent.
   */
  close(): Promise<void>;
}

type Endpoint = 'sse' | 'ws' | 'publish' | 'ready' | 'live' | 'unknown';

/** The endpoints `endpointOf` knows, after the base path. */
const ENDPOINTS = new Set(['/sse', '/ws', '/publish', '/ready', '/live']);

/** The answer to a stream or upgrade while the engine is not ready. */
const engineUnavailable: HttpFailure = {
  status: 503,
  code: 'unavailable',
  message: 'history is unavailable',
  headers: { 'Retry-After': '1' },
};

/**
 * Creates a Tidewire server. It does not listen by itself: attach it to an
 * `http.Server` or mount `handleRequest`/`handleUpgrade`.
 * @example
 * const tw = createTidewireServer({ authenticate: async (token) => verify(token) });
 * const server = http.createServer();
 * tw.attach(server);
 * server.listen(8080);
 * await tw.publish('prices', { price: 101.5 }, { type: 'tick' });
 */
export function createTidewireServer<P = unknown>(
  options: TidewireServerOptions<P> = {},
): TidewireServer {
  const resolved = resolveOptions(options);
  const { logger, limits, engine } = resolved;
  const connections = createConnectionRegistry();
  const hub = createHub(engine, {
    logger,
    onReset(reason) {
      const all = connections.all();
      logger.warn('engine reset: ending every connection so that clients resume', {
        reason,
        connections: all.length,
      });
      for (const connection of all) connection.end('restart');
    },
  });
  const logRefusedOrigin = createRefusedOriginLog(logger);
  /** The answer to a stream or upgrade beyond `maxConnections`. */
  const tooManyConnections: HttpFailure = {
    status: 503,
    code: 'unavailable',
    message: `at most ${limits.maxConnections} connections`,
    headers: { 'Retry-After': '5' },
  };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  let closing: Promise<void> | undefined;
  let isClosing = false;
  let webSocketEnabled = true;
  // A node whose engine stays not ready (it lost Redis) sheds its connections: their clients
  // move to a node that is ready and resume there by position.
  const readiness = createReadiness({
    engine,
    staleAfterMs: resolved.staleAfterMs,
    timers: resolved.timers,
    now: resolved.now,
    onStale(health, since) {
      if (isClosing) return;
      const all = connections.all();
      if (all.length === 0) return;
      logger.warn('engine not ready for too long: ending every connection so that clients move', {
        reason: health.reason,
        notReadyForMs: resolved.now() - since,
        connections: all.length,
      });
      for (const connection of all) connection.end('restart');
    },
  });

  const logLimit = createLimitLog(logger, resolved.now);
  const ctx: ServerContext<P> = {
    options: resolved,
    hub,
    connections,
    logLimit,
    isClosing: () => isClosing,
    async publish({ channel, event, dataJson, data }, principal, source) {
      let id: string;
      try {
        ({ id } = await hub.publish({ channel, event, dataJson }));
      } catch (error) {
        logger.warn('publish failed: the engine could not store the event', {
          channel,
          source,
          error: String(error),
        });
        throw new PublishError('unavailable', 'the event could not be stored', { cause: error });
      }
      try {
        resolved.onPublish?.({ channel, id, event, data, principal, source });
      } catch (error) {
        logger.error('onPublish hook threw', { channel, error: String(error) });
      }
      return id;
    },
  };

  /** Which endpoint a URL names, or undefined when it is outside `path`. */
  const endpointOf = (req: IncomingMessage): Endpoint | undefined => {
    const raw = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const pathname = raw.split('?', 1)[0] ?? '/';
    const base = resolved.path;
    if (pathname !== base && !pathname.startsWith(`${base}/`)) return undefined;
    const rest = pathname.slice(base.length);
    return ENDPOINTS.has(rest) ? (rest.slice(1) as Endpoint) : 'unknown';
  };

  /**
   * Judges a request's `Origin` (see `CorsOptions`). A refused origin is logged once; a request
   * let in by `'*'`, which allows no credentials, loses its cookies before `authenticate` runs.
   */
  const admitOrigin = (req: IncomingMessage): OriginVerdict => {
    const verdict = checkOrigin(req, resolved.cors);
    if (verdict.kind === 'refused') logRefusedOrigin(verdict.origin);
    else if (verdict.kind === 'any') Reflect.deleteProperty(req.headers, 'cookie');
    return verdict;
  };

  const route = (req: IncomingMessage, res: ServerResponse): boolean => {
    const endpoint = endpointOf(req);
    if (endpoint === undefined) return false;
    const verdict = admitOrigin(req);
    const headers = corsHeaders(verdict);
    const fail = (failure: HttpFailure): void => sendFailure(res, failure, headers);
    if (req.method === 'OPTIONS') {
      // A refused origin's preflight is answered as well, so that the page's request goes out
      // and can read its 403 instead of failing as a network error.
      const crossOrigin = verdict.kind !== 'none' && verdict.kind !== 'same-origin';
      res.writeHead(204, {
        ...headers,
        ...(crossOrigin ? preflightHeaders : {}),
        Allow: 'GET, POST, OPTIONS',
      });
      res.end();
      return true;
    }
    if (verdict.kind === 'refused') {
      refuseOrigin(res, verdict);
      return true;
    }
    if (endpoint === 'ready' && req.method === 'GET') {
      const health = isClosing
        ? { ready: false as const, reason: 'the server is closing' }
        : readiness.health();
      sendJson(res, health.ready ? 200 : 503, health, headers);
      return true;
    }
    if (endpoint === 'live' && req.method === 'GET') {
      // The process serves requests: that is all liveness says. Not ready is not dead.
      sendJson(res, 200, { live: true }, headers);
      return true;
    }
    if (isClosing) {
      fail({ status: 503, code: 'shutting_down', message: 'the server is closing' });
      return true;
    }
    if (endpoint === 'sse' && connections.size() >= limits.maxConnections) {
      logLimit('connection limit reached', 'server', { maxConnections: limits.maxConnections });
      fail(tooManyConnections);
      return true;
    }
    if (endpoint === 'sse' && !readiness.health().ready) {
      fail(engineUnavailable);
      return true;
    }
    // A stream takes its channel set in the query (GET) or, of any size, in the body (POST).
    const expected = endpoint === 'publish' ? 'POST' : endpoint === 'sse' ? 'GET, POST' : 'GET';
    if (endpoint === 'unknown') {
      fail({ status: 404, code: 'not_found', message: 'no such endpoint' });
    } else if (!expected.split(', ').includes(req.method ?? '')) {
      fail({
        status: 405,
        code: 'method_not_allowed',
        message: `use ${expected.replace(', ', ' or ')}`,
        headers: { Allow: `${expected}, OPTIONS` },
      });
    } else if (endpoint === 'ws') {
      fail({ status: 400, code: 'bad_request', message: 'a WebSocket upgrade is required' });
    } else {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const work =
        endpoint === 'sse'
          ? handleSse(ctx, req, res, url, headers)
          : handlePublish(ctx, req, res, headers);
      work.catch((error: unknown) => {
        logger.error('request failed', { endpoint, error: String(error) });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    }
    return true;
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const endpoint = endpointOf(req);
    if (endpoint === undefined) return false;
    if (endpoint !== 'ws') {
      rejectUpgrade(socket, { status: 404, code: 'not_found', message: 'no such endpoint' });
    } else if (admitOrigin(req).kind === 'refused') {
      rejectUpgrade(socket, {
        status: 403,
        code: 'origin_not_allowed',
        message: 'origin not allowed',
      });
    } else if (connections.size() >= limits.maxConnections) {
      logLimit('connection limit reached', 'server', { maxConnections: limits.maxConnections });
      rejectUpgrade(socket, tooManyConnections);
    } else if (isClosing || !webSocketEnabled) {
      rejectUpgrade(socket, {
        status: 503,
        code: isClosing ? 'shutting_down' : 'unavailable',
        message: isClosing ? 'the server is closing' : 'WebSocket is disabled',
        headers: { 'Retry-After': '1' },
      });
    } else if (!readiness.health().ready) {
      rejectUpgrade(socket, engineUnavailable);
    } else {
      wss.handleUpgrade(req, socket, head, (ws) => serveWebSocket(ctx, ws, req, socket));
    }
    return true;
  };

  return {
    attach(attached) {
      // An HTTP/2 server with allowHTTP1 emits the same events; its compatibility request and
      // response have everything the endpoints use.
      const server = attached as Server;
      const originals = server.listeners('request') as Array<
        (req: IncomingMessage, res: ServerResponse) => void
      >;
      server.removeAllListeners('request');
      const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
        if (route(req, res)) return;
        if (originals.length === 0) {
          sendFailure(res, { status: 404, code: 'not_found', message: 'no such endpoint' });
        }
        for (const listener of originals) listener.call(server, req, res);
      };
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (upgrade(req, socket, head)) return;
        // Another upgrade listener may serve this path; when there is none, answer it.
        if (server.listenerCount('upgrade') === 1) {
          rejectUpgrade(socket, { status: 404, code: 'not_found', message: 'no such endpoint' });
        }
      };
      server.on('request', onRequest);
      server.on('upgrade', onUpgrade);
      return () => {
        server.off('request', onRequest);
        server.off('upgrade', onUpgrade);
        for (const listener of originals) server.on('request', listener);
      };
    },
    handleRequest(req, res, next) {
      if (!route(req, res)) next?.();
    },
    handleUpgrade: upgrade,
    async publish(channel, data, publishOptions = {}) {
      const { type = DEFAULT_EVENT_TYPE } = publishOptions;
      if (!isValidChannel(channel))
        throw new PublishError('invalid_channel', 'invalid channel name');
      if (!isValidEventType(type)) throw new PublishError('bad_request', 'invalid event type');
      const dataJson = serializeData(data);
      if (dataJson === undefined) throw new PublishError('bad_request', 'data has no JSON form');
      if (exceedsBytes(dataJson, limits.maxDataBytes)) {
        throw new PublishError('too_large', 'data is too large');
      }
      if (isClosing) throw new PublishError('shutting_down', 'the server is closing');
      return {
        id: await ctx.publish({ channel, event: type, dataJson, data }, undefined, 'server'),
      };
    },
    async stats() {
      // What the hub knows is counted now; what the engine keeps, when it answers.
      const counts = {
        connections: { sse: connections.count('sse'), websocket: connections.count('websocket') },
        subscriptions: hub.subscriptionCount(),
      };
      const health = readiness.health();
      const since = readiness.notReadySince();
      const engineStats: EngineStats = {
        epoch: engine.epoch,
        position: engine.position(),
        health,
        ...(since === undefined ? {} : { notReadyForMs: resolved.now() - since }),
      };
      const subscribers = new Map<string, number>();
      for (const name of hub.activeChannels()) subscribers.set(name, hub.subscriberCount(name));
      const channels: ServerStats['channels'] = {};
      try {
        const listed = (await engine.channels?.()) ?? [];
        const names = [...new Set([...subscribers.keys(), ...listed])];
        const infos = await Promise.all(names.map((name) => engine.info(name)));
        for (const [index, name] of names.entries()) {
          const { size, lastId } = infos[index]!;
          channels[name] = {
            subscribers: subscribers.get(name) ?? 0,
            history: size,
            ...(lastId === undefined ? {} : { lastId }),
          };
        }
      } catch {
        for (const [name, count] of subscribers) channels[name] = { subscribers: count };
      }
      return { ...counts, channels, engine: engineStats };
    },
    disconnectAll({ graceful = false } = {}) {
      const all = connections.all();
      for (const connection of all) connection.end(graceful ? 'graceful' : 'abort');
      return all.length;
    },
    expireCredentials() {
      const all = connections.all();
      for (const connection of all) connection.expire();
      return all.length;
    },
    stallConnections() {
      const all = connections.all();
      for (const connection of all) connection.stall();
      return all.length;
    },
    setWebSocketEnabled(enabled) {
      webSocketEnabled = enabled;
    },
    close() {
      isClosing = true;
      closing ??= (async () => {
        for (const connection of connections.all()) connection.end('graceful');
        await connections.drained();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        readiness.close();
        hub.close();
        // An engine passed in may outlive this server (a restart keeps it); the default one does not.
        if (options.engine === undefined) await engine.close();
      })();
      return closing;
    },
  };
}
