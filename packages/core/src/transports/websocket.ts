import { ConnectionError, closeError, type TidewireError } from '../errors';

/** The members of a WebSocket that Tidewire uses: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Sends a text message. */
  send(data: string): void;
  /** Closes the socket, with an optional close code and reason. */
  close(code?: number, reason?: string): void;
  /** Adds a listener for `open`. */
  addEventListener(type: 'open', listener: () => void): void;
  /** Adds a listener for `message`: its `data` is the message. */
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  /** Adds a listener for `close`: its `code` is the close code. */
  addEventListener(type: 'close', listener: (event: { code: number }) => void): void;
  /** Adds a listener for `error`. */
  addEventListener(type: 'error', listener: () => void): void;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

/** What {@link openWebSocket} opens. */
export interface WsRequest {
  url: string;
  /** Without one the socket ends at once with the fatal `unsupported`. */
  WebSocket: WebSocketConstructor | undefined;
  protocols?: string | string[];
  /**
   * Largest accepted message: a text message's length in UTF-16 code units (a lower bound of its
   * UTF-8 bytes, so no text is encoded to be measured), a binary message's size in bytes
   * (`ArrayBuffer`, `Blob`, a typed array or Node `Buffer`, or an array of them as `ws` fragments).
   * A WebSocket hands over only whole messages, so this bounds what is passed on, not what the
   * socket buffers first (in Node, `ws`'s own `maxPayload` bounds that).
   */
  maxMessageBytes: number;
}

/** What {@link openWebSocket} reports. No handler is called after `close()`. */
export interface WsHandlers {
  onOpen(): void;
  onMessage(data: unknown): void;
  /**
   * Exactly once, unless the caller closed first: the close as its error (`network` for 1006, or
   * when the constructor threw; `unsupported` without one), or `too_large` for a message over
   * `maxMessageBytes`.
   */
  onEnd(error: TidewireError): void;
}

/** An open socket: `send` drops data unless the socket is open; `close` is idempotent. */
export interface WsLink {
  send(data: string): void;
  close(): void;
}

/** A binary message: an `ArrayBuffer`, typed array or Node `Buffer` (`byteLength`), or a `Blob` (`size`). */
type Binary = { byteLength?: number; size?: number };

/** Opens one WebSocket and reports its life through `handlers`. */
export function openWebSocket(request: WsRequest, handlers: WsHandlers): WsLink {
  const limit = request.maxMessageBytes;
  let done = false;
  let socket: WebSocketLike | undefined;
  const close = () => {
    done = true;
    try {
      socket?.close();
    } catch {}
  };
  const finish = (error: TidewireError) => {
    if (done) return;
    close();
    handlers.onEnd(error);
  };
  try {
    const ws = new request.WebSocket!(request.url, request.protocols);
    socket = ws;
    ws.addEventListener('open', () => done || handlers.onOpen());
    ws.addEventListener('message', ({ data }: { data: unknown }) => {
      if (done) return;
      // Text first: it is most messages.
      const size =
        typeof data === 'string'
          ? data.length
          : ((data as Binary).byteLength ?? (data as Binary).size ?? 0);
      if (size > limit) finish(new ConnectionError('too_large'));
      else handlers.onMessage(data);
    });
    ws.addEventListener('close', ({ code }: { code: number }) => finish(closeError(code)));
    // Failures are reported by the close event that follows; listening keeps Node's `ws` quiet.
    ws.addEventListener('error', () => {});
  } catch (error) {
    const code = request.WebSocket ? 'network' : 'unsupported';
    Promise.resolve().then(() => finish(new ConnectionError(code, { cause: error })));
  }
  return {
    send(data) {
      if (!done && socket?.readyState === 1) socket.send(data);
    },
    close,
  };
}
