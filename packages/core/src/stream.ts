/**
 * `@tidewire/core/stream`: {@link openStream}, the client's reconnection, token and state
 * machinery for any plain SSE or WebSocket endpoint. Its own entry, so an app that only uses
 * `createClient` ships none of it; {@link openSseStream} and {@link openWebSocketStream} each
 * carry one transport.
 * @module
 */

import { checkOptions, checkUrl, unresolvable } from './check-options';
import type { ConnectionState, Connector } from './connection';
import { DEV } from './dev';
import { Emitter } from './emitter';
import { TidewireError } from './errors';
import { own } from './frames';
import { bearer, createBase, type TransportOptions } from './links';
import { openSse } from './transports/sse';
import { openWebSocket } from './transports/websocket';

/** Options of {@link openStream}. */
export interface StreamOptions extends TransportOptions {
  /** The endpoint's transport. @default 'sse' */
  transport?: 'sse' | 'websocket';
  /** WebSocket only: the first message to send, built from the token. @default none (the token is not sent) */
  authMessage?: (token: string) => string;
  /** WebSocket subprotocols. @default none */
  protocols?: string | string[];
  /** SSE only: resume from this id (sent as `Last-Event-ID`). @default none */
  lastEventId?: string;
  /** Reconnect when nothing arrives for this long, in ms; 0 never. @default 0 */
  idleTimeout?: number;
}

/** One message of a plain stream. */
export interface StreamMessage {
  /** SSE: the `event:` field (`"message"` by default). WebSocket: `"message"`. */
  event: string;
  /** SSE: the data text. WebSocket: the message as received. */
  data: unknown;
  /** SSE: the stream's last event id (`""` when none). WebSocket: `""`. */
  id: string;
}

/** Listener signatures of a {@link Stream}. */
export type StreamEvents = {
  /** A message arrived. */
  message: (message: StreamMessage) => void;
  /** The connection state changed from `prev` to `next`. */
  state: (change: { next: ConnectionState; prev: ConnectionState }) => void;
  /** The connection failed (it retries unless the error is fatal), or a listener threw. */
  error: (context: { error: TidewireError }) => void;
};

/** A reconnecting plain stream. */
export interface Stream {
  /** Adds a listener for `message`, `state` or `error`; returns its disposer. */
  on<K extends keyof StreamEvents>(type: K, listener: StreamEvents[K]): () => void;
  /** The connection state now. */
  getState(): ConnectionState;
  /** The id the next reconnection resumes from (SSE). */
  lastEventId(): string;
  /** WebSocket only: sends when open; false otherwise. */
  send(data: string): boolean;
  /** Closes the stream for good. */
  close(): void;
}

/** Options of {@link openSseStream} and {@link openWebSocketStream}: those of {@link openStream} without `transport`. */
export type OneStreamOptions = Omit<StreamOptions, 'transport'>;

/** What a kind of stream connects with: the stream's parts it reads and writes. */
interface Parts {
  url: string;
  options: StreamOptions;
  base: ReturnType<typeof createBase>;
  /** The id the next reconnection resumes from. */
  id: string;
  emit(message: StreamMessage): void;
}

/** One kind of stream (SSE or WebSocket): how it connects. */
type Kind = (parts: Parts) => Connector;

const sseKind: Kind = (parts) => (token, sink) => ({
  close: openSse(
    {
      url: parts.url,
      fetch: parts.base.fetch,
      headers: bearer(token),
      lastEventId: parts.id,
      credentials: parts.base.credentials,
      maxMessageBytes: parts.base.maxMessageBytes,
    },
    {
      ...sink,
      onOpen: () => sink.onOpen(),
      onMessage(m) {
        parts.id = m.lastEventId;
        parts.emit({ event: m.event, data: own(m.lines.join('\n')), id: parts.id });
      },
      // A block with an id and no data moves the id without a message.
      onLastEventId(lastEventId) {
        parts.id = lastEventId;
      },
    },
  ),
});

const webSocketKind: Kind =
  ({ url, options, base, emit }) =>
  (token, sink) => {
    const link = openWebSocket(
      {
        url,
        WebSocket: base.WebSocket(),
        protocols: options.protocols ?? [],
        maxMessageBytes: base.maxMessageBytes,
      },
      {
        ...sink,
        onOpen() {
          if (token !== undefined && options.authMessage) link.send(options.authMessage(token));
          sink.onOpen();
        },
        onMessage(data) {
          sink.onActivity();
          emit({ event: 'message', data, id: '' });
        },
      },
    );
    return link;
  };

/**
 * Opens any SSE endpoint (over fetch, so headers and tokens work, with
 * `Last-Event-ID` resume) or WebSocket endpoint, with the client's reconnection,
 * token and state machinery. It connects at once. An app that uses one kind only can
 * import {@link openSseStream} or {@link openWebSocketStream} instead, and ship none of
 * the other kind's code.
 * @example
 * import { openStream } from '@tidewire/core/stream'
 * const s = openStream('https://example.com/events', { getToken })
 * s.on('message', (m) => console.log(m.event, m.data))
 */
export function openStream(url: string, options: StreamOptions = {}): Stream {
  return open(url, options, options.transport === 'websocket' ? webSocketKind : sseKind);
}

/**
 * {@link openStream} for an SSE endpoint, without the WebSocket code: a bundle that imports
 * only this function carries no WebSocket transport.
 * @example
 * import { openSseStream } from '@tidewire/core/stream'
 * const s = openSseStream('https://example.com/events', { getToken })
 */
export function openSseStream(url: string, options: OneStreamOptions = {}): Stream {
  return open(url, options, sseKind);
}

/**
 * {@link openStream} for a WebSocket endpoint, without the SSE code: a bundle that imports
 * only this function carries no SSE reader.
 * @example
 * import { openWebSocketStream } from '@tidewire/core/stream'
 * const s = openWebSocketStream('wss://example.com/socket')
 */
export function openWebSocketStream(url: string, options: OneStreamOptions = {}): Stream {
  return open(url, options, webSocketKind);
}

function open(url: string, options: StreamOptions, kind: Kind): Stream {
  if (DEV) {
    checkUrl(url, 'openStream(url)', ['http:', 'https:', 'ws:', 'wss:']);
    // openStream connects at once: a URL it cannot resolve is refused now.
    const problem = unresolvable(url, 'openStream(url)');
    if (problem) throw new TidewireError('invalid_options', {}, problem);
    checkOptions(options, 'openStream');
  }
  const base = createBase(options);
  const emitter = new Emitter<StreamEvents>((cause, type) => {
    if (type !== 'error')
      emitter.emit('error', { error: new TidewireError('listener_failed', { cause }) });
  });
  const parts: Parts = {
    url,
    options,
    base,
    id: options.lastEventId ?? '',
    emit: (message) => emitter.emit('message', message),
  };
  const conn = base.connection(
    kind(parts),
    {
      onState(next, prev) {
        emitter.emit('state', { next, prev });
        if ('error' in next && next.error) emitter.emit('error', { error: next.error });
      },
    },
    options.idleTimeout,
  );
  conn.start();
  return {
    on: (type, listener) => emitter.on(type, listener),
    getState: conn.state,
    lastEventId: () => parts.id,
    send: conn.send,
    close() {
      conn.stop();
      base.tokens.cancel();
      emitter.clear();
    },
  };
}
