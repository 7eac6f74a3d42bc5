import type { ServerFrame } from '../src/protocol';

/**
 * A frame as a version 2 WebSocket line: an event as `<channel> <type> <id> <data>` (the type
 * empty for `message`), any other frame as JSON; a string is sent as it is.
 */
export const wsLine = (frame: ServerFrame | string): string => {
  if (typeof frame === 'string') return frame;
  if (frame.type !== 'event') return JSON.stringify(frame);
  const type = frame.event === 'message' ? '' : frame.event;
  return `${frame.channel} ${type} ${frame.id} ${JSON.stringify(frame.data)}`;
};

/**
 * Frames as version 2 SSE blocks in the batched form (E): a run of events of one channel and type
 * in one block of `data: <id> <data>` lines, any other frame a block `event: @<type>`. A string
 * is one `data:` line of an unnamed block. `id` adds an `id:` line to the last block.
 */
export const sseBlocks = (frames: (ServerFrame | string)[], id?: string): string => {
  const blocks: string[] = [];
  let run: { channel: string; type: string; lines: string[] } | undefined;
  const end = () => {
    if (!run) return;
    const type = run.type === 'message' ? '' : `type: ${run.type}\n`;
    blocks.push(`event: ${run.channel}\n${type}${run.lines.join('')}`);
    run = undefined;
  };
  for (const f of frames) {
    if (typeof f !== 'string' && f.type === 'event') {
      if (run?.channel !== f.channel || run.type !== f.event) {
        end();
        run = { channel: f.channel, type: f.event, lines: [] };
      }
      run.lines.push(`data: ${f.id} ${JSON.stringify(f.data)}\n`);
      continue;
    }
    end();
    if (typeof f === 'string') blocks.push(`data: ${f}\n`);
    else {
      const { type, ...fields } = f;
      blocks.push(`event: @${type}\ndata: ${JSON.stringify(fields)}\n`);
    }
  }
  end();
  if (id !== undefined) blocks.push(`${blocks.pop() ?? ''}id: ${id}\n`);
  return blocks.map((b) => `${b}\n`).join('');
};

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
  /** The URL it was opened with, without its query. */
  get path(): string {
    return this.url.split('?')[0]!;
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
  /** One message: a frame in its version 2 form (see {@link wsLine}), or a string as it is. */
  receive(frame: ServerFrame | string) {
    this.fire('message', { data: wsLine(frame) });
  }
  /** Several frames in one message, one per line, as a server joins them. */
  receiveAll(frames: (ServerFrame | string)[]) {
    this.fire('message', { data: frames.map(wsLine).join('\n') });
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
  /** The request's method: the client sends its channel set in a POST body. */
  method: string;
  /** The request's body, as sent. */
  body: string;
  /** The body's parameters (the query's when there is no body). */
  params: URLSearchParams;
  /** The `channel` parameters, in order. */
  channels: string[];
  headers: Record<string, string>;
  aborted: boolean;
  /** One frame in its version 2 form (see {@link sseBlocks}), or a string as one `data:` line. */
  push(frame: ServerFrame | string, id?: string): void;
  /** Several frames, as a server writes the frames of one tick: events in runs, in version 2. */
  block(frames: (ServerFrame | string)[], id?: string): void;
  /** Text written to the stream as it is. */
  raw(text: string): void;
  end(): void;
  /** Whether `end()` ran. */
  ended: boolean;
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
    const body = typeof init.body === 'string' ? init.body : '';
    const queued = responses.shift();
    if (queued === 'hang')
      return new Promise((_, reject) =>
        init.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    if (init.method === 'POST' && url.endsWith('/publish')) {
      posts.push({ url, headers, body: JSON.parse(String(init.body)) });
      return queued ?? Response.json({ id: `p${posts.length}` });
    }
    if (queued) return queued;
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        ctrl = c;
      },
    });
    const params = new URLSearchParams(body || url.split('?')[1]);
    const s: FakeStream = {
      url,
      method: init.method ?? 'GET',
      body,
      params,
      channels: params.getAll('channel'),
      headers,
      aborted: false,
      push: (frame, id) => s.raw(sseBlocks([frame], id)),
      block: (frames, id) => s.raw(sseBlocks(frames, id)),
      raw(text) {
        if (!s.aborted) ctrl.enqueue(enc.encode(text));
      },
      end() {
        if (!s.ended && !s.aborted) ctrl.close();
        s.ended = true;
      },
      ended: false,
    };
    init.signal?.addEventListener('abort', () => {
      s.aborted = true;
    });
    streams.push(s);
    return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
  };
  const last = () => streams[streams.length - 1]!;
  return { fetch: fetch as typeof globalThis.fetch, streams, responses, posts, last };
}

export const welcome: ServerFrame = { type: 'welcome', epoch: 'e', heartbeat: 15000 };
export const subscribed = (channel: string): ServerFrame => ({ type: 'subscribed', channel });
export const event = (
  channel: string,
  id: string,
  data: unknown = id,
  type = 'message',
): ServerFrame => ({
  type: 'event',
  channel,
  id,
  event: type,
  data,
});
