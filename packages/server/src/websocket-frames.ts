import type { ClientFrame } from '@tidewire/core/protocol';

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

/**
 * Parses a WebSocket text frame (`undefined` for a binary one) into a client frame.
 * Unknown fields are ignored; known fields must have the right types.
 */
export function parseClientFrame(text: string | undefined): ParsedClientFrame {
  if (text === undefined) return fail('bad_frame', 'binary frames are not supported');
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
      return ok(
        frame.since === undefined
          ? { type, channel: frame.channel }
          : { type, channel: frame.channel, since: frame.since },
      );
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

/**
 * `text` as one complete, unmasked, final WebSocket text frame (RFC 6455 §5.2):
 * header and UTF-8 payload in one buffer, encoded once and written as is to
 * every subscriber's socket.
 */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}
