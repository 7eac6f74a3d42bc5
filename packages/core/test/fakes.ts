import type { ServerFrame } from '../src/protocol';

type Listener = (event: never) => void;

/** A scriptable WebSocket: tests open it, feed it frames and close it. */
export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  private listeners = new Map<string, Listener[]>();
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  static last(): FakeSocket {
    return FakeSocket.all[FakeSocket.all.length - 1]!;
  }
  addEventListener(type: string, fn: Listener) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  private fire(type: string, event: unknown) {
    for (const fn of this.listeners.get(type) ?? []) (fn as (e: unknown) => void)(event);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedByClient = code;
  }
  closedByClient: number | undefined;
  open() {
    this.readyState = 1;
    this.fire('open', {});
  }
  receive(frame: ServerFrame | string) {
    this.fire('message', { data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  /** The server side closes (or the network drops, 1006). */
  drop(code = 1006, reason = '') {
    this.readyState = 3;
    this.fire('close', { code, reason });
  }
  welcome(heartbeat = 15000) {
    this.open();
    this.receive({ type: 'welcome', epoch: 'e', heartbeat });
  }
}

export interface FakeStream {
  url: string;
  headers: Record<string, string>;
  aborted: boolean;
  push(frame: ServerFrame | string, id?: string): void;
  /** Several frames in one block, one per `data:` line, as a server joins them. */
  block(frames: (ServerFrame | string)[], id?: string): void;
  end(): void;
}

/** A fetch that answers every request with a controllable event stream (or a queued Response). */
export function fakeSseFetch() {
  const streams: FakeStream[] = [];
  /** Queued answers; 'hang' never answers until the request is aborted. */
  const responses: (Response | 'hang')[] = [];
  const posts: { url: string; headers: Record<string, string>; body: unknown }[] = [];
  const enc = new TextEncoder();
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const headers = Object.fromEntries(
      Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [
        k.toLowerCase(),
        v,
      ]),
    );
    const url = String(input);
    const queued = responses.shift();
    if (queued === 'hang')
      return new Promise((_, reject) =>
        init.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    if (init.method === 'POST') {
      posts.push({ url, headers, body: JSON.parse(String(init.body)) });
      return queued ?? Response.json({ id: `p${posts.length}` });
    }
    if (queued) return queued;
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        ctrl = c;
      },
    });
    const s: FakeStream = {
      url,
      headers,
      aborted: false,
      push(frame, id) {
        if (s.aborted) return;
        const data = typeof frame === 'string' ? frame : JSON.stringify(frame);
        ctrl.enqueue(enc.encode(`${id ? `id: ${id}\n` : ''}data: ${data}\n\n`));
      },
      block(frames, id) {
        const lines = frames.map((f) => `data: ${typeof f === 'string' ? f : JSON.stringify(f)}\n`);
        if (!s.aborted) ctrl.enqueue(enc.encode(`${lines.join('')}${id ? `id: ${id}\n` : ''}\n`));
      },
      end: () => ctrl.close(),
    };
    init.signal?.addEventListener('abort', () => {
      s.aborted = true;
    });
    streams.push(s);
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  };
  const last = () => streams[streams.length - 1]!;
  return { fetch: fetch as typeof globalThis.fetch, streams, responses, posts, last };
}

export const welcome: ServerFrame = { type: 'welcome', epoch: 'e', heartbeat: 15000 };
export const subscribed = (channel: string): ServerFrame => ({ type: 'subscribed', channel });
export const event = (channel: string, id: string, data: unknown = id): ServerFrame => ({
  type: 'event',
  channel,
  id,
  event: 'message',
  data,
});
