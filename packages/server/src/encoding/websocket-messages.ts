import { MAX_MESSAGE_BYTES } from '../limits.js';
import { headerSize, textFrame, writeTextHeader } from './websocket-frames.js';

/** A server frame on its way to a WebSocket. */
export interface WsFrame {
  /** The frame's JSON text in UTF-8 (never contains a raw LF). */
  readonly json: Buffer;
  /** The frame alone as a complete text message, when one is shared by many sockets. */
  readonly wsMessage?: Buffer | undefined;
}

const LF = 0x0a;

/** What a queued frame counts toward a connection's send buffer. */
export function wsFrameBytes(frame: WsFrame): number {
  return frame.json.length + 1;
}

/**
 * `frames`, in order, as complete unmasked text messages in one buffer: each
 * message holds one or more frames joined by LF, as many as fit in `maxBytes`
 * of payload. A frame larger than `maxBytes` goes alone. A single frame with a
 * shared message is returned as is, without a copy.
 */
export function encodeTextMessages(
  frames: readonly WsFrame[],
  maxBytes: number = MAX_MESSAGE_BYTES,
): Buffer {
  const first = frames[0];
  if (first === undefined) return Buffer.alloc(0);
  if (frames.length === 1) return first.wsMessage ?? textFrame(first.json);

  // First pass: where each message ends and how long its payload is.
  const counts: number[] = [];
  const lengths: number[] = [];
  let count = 1;
  let length = first.json.length;
  let total = 0;
  for (let i = 1; i < frames.length; i++) {
    const next = (frames[i] as WsFrame).json.length;
    if (length + 1 + next > maxBytes) {
      counts.push(count);
      lengths.push(length);
      total += headerSize(length) + length;
      count = 1;
      length = next;
    } else {
      count += 1;
      length += 1 + next;
    }
  }
  counts.push(count);
  lengths.push(length);
  total += headerSize(length) + length;

  // Second pass: one allocation, headers and payloads copied in.
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  let index = 0;
  for (const [message, frameCount] of counts.entries()) {
    offset = writeTextHeader(out, offset, lengths[message] as number);
    for (let n = 0; n < frameCount; n++) {
      if (n > 0) out[offset++] = LF;
      offset += (frames[index++] as WsFrame).json.copy(out, offset);
    }
  }
  return out;
}
