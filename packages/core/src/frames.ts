import type { ServerFrame } from './protocol';

/**
 * A copy of a string that does not point into the text it was cut from (about 50 ns). Ids are
 * kept long after their event (a channel's position and last event), and the text they are cut
 * from is a whole WebSocket message (up to 64 KiB of lines) or SSE network chunk: without the
 * copy each channel's position would keep its chunk alive. `openStream` copies its SSE data for
 * the same reason.
 * @internal
 */
export const own = (s: string): string => ` ${s}`.slice(1);

/**
 * Parses one frame that is not an event (JSON); `type` names it when the JSON does not (SSE:
 * the event name after its `@`). `undefined` when it is not a JSON object. Its fields are
 * checked where they are used: a frame of an unknown type, or without a channel known to the
 * client, changes nothing.
 * @internal
 */
export function parseFrame(json: string, type?: string): ServerFrame | undefined {
  try {
    const f = JSON.parse(json);
    // Throws for anything but an object: a property cannot be set on null or a primitive.
    f.type ??= type;
    return f;
  } catch {
    return undefined;
  }
}
