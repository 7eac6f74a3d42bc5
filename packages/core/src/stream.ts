/**
 * `@tidewire/core/stream`: {@link openStream}, the client's reconnection, token and state
 * machinery for any plain SSE or WebSocket endpoint. Its own entry, so an app that only uses
 * `createClient` ships none of it.
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

/**
 * Opens any SSE endpoint (over fetch, so headers and tokens work, with
 * `Last-Event-ID` resume) or WebSocket endpoint, with the client's reconnection,
 * token and state machinery. It connects at once.
 * @example
 * import { openStream } from '@tidewire/core/stream'
 * const s = openStream('https://example.com/events', { getToken })
 * s.on('message', (m) => console.log(m.event, m.data))
 */
export function openStream(url: string, options: StreamOptions = {}): Stream {
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
  let id = options.lastEventId ?? '';
  const sse: Connector = (token, sink) => ({
    close: openSse(
      {
        url,
        fetch: base.fetch,
        headers: bearer(token),
        lastEventId: id,
        credentials: base.credentials,
        maxMessageBytes: base.maxMessageBytes,
      },
      {
        ...sink,
        onOpen: () => sink.onOpen(),
        onMessage(m) {
          id = m.lastEventId;
          emitter.emit('message', { event: m.event, data: own(m.lines.join('\n')), id });
        },
        // A block with an id and no data moves the id without a message.
        onLastEventId(lastEventId) {
          id = lastEventId;
        },
      },
    ),
  });
  const websocket: Connector = (token, sink) => {
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
          emitter.emit('message', { event: 'message', data, id: '' });
        },
      },
    );
    return link;
  };
  const conn = base.connection(
    options.transport === 'websocket' ? websocket : sse,
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
    lastEventId: () => id,
    send: conn.send,
    close() {
      conn.stop();
      base.tokens.cancel();
      emitter.clear();
    },
  };
}
