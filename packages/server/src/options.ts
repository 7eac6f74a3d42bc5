import type { IncomingMessage } from 'node:http';
import type { Authenticate, Authorize } from './auth.js';
import type { CorsOptions } from './cors.js';
import type { Engine } from './engine/engine.js';
import { createMemoryEngine } from './engine/memory.js';
import type { Logger } from './logger.js';
import { systemTimers, type Timers } from './timers.js';

/**
 * Token-bucket settings for publishes. Each publisher (see `keyOf`) has one bucket, shared by
 * its WebSockets and its `POST {path}/publish` requests on any connection, so that opening more
 * connections does not raise the rate.
 */
export interface PublishRate {
  /** Tokens added per second. @default 100 */
  perSecond?: number;
  /** Bucket size: the largest burst allowed. @default 200 */
  burst?: number;
  /**
   * Names the publisher a publish is counted against (over HTTP or WebSocket); publishes with
   * the same key share a bucket. A throw is logged and the default key is used.
   *
   * The default: a string or number principal stands for itself; any other principal
   * (`undefined` for anonymous publishers, objects too) is counted per client address, and
   * IPv6 addresses per /64 network. Behind a reverse proxy every client has the proxy's
   * address, so return the forwarded address there, and return a user id for object principals.
   * @example
   * // Behind a proxy that sets X-Real-IP, with principals of type { userId: string }:
   * keyOf: ({ principal, req }) =>
   *   (principal as { userId: string } | undefined)?.userId ?? String(req.headers['x-real-ip'])
   * @default principal, else the client address
   */
  keyOf?: (publisher: {
    /** What `authenticate` returned; `undefined` for an anonymous publisher. */
    principal: unknown;
    /** The TCP peer's IP address (behind a proxy, the proxy's). */
    address: string | undefined;
    /** The publish request. */
    req: IncomingMessage;
  }) => string;
}

/** Per-connection and per-request limits. Every field is optional. */
export interface LimitOptions {
  /** Channels one connection may subscribe to at once. @default 100 */
  maxChannelsPerConnection?: number;
  /** Most events a subscription's `rewind` replays; a larger rewind is cut to it. @default 100 */
  maxRewind?: number;
  /**
   * Replay bytes per second per connection, with bursts of four seconds' worth: a client that
   * subscribes again and again with old positions is served its replays at this rate, however
   * fast it reads. @default 4194304 (4 MiB/s)
   */
  replayBytesPerSecond?: number;
  /**
   * Open connections (SSE streams and WebSockets) in all; beyond it a new stream or upgrade is
   * refused with `503` `unavailable` and `Retry-After`. @default 10000
   */
  maxConnections?: number;
  /**
   * Open connections of one string or number principal (a user with many tabs has a few each);
   * beyond it a new stream gets `429` `rate_limited` and a WebSocket is closed with 4429 after
   * its `auth`. Anonymous and object principals count only toward `maxConnections`. @default 100
   */
  maxConnectionsPerPrincipal?: number;
  /** Largest incoming WebSocket frame in bytes; bigger frames close the socket with 1009. @default maxDataBytes + 4096 */
  maxFrameBytes?: number;
  /** Largest `POST {path}/publish` body in bytes (413 `too_large`). @default maxDataBytes + 4096 */
  maxBodyBytes?: number;
  /** Largest serialized `data` of one event in bytes, on every publish path. @default 65536 */
  maxDataBytes?: number;
  /**
   * Bytes queued for one connection before it is dropped as a slow consumer. A replay is sent
   * a page at a time as the connection drains, so that it never takes more than this either.
   * @default 1048576
   */
  sendBufferBytes?: number;
  /**
   * Milliseconds a connection's send buffer may go without draining, counted by the clock
   * from when bytes start to wait. Past it the connection is closed as a slow consumer
   * (WebSocket `4409`; SSE drops the TCP connection), however little it holds.
   * @default 30000 (30 s)
   */
  writeTimeoutMs?: number;
  /**
   * Publishes per publisher, across its WebSockets and HTTP requests.
   * @default { perSecond: 100, burst: 200 }
   */
  publishRate?: PublishRate;
  /**
   * Milliseconds a `POST {path}/publish` body may take to arrive, counted from when the server
   * starts reading it. A slower body is answered `408` and its connection closed.
   * @default 10000 (10 s)
   */
  bodyTimeoutMs?: number;
  /**
   * Deepest nesting of objects and arrays in a `POST {path}/publish` body, the envelope object
   * included (so `data` may nest one level less). A deeper body is refused with `400` `bad_json`
   * before it is parsed.
   * @default 128
   */
  maxJsonDepth?: number;
}

