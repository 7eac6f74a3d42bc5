/** The members of a WebSocket that Tidewire uses: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: never) => void): void;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

/** Why a socket ended. */
export type WsEnd =
  /** The socket closed (1006 when it failed or could not be opened). */
  | { kind: 'close'; code: number; reason: string }
  /** The constructor threw (bad URL, blocked port). */
  | { kind: 'error'; error: unknown }
  /** One message exceeded `maxMessageBytes`; the socket was closed. */
  | { kind: 'too-large'; limit: number };

/** What {@link openWebSocket} opens. */
export interface WsRequest {
  url: string;
  WebSocket: WebSocketConstructor;
  protocols?: string | string[];
  /** Largest accepted text message, in UTF-16 code units (a lower bound of its bytes). @default 1048576 */
  maxMessageBytes?: number;
}

/** What {@link openWebSocket} reports. No handler is called after `close()`. */
export interface WsHandlers {
  onOpen(): void;
  onMessage(data: unknown): void;
  /** Exactly once, unless the caller closed first. */
  onEnd(end: WsEnd): void;
}

/** An open socket: `send` drops data unless the socket is open; `close` is idempotent. */
export interface WsLink {
  send(data: string): void;
  close(): void;
}

/** Opens one WebSocket and reports its life through `handlers`. */
export function openWebSocket(request: WsRequest, handlers: WsHandlers): WsLink {
  const { maxMessageBytes: limit = 1_048_576 } = request;
  let done = false;
  let socket: WebSocketLike | undefined;
  const close = () => {
    done = true;
    try {
      socket?.close();
    } catch {}
  };
  const finish = (end: WsEnd) => {
    if (done) return;
    close();
    handlers.onEnd(end);
  };
  try {
    const ws = new request.WebSocket(request.url, request.protocols);
    socket = ws;
    ws.addEventListener('open', () => done || handlers.onOpen());
    ws.addEventListener('message', ({ data }: { data: unknown }) => {
      if (done) return;
      if (typeof data === 'string' && data.length > limit) finish({ kind: 'too-large', limit });
      else handlers.onMessage(data);
    });
    ws.addEventListener('close', ({ code, reason }: { code: number; reason: string }) =>
      finish({ kind: 'close', code, reason }),
    );
    // Failures are reported by the close event that follows; listening keeps Node's `ws` quiet.
    ws.addEventListener('error', () => {});
  } catch (error) {
    Promise.resolve().then(() => finish({ kind: 'error', error }));
  }
  return {
    send(data) {
      if (!done && socket?.readyState === 1) socket.send(data);
    },
    close,
  };
}
