import { DEFAULT_EVENT_TYPE } from '@tidewire/core/protocol';
import type { StoredEvent } from '../engine/engine.js';
import type { SseFrame } from './sse-blocks.js';
import { textFrame } from './websocket-frames.js';
import type { WsFrame } from './websocket-messages.js';

/**
 * One event on its way out, with each wire form encoded at most once however
 * many subscribers receive it: a subscriber queues a reference to it, and its
 * connection joins the pieces it needs when the tick ends. A live event gets one
 * for all the subscribers of the node. Every form is built on first use, so a
 * node whose clients all speak version 2 never builds a version 1 frame.
 */
export class OutgoingEvent implements WsFrame, SseFrame {
  /** The event as the engine stored it. */
  readonly stored: StoredEvent;
  #frame: string | undefined;
  #json: Buffer | undefined;
  #wsMessage: Buffer | undefined;
  #sseData: Buffer | undefined;
  #sseId: Buffer | undefined;
  #sseBlock: Buffer | undefined;
  #sseNamed: Buffer | undefined;
  #sseLine: Buffer | undefined;
  #wsLine: WsFrame | undefined;

  constructor(stored: StoredEvent) {
    this.stored = stored;
  }

  /** The v1 `event` frame as JSON: `{"type":"event","channel":…,"id":"…","event":…,"data":…}`. */
  get frame(): string {
    if (this.#frame === undefined) {
      const { channel, id, event, dataJson } = this.stored;
      this.#frame = `{"type":"event","channel":${quote(channel)},"id":"${id}","event":${quote(event)},"data":${dataJson}}`;
    }
    return this.#frame;
  }

  /** The v1 `event` frame's JSON in UTF-8. */
  get json(): Buffer {
    this.#json ??= Buffer.from(this.frame);
    return this.#json;
  }

  /** The v1 `event` frame alone as a complete WebSocket text message, header included. */
  get wsMessage(): Buffer {
    this.#wsMessage ??= textFrame(this.frame);
    return this.#wsMessage;
  }

  /** The v1 `data:` line of the SSE stream. */
  get sseData(): Buffer {
    this.#sseData ??= Buffer.from(`data: ${this.frame}\n`);
    return this.#sseData;
  }

  /** The `id:` line of the SSE stream (v1). */
  get sseId(): Buffer {
    this.#sseId ??= Buffer.from(`id: ${this.stored.id}\n`);
    return this.#sseId;
  }

  /** The v1 event alone as a complete SSE block. */
  get sseBlock(): Buffer {
    this.#sseBlock ??= Buffer.from(`data: ${this.frame}\nid: ${this.stored.id}\n\n`);
    return this.#sseBlock;
  }

  /**
   * Version 2, form C: the event as a complete named block, readable by a plain `EventSource`
   * (`event: <channel>`, `id: <id>`, `type: <type>` unless it is `message`, `data: <data>`).
   */
  get sseNamed(): Buffer {
    if (this.#sseNamed === undefined) {
      const { channel, id, event, dataJson } = this.stored;
      this.#sseNamed = Buffer.from(
        `event: ${channel}\nid: ${id}\n${typeLine(event)}data: ${dataJson}\n\n`,
      );
    }
    return this.#sseNamed;
  }

  /** Version 2, form E: the event's line in a block of its channel and type, `data: <id> <data>`. */
  get sseLine(): Buffer {
    this.#sseLine ??= Buffer.from(`data: ${this.stored.id} ${this.stored.dataJson}\n`);
    return this.#sseLine;
  }

  /**
   * Version 2 on WebSocket: the event line `<channel> <type> <id> <data>`, the type empty when it
   * is `message`. Joined by LF with the tick's other lines and frames, like a v1 frame.
   */
  get wsLine(): WsFrame {
    if (this.#wsLine === undefined) {
      const { channel, id, event, dataJson } = this.stored;
      const type = event === DEFAULT_EVENT_TYPE ? '' : event;
      this.#wsLine = new WsLine(Buffer.from(`${channel} ${type} ${id} ${dataJson}`));
    }
    return this.#wsLine;
  }
}

/** A version 2 WebSocket event line: its complete message is built only when it goes alone. */
class WsLine implements WsFrame {
  readonly json: Buffer;
  #message: Buffer | undefined;

  constructor(line: Buffer) {
    this.json = line;
  }

  get wsMessage(): Buffer {
    this.#message ??= textFrame(this.json);
    return this.#message;
  }
}

/** The `type:` line of a version 2 SSE event: none for the default type. */
export function typeLine(event: string): string {
  return event === DEFAULT_EVENT_TYPE ? '' : `type: ${event}\n`;
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
