import { onTestFinished } from 'vitest';
import { waitUntil } from './wait.js';

/** One block of a version 2 event stream, as the HTML Standard interprets it. */
export interface NamedBlock {
  /** The `event:` field: a channel, or `@` and a control frame's type; `message` without one. */
  event: string;
  /** The block's own `id:` field, if it had one. */
  id: string | undefined;
  /** The stream's last event id after the block (what `EventSource#lastEventId` would read). */
  lastEventId: string;
  /** The `type:` field, if any. */
  type: string | undefined;
  /** The `data:` lines, in order. */
  data: string[];
}

/** An event as a client reads it from either form. */
export interface NamedEvent {
  channel: string;
  id: string;
  type: string;
  data: unknown;
}

/** A version 2 stream read over fetch. */
export interface NamedSse {
  status: number;
  headers: Headers;
  /** The raw text so far. */
  text(): string;
  /** Every block so far that had data or an id. */
  blocks: NamedBlock[];
  /** The control frames so far, `type` from the event name. */
  controls(): Array<{ type: string } & Record<string, unknown>>;
  /** The events so far: form C (one per block, id from `id:`) and form E (`<id> <data>` lines). */
  events(): NamedEvent[];
  lastEventId(): string;
  waitForEvents(count: number, ms?: number): Promise<NamedEvent[]>;
  /** Resolves when the response ends. */
  ended: Promise<void>;
  close(): void;
}

/**
 * Opens a stream with `GET url`, or `POST url` with `body` (the parameters, form-encoded), and
 * reads it block by block as an `EventSource` would.
 */
export async function openNamedSse(
  url: string,
  init: { body?: string; headers?: Record<string, string> } = {},
): Promise<NamedSse> {
  const controller = new AbortController();
  onTestFinished(() => controller.abort());
  const response = await fetch(url, {
    method: init.body === undefined ? 'GET' : 'POST',
    body: init.body ?? null,
    headers: { accept: 'text/event-stream', ...init.headers },
    signal: controller.signal,
  });
  let raw = '';
  let lastEventId = '';
  const blocks: NamedBlock[] = [];
  const parse = (block: string): void => {
    const fields: Record<string, string> = {};
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'data') data.push(value);
      else fields[name] = value;
    }
    if (fields.id !== undefined) lastEventId = fields.id;
    if (data.length === 0 && fields.id === undefined) return;
    blocks.push({
      event: fields.event ?? 'message',
      id: fields.id,
      lastEventId,
      type: fields.type,
      data,
    });
  };
  const ended = (async () => {
    if (response.body === null) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        raw += value;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted, or dropped by the server.
    }
  })();
  const events = (): NamedEvent[] =>
    blocks.flatMap((b) => {
      if (b.event.startsWith('@') || b.data.length === 0) return [];
      const type = b.type ?? 'message';
      // Form E: `<id> <data>` lines; form C: one line of data, the id in `id:`.
      const lines = b.id === undefined || b.data.length > 1 ? b.data : undefined;
      if (lines === undefined) {
        return [{ channel: b.event, id: b.id as string, type, data: JSON.parse(b.data[0]!) }];
      }
      return lines.map((line) => {
        const space = line.indexOf(' ');
        return {
          channel: b.event,
          id: line.slice(0, space),
          type,
          data: JSON.parse(line.slice(space + 1)),
        };
      });
    });
  return {
    status: response.status,
    headers: response.headers,
    text: () => raw,
    blocks,
    controls: () =>
      blocks
        .filter((b) => b.event.startsWith('@'))
        .flatMap((b) => b.data.map((d) => ({ ...JSON.parse(d), type: b.event.slice(1) }))),
    events,
    lastEventId: () => lastEventId,
    waitForEvents: (count, ms = 3000) =>
      waitUntil(() => (events().length >= count ? events() : undefined), ms, `${count} events`),
    ended,
    close: () => controller.abort(),
  };
}
