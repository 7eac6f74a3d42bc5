import type { ClientFrame, ServerFrame } from '../../src/protocol';
import type { Transport } from '../../src/routing';
import type { WebSocketConstructor, WebSocketLike } from '../../src/transports/websocket';
import { sseBlocks, wsLine } from '../fakes';

// A Tidewire server in memory whose behaviour a test swaps at will (down, rejecting tokens,
// sending odd retry hints…). It stands behind an injected `fetch` and `WebSocket`, runs on
// vitest's fake timers, and logs every connection attempt the client makes.

/** One connection attempt: an SSE request or a WebSocket construction. */
export interface Attempt {
  transport: Transport;
  /** Fake clock time of the attempt. */
  at: number;
  /** The bearer token it carried (for a WebSocket: that of its first `auth` frame). */
  token: string | undefined;
}

/** Timers a server keeps for one connection: all cleared when the connection closes. */
interface Timers {
  after(ms: number, fn: () => void): void;
  every(ms: number, fn: () => void): void;
  clear(): void;
}

function createTimers(): Timers {
  const handles = new Set<ReturnType<typeof setTimeout>>();
  const after = (ms: number, fn: () => void) => {
    const handle = setTimeout(() => {
      handles.delete(handle);
      fn();
    }, ms);
    handles.add(handle);
  };
  const every = (ms: number, fn: () => void) =>
    after(ms, () => {
      fn();
      every(ms, fn);
    });
  return {
    after,
    every,
    clear() {
      for (const handle of handles) clearTimeout(handle);
      handles.clear();
    },
  };
}

/** The server side of one SSE request. Answer with exactly one of `fail`, `refuse`, `open`. */
export interface SseExchange {
  /** The channel names the request asks for. */
  readonly channels: readonly string[];
  /** fetch rejects, as when nothing listens on the port. */
  fail(): void;
  /** A non-200 answer with a JSON error body and extra headers (e.g. `retry-after`). */
  refuse(status: number, code: string, headers?: Record<string, string>): void;
  /** A 200 `text/event-stream` response; then `write`, `frame`, `end`. */
  open(): void;
  /** Raw event-stream text (a `retry:` field, a `: ping` comment). */
  write(text: string): void;
  /** One frame as a block, in version 2. */
  frame(frame: ServerFrame): void;
  /** The server ends the response. */
  end(): void;
  /** Runs `fn` every `ms` while the response is open. */
  every(ms: number, fn: () => void): void;
}

/** The server side of one WebSocket. */
export interface ServerSocket {
  /** Every frame the client sent, in order. */
  readonly received: ClientFrame[];
  /** The upgrade succeeds: the client sees `open`. */
  accept(): void;
  /** A frame to the client, delivered a little later (a microtask), like a real socket's. */
  send(frame: ServerFrame): void;
  /** The server closes (1006: the network dropped it); the client sees `close` after queued frames. */
  close(code: number, reason?: string): void;
  after(ms: number, fn: () => void): void;
  every(ms: number, fn: () => void): void;
}

/** What the server does; `restart` a server to change it. */
export interface Behaviour {
  /** An SSE request arrived. */
  sse(exchange: SseExchange): void;
  /** A WebSocket was constructed (it is not open until `accept`). */
  connect(socket: ServerSocket): void;
  /** A frame arrived on an open socket. */
  frame(socket: ServerSocket, frame: ClientFrame): void;
}

/**
 * The most attempts (and received frames) a server answers. A client that runs away reaches
 * it quickly; the server then goes silent (requests hang, sockets never open, frames get no
 * answer) until it is restarted, so the runaway ends and the test reports the counts instead
 * of spinning for minutes of real time.
 */
const MAX_ATTEMPTS = 300;
const MAX_FRAMES = 3000;

export interface FaultServer {
  readonly attempts: Attempt[];
  readonly sockets: ServerSocket[];
  /** True once the client ran past the server's answering budget. */
  readonly exhausted: () => boolean;
  /** A new server process takes over (fresh answering budget) and behaves as `behaviour`. */
  restart(behaviour: Behaviour): void;
  readonly fetch: typeof globalThis.fetch;
  readonly WebSocket: WebSocketConstructor;
}

