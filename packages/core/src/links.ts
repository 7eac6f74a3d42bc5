import type { Connector } from './connection';
import { ConnectionError, closeError, errorFor, type TidewireError } from './errors';
import { badMessage, bearer, parseFrame, sseEndError } from './frames';
import type { ServerFrame } from './protocol';
import { openSse } from './transports/sse';
import { openWebSocket, type WebSocketConstructor } from './transports/websocket';

/** What both Tidewire links need from the client. @internal */
export interface LinkContext {
  /** The base URL, without a trailing slash. */
  url: string;
  fetch: typeof globalThis.fetch;
  WebSocket: () => WebSocketConstructor | undefined;
  credentials: RequestCredentials;
  maxMessageBytes: number;
  /** `channel=name[@position]` for every channel on SSE. */
  query(): string;
  report(error: TidewireError): void;
}

/** The frames every link reacts to the same way. */
function handle(
  c: LinkContext,
  sink: Parameters<Connector<ServerFrame>>[1],
  text: unknown,
): ServerFrame | undefined {
  const f = parseFrame(text);
  if (!f) c.report(badMessage());
  else if (f.type === 'welcome') sink.open(f.heartbeat);
  else sink.message(f);
  return f;
}

/** One SSE stream for the channel set as it is when (re)connecting. @internal */
export const sseLink =
  (c: LinkContext): Connector<ServerFrame> =>
  (token, sink) => {
    let ended: TidewireError | undefined;
    const close = openSse(
      {
        url: `${c.url}/sse?${c.query()}`,
        fetch: c.fetch,
        headers: bearer(token),
        credentials: c.credentials,
        maxMessageBytes: c.maxMessageBytes,
      },
      {
        onOpen() {},
        onMessage(m) {
          const f = handle(c, sink, m.data);
          if (f?.type === 'error' && !f.channel && !f.ref) ended = errorFor(f.code, f.message);
        },
        onRetry: sink.hint,
        onActivity: sink.activity,
        onEnd: (end) => sink.end(ended ?? sseEndError(end)),
      },
    );
    return { close };
  };

/** One WebSocket: `auth` first, then frames both ways. @internal */
export const wsLink =
  (c: LinkContext): Connector<ServerFrame> =>
  (token, sink) => {
    const WebSocket = c.WebSocket();
    if (!WebSocket) {
      sink.end(new ConnectionError('unsupported', 'no WebSocket implementation'));
      return { close() {} };
    }
    const link = openWebSocket(
      {
        url: `${c.url.replace(/^http/, 'ws')}/ws`,
        WebSocket,
        maxMessageBytes: c.maxMessageBytes,
      },
      {
        onOpen: () => link.send(JSON.stringify({ type: 'auth', token })),
        onMessage: (data) => handle(c, sink, data),
        onEnd: (end) =>
          sink.end(
            end.kind === 'close'
              ? closeError(end.code, end.reason)
              : end.kind === 'error'
                ? new ConnectionError('network', 'cannot open', { cause: end.error })
                : errorFor('too_large', 'message too large'),
          ),
      },
    );
    return link;
  };