/** How much history the default memory engine keeps, per channel and in all. */
export interface HistoryOptions {
  /** Newest events kept per channel. @default 1000 */
  maxEvents?: number;
  /**
   * Events older than this many milliseconds are dropped, by a timer as well as when
   * their channel is used.
   * @default 600000
   */
  maxAgeMs?: number;
  /** Events kept across all channels; beyond it the oldest are dropped, whatever their channel. @default 100000 */
  maxTotalEvents?: number;
  /**
   * Bytes kept across all channels, counted as the UTF-8 length of each event's channel,
   * type and data; beyond it the oldest events are dropped, whatever their channel.
   * @default 67108864 (64 MiB)
   */
  maxTotalBytes?: number;
}

/** What `onPublish` receives after an event was accepted. */
export interface PublishContext<P> {
  /** The channel it was published on. */
  channel: string;
  /** The id the event received. */
  id: string;
  /** The application's event type. */
  event: string;
  /** The payload, as published. */
  data: unknown;
  /** Who published: `undefined` for {@link TidewireServer.publish}. */
  principal: P | undefined;
  /** How it arrived: `publish()` on the server, `POST {path}/publish`, or a WebSocket `publish` frame. */
  source: 'server' | 'http' | 'websocket';
}

/**
 * Options of {@link createTidewireServer}.
 * @typeParam P the principal type returned by `authenticate`.
 */
export interface TidewireServerOptions<P = unknown> {
  /**
   * Base path; endpoints are `{path}/sse`, `{path}/ws` and `{path}/publish`, with `{path}/ready`
   * (readiness) and `{path}/live` (liveness) for load balancers and orchestrators.
   * @default '/tidewire'
   */
  path?: string;
  /**
   * Turns a bearer token (and the request, for cookies) into a principal.
   * Return `null`/`undefined` or throw `new AuthError('unauthorized')` to refuse with 401 / 4401,
   * throw `new AuthError('token_expired')` for an expired token, `new AuthError('forbidden')` for
   * a refusal the client must not retry (403 / 4403).
   * @default everyone is allowed, with an `undefined` principal
   */
  authenticate?: Authenticate<P>;
  /** Whether a principal may subscribe to or publish on a channel. A throw counts as `false`. @default allow */
  authorize?: Authorize<P>;
  /** Which cross-origin pages may connect. @default same-origin only */
  cors?: CorsOptions;
  /** Milliseconds between heartbeats (SSE comment, WebSocket `ping` frame and protocol ping). @default 15000 */
  heartbeatMs?: number;
  /** Reconnection delay suggested to SSE clients in the `retry:` line. @default 1000 */
  retryMs?: number;
  /** Milliseconds a WebSocket may take to send its `auth` frame (then 4408). @default 10000 */
  authTimeoutMs?: number;
  /** How long before expiry a WebSocket is sent `refresh`. @default 30000 */
  tokenRefreshLeadMs?: number;
  /**
   * Milliseconds the engine may stay not ready (see `GET {path}/ready`) before the server ends
   * every connection retryably (SSE streams end, WebSockets close with 1012), so that their
   * clients move to a node that is ready and resume there by position. New streams and
   * upgrades are refused with 503 from the first moment the engine is not ready; this is for
   * the connections that were open then. Counted from when the engine last knew it was well,
   * when it says (`@tidewire/redis`: Redis's last answer), else from when the server first saw
   * it not ready (it looks every second); `Infinity` keeps them open.
   * @default 30000 (30 s)
   */
  staleAfterMs?: number;
  /** Limits of the default memory engine; ignored when `engine` is given. */
  history?: HistoryOptions;
  /** Per-connection limits. */
  limits?: LimitOptions;
  /**
   * Where history lives and how events reach every node. Pass the same engine to a new
   * server to restart with its history and epoch. The server closes only an engine it
   * created itself: one passed here is the caller's to close.
   * @default createMemoryEngine(history)
   */
  engine?: Engine;
  /** Called after every accepted publish. Exceptions are logged and ignored. */
  onPublish?: (ctx: PublishContext<P>) => void;
  /** Receives hook failures and dropped connections. @default errors to `console.error` */
  logger?: Logger;
  /** Timer functions, for tests. @default the global timers */
  timers?: Timers;
  /** Clock in milliseconds since the epoch. @default () => Date.now() */
  now?: () => number;
}

