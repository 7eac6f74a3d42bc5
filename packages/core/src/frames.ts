import type { ServerFrame } from './protocol';

/**
 * An event frame laid out as `@tidewire/server` writes it, with no escapes in its strings. Its
 * envelope is read by this expression and only its data goes through `JSON.parse`: a third less
 * parse time per event. Anything else (other layouts, escapes, trailing bytes) is parsed whole.
 */
const EVENT =
  /^\{"type":"event","channel":"([^"\\]*)","id":"([^"\\]*)","event":"([^"\\]{0,12})","data":(.*)\}$/s;

/**
 * A copy of a captured string that does not point into the text it was captured from (about
 * 50 ns). Ids are kept long after their frame (a channel's position and last event), and that
 * text is a slice of a whole message (up to 64 KiB of joined frames) or SSE network chunk: without
 * the copy each channel's position would keep its message alive.
 * The event type needs none: the expression takes only types under 13 characters, which V8
 * copies anyway (longer ones are parsed whole). `openStream` copies its SSE data for the same reason.
 * @internal
 */
export const own = (s: string): string => ` ${s}`.slice(1);

/**
 * The frames of one WebSocket message: a server may join several, one per line (JSON text never
 * holds a raw line break). Over SSE each `data:` line is one frame already.
 * @internal
 */
export const splitFrames = (data: unknown): unknown[] =>
  typeof data === 'string' && data.includes('\n') ? data.split('\n') : [data];

/**
 * Parses one frame; `undefined` when it is not JSON or has an unknown `type`.
 * Routed frames must name their channel (and events their id).
 * @internal
 */
export function parseFrame(text: unknown): ServerFrame | undefined {
  const m = EVENT.exec(text as string);
  try {
    if (m)
      return {
        type: 'event',
        channel: m[1]!,
        id: own(m[2]!),
        event: m[3]!,
        data: JSON.parse(m[4]!),
      };
  } catch {}
  try {
    const f = JSON.parse(text as string);
    const t = f?.type;
    // Events first, and no string built per frame: this runs once per event.
    if (
      t === 'event'
        ? typeof f.channel === 'string' && typeof f.id === 'string'
        : /^(welcome|ping|refresh|ack|error)$/.test(t) ||
          (/^(subscribed|gap)$/.test(t) && typeof f.channel === 'string')
    ) {
      f.event ??= 'message';
      return f;
    }
  } catch {}
  return undefined;
}
