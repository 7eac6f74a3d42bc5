import {
  createRetrySchedule,
  exponentialBackoff,
  type RetryDelay,
  type RetrySchedule,
} from './backoff';
import {
  type Connection,
  type ConnectionOptions,
  type Connector,
  createConnection,
} from './connection';
import { type Environment, resolveEnvironment } from './environment';
import { createTokenSource, type GetToken, type TokenSource } from './token';
import type { WebSocketConstructor } from './transports/websocket';

/** Options shared by `createClient` and `openStream`. */
export interface TransportOptions {
  /** Called before every connect and reconnect (and for HTTP publish). @default no token (cookies) */
  getToken?: GetToken;
  /**
   * The WebSocket constructor. Where there is no global one (Node before 22), pass `WebSocket`
   * from the `ws` package.
   * @default globalThis.WebSocket, looked up when connecting
   */
  WebSocket?: WebSocketConstructor;
  /** The fetch function, for SSE and HTTP publish. @default globalThis.fetch, looked up at each call */
  fetch?: typeof globalThis.fetch;
  /** fetch credentials mode. @default 'same-origin' */
  credentials?: RequestCredentials;
  /**
   * Delay before each reconnection attempt. Attempts count for the whole client, across both
   * transports. @default exponentialBackoff() (1 s base, 30 s cap, full jitter)
   */
  retryDelay?: RetryDelay;
  /** Time to get a token, open and be ready (Tidewire: the welcome); also bounds `getToken`. @default 10000 */
  connectTimeout?: number;
  /** A connection open this long ends a run of failures: the backoff and the count of refused tokens start over. @default 5000 */
  stableAfter?: number;
  /**
   * Largest accepted message, in bytes: a whole WebSocket message or SSE block. `createClient`
   * never goes below 65 KiB, since a Tidewire server joins frames into messages of up to 64 KiB.
   * @default 1048576
   */
  maxMessageBytes?: number;
  /** Timers, clock, online, visibility and session storage. @default the browser's, resolved lazily */
  environment?: Partial<Environment>;
}

/** The `Authorization` header for a token, if any. @internal */
export const bearer = (token: string | undefined): Record<string, string> =>
  token === undefined ? {} : { authorization: `Bearer ${token}` };

/** The parts every connection of a client or stream shares. @internal */
export interface Base {
  env: Environment;
  tokens: TokenSource;
  schedule: RetrySchedule;
  fetch: typeof globalThis.fetch;
  /** Unset: fetch's own default, `'same-origin'`. */
  credentials: RequestCredentials | undefined;
  maxMessageBytes: number;
  /** The WebSocket constructor, looked up when a socket opens. */
  WebSocket(): WebSocketConstructor | undefined;
  connection(
    connect: Connector,
    handlers: Pick<ConnectionOptions, 'onState' | 'onOutcome'>,
    idleTimeout?: number,
  ): Connection;
}

/**
 * The shared parts for a client or stream; `minMessageBytes` is the least `maxMessageBytes` may
 * be, whatever the options say.
 * @internal
 */
export function createBase(o: TransportOptions, minMessageBytes = 0): Base {
  const { credentials, connectTimeout = 10_000 } = o;
  const env = resolveEnvironment(o.environment);
  const tokens = createTokenSource(o.getToken, env, connectTimeout);
  const schedule = createRetrySchedule(o.retryDelay ?? exponentialBackoff(), env);
  return {
    env,
    tokens,
    schedule,
    fetch: o.fetch ?? ((input, init) => fetch(input, init)),
    credentials,
    maxMessageBytes: Math.max(o.maxMessageBytes ?? 1_048_576, minMessageBytes),
    WebSocket: () => o.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined),
    connection: (connect, handlers, idleTimeout = 0) =>
      createConnection({
        env,
        tokens,
        schedule,
        connectTimeout,
        idleTimeout,
        stableAfter: o.stableAfter ?? 5000,
        connect,
        ...handlers,
      }),
  };
}
