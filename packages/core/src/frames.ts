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
    if (
      ' welcome ping refresh ack error '.includes(` ${t} `) ||
      (' subscribed gap event '.includes(` ${t} `) &&
        typeof f.channel === 'string' &&
        (t !== 'event' || typeof f.id === 'string'))
    ) {
      f.event ??= 'message';
      return f;
    }
  } catch {}
  return undefined;
}