export function createFaultServer(initial: Behaviour): FaultServer {
  const attempts: Attempt[] = [];
  const sockets: ServerSocket[] = [];
  let behaviour = initial;
  let answered = 0;
  let frames = 0;
  const exhausted = () => answered > MAX_ATTEMPTS || frames > MAX_FRAMES;
  const encoder = new TextEncoder();

  const fetch = (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    if (url.pathname.endsWith('/publish')) return Promise.resolve(Response.json({ id: 'p1' }));
    // The client sends its channel set in the body.
    const params = new URLSearchParams(typeof init.body === 'string' ? init.body : url.search);
    const token = new Headers(init.headers).get('authorization')?.replace(/^Bearer /, '');
    attempts.push({ transport: 'sse', at: Date.now(), token });
    answered++;
    return new Promise<Response>((resolve, reject) => {
      const timers = createTimers();
      let closed = false;
      let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
      const finish = () => {
        closed = true;
        timers.clear();
      };
      init.signal?.addEventListener('abort', () => {
        finish();
        reject(new DOMException('The operation was aborted.', 'AbortError'));
      });
      const write = (text: string) => {
        if (!closed) controller?.enqueue(encoder.encode(text));
      };
      const exchange: SseExchange = {
        channels: params.getAll('channel').map((c) => c.split('@')[0] ?? c),
        fail() {
          finish();
          reject(new TypeError('fetch failed'));
        },
        refuse(status, code, extra = {}) {
          finish();
          resolve(
            new Response(JSON.stringify({ code, message: code }), {
              status,
              headers: { 'content-type': 'application/json', ...extra },
            }),
          );
        },
        open() {
          const body = new ReadableStream<Uint8Array>({
            start: (c) => {
              controller = c;
            },
            cancel: finish,
          });
          resolve(new Response(body, { headers: { 'content-type': 'text/event-stream' } }));
        },
        write,
        frame: (frame) => write(sseBlocks([frame])),
        end() {
          if (closed) return;
          controller?.close();
          finish();
        },
        every: (ms, fn) => timers.every(ms, () => closed || fn()),
      };
      // Past its budget the server never answers: the request hangs until the client aborts it.
      if (!exhausted()) behaviour.sse(exchange);
    });
  };

  type Listener = (event: never) => void;

  class Socket implements WebSocketLike {
    readyState = 0;
    private readonly listeners = new Map<string, Listener[]>();
    private readonly timers = createTimers();
    private readonly attempt: Attempt = {
      transport: 'websocket',
      at: Date.now(),
      token: undefined,
    };
    private readonly side: ServerSocket;

    constructor(readonly url: string) {
      attempts.push(this.attempt);
      answered++;
      const fire = (type: string, event: unknown) => {
        for (const fn of this.listeners.get(type) ?? []) (fn as (e: unknown) => void)(event);
      };
      this.side = {
        received: [],
        accept: () => {
          if (this.readyState !== 0) return;
          this.readyState = 1;
          fire('open', {});
        },
        send: (frame) =>
          queueMicrotask(() => {
            if (this.readyState === 1) fire('message', { data: wsLine(frame) });
          }),
        close: (code, reason = '') => {
          this.timers.clear();
          queueMicrotask(() => {
            if (this.readyState === 3) return;
            this.readyState = 3;
            fire('close', { code, reason });
          });
        },
        after: (ms, fn) => this.timers.after(ms, fn),
        every: (ms, fn) => this.timers.every(ms, fn),
      };
      sockets.push(this.side);
      const side = this.side;
      queueMicrotask(() => {
        if (!exhausted()) behaviour.connect(side);
      });
    }

    addEventListener(type: string, listener: Listener): void {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
    }

    send(data: string): void {
      if (this.readyState !== 1) return;
      const frame = JSON.parse(data) as ClientFrame;
      this.side.received.push(frame);
      if (frame.type === 'auth') this.attempt.token ??= frame.token;
      frames++;
      if (!exhausted()) behaviour.frame(this.side, frame);
    }

    /** The client closes: no event reaches it any more, and the server forgets the socket. */
    close(): void {
      this.readyState = 3;
      this.timers.clear();
    }
  }

  return {
    attempts,
    sockets,
    exhausted,
    restart(next) {
      behaviour = next;
      answered = frames = 0;
    },
    fetch: fetch as typeof globalThis.fetch,
    WebSocket: Socket,
  };
}

/** The usual welcome; `heartbeat` is the server's ping interval. */
export const welcome = (heartbeat = 15_000): ServerFrame => ({
  type: 'welcome',
  epoch: 'e',
  heartbeat,
});

/** Nothing listens: fetch rejects, every WebSocket closes with 1006 before it opens. */
export const down: Behaviour = {
  sse: (x) => x.fail(),
  connect: (socket) => socket.close(1006),
  frame() {},
};

/**
 * A working server: streams and sockets welcome the client, confirm every channel and ping
 * every 15 s. `onAuth` adds to what a socket does on each `auth` frame (after its welcome).
 */
export function healthy(onAuth?: (socket: ServerSocket, count: number) => void): Behaviour {
  return {
    sse(x) {
      x.open();
      x.write('retry: 1000\n\n');
      x.frame(welcome());
      for (const channel of x.channels) x.frame({ type: 'subscribed', channel });
      x.every(15_000, () => x.write(': ping\n\n'));
    },
    connect: (socket) => socket.accept(),
    frame(socket, frame) {
      if (frame.type === 'subscribe') socket.send({ type: 'subscribed', channel: frame.channel });
      if (frame.type !== 'auth') return;
      // Every auth is answered by a welcome (PROTOCOL.md: a re-authentication too).
      socket.send(welcome());
      const count = socket.received.filter((f) => f.type === 'auth').length;
      if (count === 1) socket.every(15_000, () => socket.send({ type: 'ping' }));
      onAuth?.(socket, count);
    },
  };
}
