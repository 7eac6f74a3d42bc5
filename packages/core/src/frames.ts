import type { ServerFrame } from './protocol';

/**
 * Parses one frame; `undefined` when it is not JSON or has an unknown `type`.
 * Routed frames must name their channel (and events their id).
 * @internal
 */
export function parseFrame(text: unknown): ServerFrame | undefined {
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
