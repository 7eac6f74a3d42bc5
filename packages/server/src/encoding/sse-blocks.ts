import { MAX_MESSAGE_BYTES } from '../limits.js';

/** A server frame on its way to an event stream. */
export interface SseFrame {
  /** `data: <json>\n`; empty for a {@link ssePosition}. */
  readonly sseData: Buffer;
  /** `id: <position>\n`: an `event` frame's id, or a position the stream has reached. */
  readonly sseId?: Buffer | undefined;
  /** The frame alone as a complete block, when one is shared by many streams. */
  readonly sseBlock?: Buffer | undefined;
}

/** A frame, or lines written as they are between blocks (`retry:`, a `: ping` comment). */
export type SsePiece = SseFrame | Buffer;

const BLANK_LINE = Buffer.from('\n');
const NO_DATA = Buffer.alloc(0);

/**
 * A frame that is not an event, as a piece of the stream. With `id`, its block
 * carries that id, unless a later piece of the same block carries another.
 */
export function sseFrame(json: string, id?: string): SseFrame {
  const sseData = Buffer.from(`data: ${json}\n`);
  return id === undefined ? { sseData } : { sseData, sseId: Buffer.from(`id: ${id}\n`) };
}

/**
 * The position `id` that the stream has reached, without a frame: it becomes the
 * `id:` line of the block it joins. It joins the open block whatever that block's
 * size, and makes a block of its own (an `id:` line alone) only when none is open.
 */
export function ssePosition(id: string): SseFrame {
  return { sseData: NO_DATA, sseId: Buffer.from(`id: ${id}\n`) };
}

/** What a queued piece counts toward a stream's send buffer. */
export function ssePieceBytes(piece: SsePiece): number {
  if (Buffer.isBuffer(piece)) return piece.length;
  return piece.sseData.length + (piece.sseId?.length ?? 0) + 1;
}

/**
 * `pieces`, in order, as event-stream text: consecutive frames share a block,
 * one `data:` line each, while those lines (prefix and line break included)
 * stay within `maxBytes`, so that a client counting the block as it arrives
 * sees at most `maxBytes` plus the `id:` line
 * (a larger frame goes alone). A block whose pieces carry ids ends with one `id:`
 * line, the last of them (an event's, or a position's), so that the stream's last
 * event id is still the newest position delivered. A block without one has no
 * `id:` line. Lines given as a buffer close the open block first.
 */
export function encodeSseBlocks(
  pieces: readonly SsePiece[],
  maxBytes: number = MAX_MESSAGE_BYTES,
): Buffer {
  const first = pieces[0];
  if (pieces.length === 1 && first !== undefined) {
    if (Buffer.isBuffer(first)) return first;
    if (first.sseBlock !== undefined) return first.sseBlock;
  }
  const out: Buffer[] = [];
  let total = 0;
  const add = (chunk: Buffer): void => {
    out.push(chunk);
    total += chunk.length;
  };
  /** Bytes of the open block's `data:` lines; -1 when no block is open. */
  let joined = -1;
  let id: Buffer | undefined;
  const closeBlock = (): void => {
    if (joined < 0) return;
    if (id !== undefined) add(id);
    add(BLANK_LINE);
    joined = -1;
    id = undefined;
  };
  for (const piece of pieces) {
    if (Buffer.isBuffer(piece)) {
      closeBlock();
      add(piece);
      continue;
    }
    const line = piece.sseData.length;
    if (joined >= 0 && line > 0 && joined + line > maxBytes) closeBlock();
    joined = joined < 0 ? line : joined + line;
    add(piece.sseData);
    if (piece.sseId !== undefined) id = piece.sseId;
  }
  closeBlock();
  return Buffer.concat(out, total);
}
