import type { StoredEvent } from '../engine/engine.js';
import type { SseFrame } from './sse-blocks.js';
import { textFrame } from './websocket-frames.js';
import type { WsFrame } from './websocket-messages.js';

/**
 * One event on its way out, with each wire form encoded at most once however
 * many subscribers receive it: a subscriber queues a reference to it, and its
 * connection joins the pieces it needs when the tick ends. A live event gets one
 * for all the subscribers of the node.
 */
export class OutgoingEvent implements WsFrame, SseFrame {
  /** The event as the engine stored it. */
  readonly stored: StoredEvent;
  /** The v1 `event` frame as JSON: `{"type":"event","channel":…,"id":"…","event":…,"data":…}`. */
  readonly frame: string;
  #json: Buffer | undefined;
  #wsMessage: Buffer | undefined;
  #sseData: Buffer | undefined;
  #sseId: Buffer | undefined;
  #sseBlock: Buffer | undefined;

  constructor(stored: StoredEvent) {
    this.stored = stored;
    const { channel, id, event, dataJson } = stored;
    this.frame = `{"type":"event","channel":${quote(channel)},"id":"${id}","event":${quote(event)},"data":${dataJson}}`;
  }

  /** The `event` frame's JSON in UTF-8. */
  get json(): Buffer {
    this.#json ??= Buffer.from(this.frame);
    return this.#json;
  }

  /** The `event` frame alone as a complete WebSocket text message, header included. */
  get wsMessage(): Buffer {
    this.#wsMessage ??= textFrame(this.frame);
    return this.#wsMessage;
  }

  /** The `data:` line of the SSE stream. */
  get sseData(): Buffer {
    this.#sseData ??= Buffer.from(`data: ${this.frame}\n`);
    return this.#sseData;
  }

  /** The `id:` line of the SSE stream. */
  get sseId(): Buffer {
    this.#sseId ??= Buffer.from(`id: ${this.stored.id}\n`);
    return this.#sseId;
  }

  /** The event alone as a complete SSE block. */
  get sseBlock(): Buffer {
    this.#sseBlock ??= Buffer.from(`data: ${this.frame}\nid: ${this.stored.id}\n\n`);
    return this.#sseBlock;
  }
}

/** Characters of an `event` frame besides its channel, id, type and data. */
const FRAME_ENVELOPE = '{"type":"event","channel":,"id":"","event":,"data":}'.length;

/**
 * The length of `stored`'s `event` frame in UTF-16 units, without building it: what a
 * replay page counts toward a connection's send buffer.
 */
export function frameLength(stored: StoredEvent): number {
  return (
    FRAME_ENVELOPE +
    quote(stored.channel).length +
    stored.id.length +
    quote(stored.event).length +
    stored.dataJson.length
  );
}

// Channel names and event types repeat: quote each once (bounded, so that names
// that never come back cannot grow it for ever).
const quoted = new Map<string, string>();
const QUOTED_KEPT = 4096;

function quote(text: string): string {
  let json = quoted.get(text);
  if (json === undefined) {
    json = JSON.stringify(text);
    if (quoted.size >= QUOTED_KEPT) quoted.clear();
    quoted.set(text, json);
  }
  return json;
}
