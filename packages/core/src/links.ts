import { exponentialBackoff, type RetryDelay } from './backoff';
import {
  type Connection,
  type ConnectionOptions,
  type Connector,
  createConnection,
  type Sink,
} from './connection';
import { type Environment, resolveEnvironment } from './environment';
import { createTokenSource, type GetToken, type TokenSource } from './token';
import { openSse, type SseMessage } from './transports/sse';
import { openWebSocket, type WebSocketConstructor } from './transports/websocket';

/** Options shared by `createClient` and `openStream`. */
export interface TransportOptions {
  /** Called before every connect and reconnect (and for HTTP publish). @default no token (cookies) */
  getToken?: GetToken;
  /** @default globalThis.WebSocket, looked up when connecting (inject `ws` in Node) */
  WebSocket?: WebSocketConstructor;
  /** @default globalThis.fetch, looked up at each call */
  fetch?: typeof globalThis.fetch;
  /** fetch credentials mode. @default 'same-origin' */
  credentials?: RequestCredentials;
  /** Delay before each reconnection attempt. @default exponentialBackoff() (1 s base, 30 s cap, full jitter) */
  retryDelay?: RetryDelay;
  /** Time to get a token, open and be ready (Tidewire: the welcome); also bounds `getToken`. @default 10000 */
  connectTimeout?: number;
  /** An open connection lasting this long resets the backoff. @default 5000 */
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
  fetch: typeof globalThis.fetch;
  credentials: RequestCredentials;
  connection<M>(
    connect: Connector<M>,
    rest: Pick<ConnectionOptions<M>, 'onMessage' | 'onState' | 'onLost'>,
    idleTimeout?: number,
  ): Connection;
  /** An SSE connector; `open` says whether the response itself means ready. */
  sse<M>(
    url: () => string,
    lastEventId: () => string,
    open: boolean,
    onMessage: (m: SseMessage, sink: Sink<M>) => void,
  ): Connector<M>;
  ws<M>(
    url: string,
    protocols: string | string[],
    onOpen: (send: (data: string) => void, token: string | undefined, sink: Sink<M>) => void,
    onMessage: (data: unknown, sink: Sink<M>) => void,
  ): Connector<M>;
}

/**
 * The shared parts for a client or stream; `minMessageBytes` is the least `maxMessageBytes` may
 * be, whatever the options say.
 * @internal
 */
export function createBase(o: TransportOptions, minMessageBytes = 0): Base {
  const { credentials = 'same-origin', connectTimeout = 10_000 } = o;
  const maxMessageBytes = Math.max(o.maxMessageBytes ?? 1_048_576, minMessageBytes);
  const env = resolveEnvironment(o.environment);
  const tokens = createTokenSource(o.getToken, env, connectTimeout);
  const fetcher = o.fetch ?? ((input, init) => fetch(input, init));
  return {
    env,
    tokens,
    fetch: fetcher,
    credentials,
    connection: (connect, rest, idleTimeout = 0) =>
      createConnection({
        env,
        tokens,
        retryDelay: o.retryDelay ?? exponentialBackoff(),
        connectTimeout,
        idleTimeout,
        stableAfter: o.stableAfter ?? 5000,
        connect,
        ...rest,
      }),
    sse: (url, lastEventId, open, onMessage) => (token, sink) => ({
      close: openSse(
        {
          url: url(),
          fetch: fetcher,
          headers: bearer(token),
          lastEventId: lastEventId(),
          credentials,
          maxMessageBytes,
        },
        {
          ...sink,
          onOpen: () => open && sink.onOpen(),
          onMessage: (m) => onMessage(m, sink),
        },
      ),
    }),
    ws: (url, protocols, onOpen, onMessage) => (token, sink) => {
      const link = openWebSocket(
        {
          url,
          WebSocket: o.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined),
          protocols,
          maxMessageBytes,
        },
        {
          ...sink,
          onOpen: () => onOpen(link.send, token, sink),
          onMessage: (data) => onMessage(data, sink),
        },
      );
      return link;
    },
  };
}
