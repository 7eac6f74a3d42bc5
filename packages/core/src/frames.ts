import type { ServerFrame } from './protocol';

const FIELDS: Record<string, string[]> = {
  welcome: [],
  ping: [],
  refresh: [],
  subscribed: ['channel'],
  event: ['channel', 'id'],
  gap: ['channel', 'reason'],
  error: ['code'],
  ack: ['ref', 'id'],
};

/**
 * Parses one frame; `undefined` when it is not JSON, has an unknown `type`, or
 * lacks a field the client relies on.
 * @internal
 */
export function parseFrame(text: unknown): ServerFrame | undefined {
  try {
    const f = JSON.parse(text as string) as Record<string, unknown> | null;
    if (FIELDS[f?.type as string]?.every((k) => typeof f?.[k] === 'string')) {
      if (f!.type === 'event') f!.event ??= 'message';
      return f as unknown as ServerFrame;
    }
  } catch {}
  return undefined;
}