/** Options with every default applied. */
export interface ResolvedOptions<P> {
  path: string;
  authenticate: Authenticate<P>;
  authorize: Authorize<P>;
  cors: CorsOptions | undefined;
  heartbeatMs: number;
  retryMs: number;
  authTimeoutMs: number;
  tokenRefreshLeadMs: number;
  staleAfterMs: number;
  limits: {
    maxChannelsPerConnection: number;
    maxRewind: number;
    replayBytesPerSecond: number;
    maxConnections: number;
    maxConnectionsPerPrincipal: number;
    maxFrameBytes: number;
    maxBodyBytes: number;
    maxDataBytes: number;
    sendBufferBytes: number;
    writeTimeoutMs: number;
    publishRate: {
      perSecond: number;
      burst: number;
      keyOf: NonNullable<PublishRate['keyOf']> | undefined;
    };
    bodyTimeoutMs: number;
    maxJsonDepth: number;
  };
  engine: Engine;
  onPublish: ((ctx: PublishContext<P>) => void) | undefined;
  logger: Logger;
  timers: Timers;
  now: () => number;
}

const defaultLogger: Logger = {
  warn: () => {},
  error: (message, details) => console.error(`[tidewire] ${message}`, details ?? ''),
};

/** Applies defaults; `??` everywhere so that 0 stays a valid value. */
export function resolveOptions<P>(options: TidewireServerOptions<P>): ResolvedOptions<P> {
  const {
    path = '/tidewire',
    authenticate = (_token: string | undefined, _req: IncomingMessage) => ({
      principal: undefined as P,
    }),
    authorize = () => true,
    cors,
    heartbeatMs = 15_000,
    retryMs = 1_000,
    authTimeoutMs = 10_000,
    tokenRefreshLeadMs = 30_000,
    staleAfterMs = 30_000,
    history = {},
    limits = {},
    onPublish,
    logger = defaultLogger,
    timers = systemTimers,
    now = () => Date.now(),
  } = options;
  if (!(staleAfterMs > 0)) throw new TypeError('staleAfterMs must be positive (Infinity: never)');
  const engine =
    options.engine ??
    createMemoryEngine({
      maxEvents: history.maxEvents ?? 1000,
      maxAgeMs: history.maxAgeMs ?? 600_000,
      maxTotalEvents: history.maxTotalEvents ?? 100_000,
      maxTotalBytes: history.maxTotalBytes ?? 64 * 1024 * 1024,
      now,
      timers,
    });
  return {
    path: normalizePath(path),
    authenticate,
    authorize,
    cors,
    heartbeatMs,
    retryMs,
    authTimeoutMs,
    tokenRefreshLeadMs,
    staleAfterMs,
    limits: {
      maxChannelsPerConnection: limits.maxChannelsPerConnection ?? 100,
      maxRewind: limits.maxRewind ?? 100,
      replayBytesPerSecond: limits.replayBytesPerSecond ?? 4 * 1024 * 1024,
      maxConnections: limits.maxConnections ?? 10_000,
      maxConnectionsPerPrincipal: limits.maxConnectionsPerPrincipal ?? 100,
      // A frame or body carries its data plus the envelope (channel, event type, ref).
      maxFrameBytes: limits.maxFrameBytes ?? (limits.maxDataBytes ?? 65_536) + 4096,
      maxBodyBytes: limits.maxBodyBytes ?? (limits.maxDataBytes ?? 65_536) + 4096,
      maxDataBytes: limits.maxDataBytes ?? 65_536,
      sendBufferBytes: limits.sendBufferBytes ?? 1 << 20,
      writeTimeoutMs: limits.writeTimeoutMs ?? 30_000,
      publishRate: {
        perSecond: limits.publishRate?.perSecond ?? 100,
        burst: limits.publishRate?.burst ?? 200,
        keyOf: limits.publishRate?.keyOf,
      },
      bodyTimeoutMs: limits.bodyTimeoutMs ?? 10_000,
      maxJsonDepth: limits.maxJsonDepth ?? 128,
    },
    engine,
    onPublish,
    logger,
    timers,
    now,
  };
}

/** `'tidewire/'` → `'/tidewire'`; `'/'` → `''`. */
function normalizePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}
