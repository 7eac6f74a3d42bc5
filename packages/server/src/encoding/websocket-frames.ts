import type { ClientFrame } from '@tidewire/core/protocol';
import { exceedsJsonDepth } from '../json-depth.js';

/** A client frame checked for shape, or the error to answer it with. */
export type ParsedClientFrame =
  | { ok: true; frame: ClientFrame }
  | {
      ok: false;
      code: 'bad_json' | 'bad_frame' | 'unknown_type';
      message: string;
      /** The `ref` of a malformed `publish`, so that the client can match the error. */
      extra: { ref?: string };
    };

const isOptionalString = (value: unknown): value is string | undefined =>
  value === undefined || typeof value === 'string';

/** A whole number from 0, such as a rewind count. */
export const isCount = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Parses a WebSocket text frame (`undefined` for a binary one) into a client frame.
 * Unknown fields are ignored; known fields must have the right types. A frame nested deeper
 * than `maxDepth` levels is `bad_json`: its data could not be serialized again.
 */
export function parseClientFrame(
  text: string | undefined,
  maxDepth = Number.POSITIVE_INFINITY,
): ParsedClientFrame {
  if (text === undefined) return fail('bad_frame', 'binary frames are not supported');
  if (exceedsJsonDepth(text, maxDepth))
    return fail('bad_json', `the frame nests deeper than ${maxDepth} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('bad_json', 'the frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('bad_frame', 'a frame must be a JSON object');
  }
  const frame = value as Record<string, unknown>;
  const { type } = frame;
  if (typeof type !== 'string') return fail('bad_frame', 'type must be a string');
  switch (type) {
    case 'auth':
      if (!isOptionalString(frame.token)) return fail('bad_frame', 'token must be a string');
      return ok(frame.token === undefined ? { type } : { type, token: frame.token });
    case 'subscribe':
      if (typeof frame.channel !== 'string') return fail('bad_frame', 'channel must be a string');
      if (!isOptionalString(frame.since)) return fail('bad_frame', 'since must be a string');
      if (frame.rewind !== undefined && !isCount(frame.rewind)) {
        return fail('bad_frame', 'rewind must be a whole number from 0');
      }
      return ok({
        type,
        channel: frame.channel,
        ...(frame.since === undefined ? {} : { since: frame.since }),
        ...(frame.rewind ? { rewind: frame.rewind } : {}),
      });
    case 'unsubscribe':
      if (typeof frame.channel !== 'string') return fail('bad_frame', 'channel must be a string');
      return ok({ type, channel: frame.channel });
    case 'publish': {
      const { ref, channel, event } = frame;
      if (typeof ref !== 'string') return fail('bad_frame', 'ref must be a string');
      if (typeof channel !== 'string') return fail('bad_frame', 'channel must be a string', ref);
      if (!isOptionalString(event)) return fail('bad_frame', 'event must be a string', ref);
      if (!('data' in frame)) return fail('bad_frame', 'data is required', ref);
      const base = { type, ref, channel, data: frame.data };
      return ok(event === undefined ? base : { ...base, event });
    }
    default:
      return fail('unknown_type', 'unknown frame type');
  }
}

function ok(frame: ClientFrame): ParsedClientFrame {
  return { ok: true, frame };
}

function fail(
  code: 'bad_json' | 'bad_frame' | 'unknown_type',
  message: string,
  ref?: string,
): ParsedClientFrame {
  return { ok: false, code, message, extra: ref === undefined ? {} : { ref } };
}

/** Bytes of the header of an unmasked frame whose payload takes `length` bytes. */
export function headerSize(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * Writes the header of an unmasked, final text frame (RFC 6455 §5.2) of `length`
 * payload bytes into `target` at `offset`; returns the offset after it.
 */
export function writeTextHeader(target: Buffer, offset: number, length: number): number {
  target[offset] = 0x81; // FIN + opcode 1 (text)
  const size = headerSize(length);
  if (size === 2) {
    target[offset + 1] = length;
  } else if (size === 4) {
    target[offset + 1] = 126;
    target.writeUInt16BE(length, offset + 2);
  } else {
    target[offset + 1] = 127;
    target.writeUInt32BE(Math.floor(length / 2 ** 32), offset + 2);
    target.writeUInt32BE(length >>> 0, offset + 6);
  }
  return offset + size;
}

/**
 * `payload` (UTF-8 text or its bytes) as one complete, unmasked, final WebSocket
 * text frame: header and payload in one buffer, encoded once and written as is
 * to every subscriber's socket.
 */
export function textFrame(payload: string | Buffer): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const frame = Buffer.allocUnsafe(headerSize(length) + length);
  const offset = writeTextHeader(frame, 0, length);
  if (typeof payload === 'string') frame.write(payload, offset, 'utf8');
  else payload.copy(frame, offset);
  return frame;
}
