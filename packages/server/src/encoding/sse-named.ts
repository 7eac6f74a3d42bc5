import { MAX_MESSAGE_BYTES } from '../limits.js';
import { OutgoingEvent, typeLine } from './outgoing-event.js';

/**
 * A version 2 piece of an event stream that is not an event: a control frame (`@welcome`,
 * `@subscribed`, `@gap`, `@error`) with its JSON, or, without `name`, the position `id` that
 * the stream has reached.
 */
export interface SseControl {
  /** The SSE event name, `@` and the frame's type; absent for a position. */
  readonly name?: string;
  /** The frame's JSON without its `type`; absent for a position. */
  readonly json?: string;
  /** The `id:` line of the block: a position. */
  readonly id?: string | undefined;
}

/** An event, a control frame or a position, or lines written as they are (`retry:`, `: ping`). */
export type SseNamedPiece = OutgoingEvent | SseControl | Buffer;

const BLANK_LINE = Buffer.from('\n');

/** What a queued piece counts toward a stream's send buffer. */
export function sseNamedBytes(piece: SseNamedPiece, batch: boolean): number {
  if (Buffer.isBuffer(piece)) return piece.length;
  if (piece instanceof OutgoingEvent) return batch ? piece.sseLine.length : piece.sseNamed.length;
  return (piece.name?.length ?? 0) + (piece.json?.length ?? 0) + (piece.id?.length ?? 0) + 20;
}

/**
 * Version 2 event-stream text for `pieces`, in order (PROTOCOL.md, "Server-Sent Events
 * transport"). Each control frame is a block of its own, `event: @<type>` and one `data:` line.
 * A position joins the open control block as its `id:` line, or is an `id:` line alone. Events:
 *
 * - form C (`batch` false): each event a block of its own, named after its channel, with its
 *   `id:` line: what a plain `EventSource` reads;
 * - form E (`batch` true): a run of consecutive events of one channel and type shares a block
 *   (`event:`, `type:` unless `message`, then a `data: <id> <data>` line per event) while those
 *   lines stay within `maxBytes`; the ids travel in the lines, and the block has no `id:` line.
 */
export function encodeSseNamed(
  pieces: readonly SseNamedPiece[],
  batch: boolean,
  maxBytes: number = MAX_MESSAGE_BYTES,
): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  const add = (chunk: Buffer): void => {
    out.push(chunk);
    total += chunk.length;
  };
  /** The open block: a control block, whose `id:` may still come, or a run of events (E). */
  let open: 'control' | 'run' | undefined;
  let id: string | undefined;
  /** The run's channel and type, and the bytes of its `data:` lines so far. */
  let runChannel = '';
  let runType = '';
  let runBytes = 0;
  const closeBlock = (): void => {
    if (open === undefined) return;
    if (id !== undefined) add(Buffer.from(`id: ${id}\n`));
    add(BLANK_LINE);
    open = undefined;
    id = undefined;
  };
  for (const piece of pieces) {
    if (Buffer.isBuffer(piece)) {
      closeBlock();
      add(piece);
    } else if (piece instanceof OutgoingEvent) {
      if (!batch) {
        closeBlock();
        add(piece.sseNamed);
        continue;
      }
      const { channel, event } = piece.stored;
      const line = piece.sseLine;
      const joins =
        open === 'run' &&
        channel === runChannel &&
        event === runType &&
        runBytes + line.length <= maxBytes;
      if (!joins) {
        closeBlock();
        add(Buffer.from(`event: ${channel}\n${typeLine(event)}`));
        open = 'run';
        runChannel = channel;
        runType = event;
        runBytes = 0;
      }
      add(line);
      runBytes += line.length;
    } else if (piece.name !== undefined) {
      closeBlock();
      add(Buffer.from(`event: ${piece.name}\ndata: ${piece.json}\n`));
      open = 'control';
      id = piece.id;
    } else if (open === 'control') {
      id = piece.id;
    } else {
      closeBlock();
      if (piece.id !== undefined) add(Buffer.from(`id: ${piece.id}\n\n`));
    }
  }
  closeBlock();
  return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out, total);
}
