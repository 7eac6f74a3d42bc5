import type { ServerFrame } from '@tidewire/core/protocol';
import { onTestFinished } from 'vitest';
import { waitUntil } from './wait.js';

/** One frame of an event stream. */
export interface SseMessage {
  /** The `id:` line of the frame's block, if it had one: the last event's of the block, or the position an opening ends on. */
  id: string | undefined;
  /** Index of the frame's block in `blocks`. */
  block: number;
  frame: ServerFrame;
}

/** One dispatched block of an event stream, as an `EventSource` would see it. */
export interface SseBlock {
  id: string | undefined;
  /** The block's `data:` lines joined by LF: one or more frames. */
  data: string;
}

/** An SSE stream read over fetch, parsed into frames as they arrive. */
export interface SseClient {
  status: number;
  headers: Headers;
  /** Every frame so far, in order. */
  messages: SseMessage[];
  /** Every block with data so far, in order. */
  blocks: SseBlock[];
  frames(): ServerFrame[];
  /** Lines in arrival order, comments and `retry:` included, for format checks. */
  lines: string[];
  /** The stream's last event id. */
  lastEventId(): string | undefined;
  /** Waits for a frame matching `predicate` (already received ones count). */
  waitFor<F extends ServerFrame>(
    predicate: (frame: ServerFrame) => frame is F,
    ms?: number,
  ): Promise<F>;
  waitFor(predicate: (frame: ServerFrame) => boolean, ms?: number): Promise<ServerFrame>;
  /** Resolves when the server ends or drops the stream. */
  ended: Promise<void>;
  /** Stops reading without closing: the server's send buffer fills up. */
  pause(): void;
  close(): void;
}

/** Opens `GET url` as an event stream; a non-200 answer is returned without reading. */
export async function openSse(url: string, init: { headers?: Record<string, string> } = {}) {
  const controller = new AbortController();
  onTestFinished(() => controller.abort());
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...init.headers },
    signal: controller.signal,
  });
  const messages: SseMessage[] = [];
  const blocks: SseBlock[] = [];
  const lines: string[] = [];
  let lastId: string | undefined;
  let paused = false;
  let resumeReading: (() => void) | undefined;

  // As an EventSource does: the data lines joined by LF, then split back into frames.
  const parse = (text: string): void => {
    const data: string[] = [];
    let id: string | undefined;
    for (const line of text.split('\n')) {
      lines.push(line);
      if (line.startsWith('data: ')) data.push(line.slice(6));
      else if (line.startsWith('id: ')) id = line.slice(4);
    }
    if (id !== undefined) lastId = id;
    if (data.length === 0) return;
    const block = blocks.push({ id, data: data.join('\n') }) - 1;
    for (const json of (blocks[block] as SseBlock).data.split('\n')) {
      messages.push({ id, block, frame: JSON.parse(json) as ServerFrame });
    }
  };

  const ended = (async () => {
    if (response.body === null) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        if (paused) await new Promise<void>((resolve) => (resumeReading = resolve));
        const { done, value } = await reader.read();
        if (done) return;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted or dropped by the server: the stream has ended either way.
    }
  })();

  const client: SseClient = {
    status: response.status,
    headers: response.headers,
    messages,
    blocks,
    lines,
    frames: () => messages.map((m) => m.frame),
    lastEventId: () => lastId,
    waitFor: (predicate: (frame: ServerFrame) => boolean, ms = 3000) =>
      waitUntil(() => messages.find((m) => predicate(m.frame))?.frame, ms, 'SSE frame'),
    ended,
    pause: () => {
      paused = true;
    },
    close: () => {
      paused = false;
      resumeReading?.();
      controller.abort();
    },
  };
  return client;
}

/** Reads a non-stream JSON error body. */
export async function errorBody(response: Response): Promise<{ code: string; message: string }> {
  return (await response.json()) as { code: string; message: string };
}
