import type { ServerFrame } from '@tidewire/core/protocol';
import { openSse } from './sse-client.js';
import { openWs } from './ws-client.js';

export type Transport = 'sse' | 'websocket';

/** A channel to subscribe to and the position to resume from. */
export interface ChannelRequest {
  channel: string;
  since?: string;
}

/** A subscribed connection on either transport, seen as a list of frames. */
export interface Subscription {
  frames(): ServerFrame[];
  waitFor(predicate: (frame: ServerFrame) => boolean, ms?: number): Promise<ServerFrame>;
  /** The text of each WebSocket message or SSE block's data: frames joined by LF. */
  batches(): string[];
  /** Event frames only, in arrival order. */
  events(): Array<Extract<ServerFrame, { type: 'event' }>>;
  pause(): void;
  close(): void;
  /** Resolves when the server ends the connection. */
  ended: Promise<void>;
}

/**
 * Subscribes to `channels` with positions over one transport and waits until every
 * channel was answered (`subscribed` or `error`).
 */
export async function subscribe(
  transport: Transport,
  server: { base: string; wsBase: string },
  channels: ChannelRequest[],
  token?: string,
): Promise<Subscription> {
  const answered = (frames: ServerFrame[]): boolean =>
    channels.every(({ channel }) =>
      frames.some(
        (f) =>
          (f.type === 'subscribed' || f.type === 'error') &&
          'channel' in f &&
          f.channel === channel,
      ),
    );
  if (transport === 'sse') {
    const query = channels
      .map(
        ({ channel, since }) =>
          `channel=${encodeURIComponent(since === undefined ? channel : `${channel}@${since}`)}`,
      )
      .join('&');
    const headers: Record<string, string> =
      token === undefined ? {} : { authorization: `Bearer ${token}` };
    const sse = await openSse(`${server.base}/sse?${query}`, { headers });
    if (sse.status !== 200) throw new Error(`SSE refused: ${sse.status}`);
    await sse.waitFor(() => answered(sse.frames()));
    return {
      frames: sse.frames,
      waitFor: (p, ms) => sse.waitFor(p, ms),
      batches: () => sse.blocks.map((block) => block.data),
      events: () => sse.frames().filter((f) => f.type === 'event'),
      pause: sse.pause,
      close: sse.close,
      ended: sse.ended,
    };
  }
  const ws = await openWs(`${server.wsBase}/ws`);
  ws.send(token === undefined ? { type: 'auth' } : { type: 'auth', token });
  await ws.waitFor((f) => f.type === 'welcome');
  for (const { channel, since } of channels) {
    ws.send(
      since === undefined ? { type: 'subscribe', channel } : { type: 'subscribe', channel, since },
    );
  }
  await ws.waitFor(() => answered(ws.frames));
  return {
    frames: () => ws.frames,
    waitFor: (p, ms) => ws.waitFor(p, ms),
    batches: () => ws.messages,
    events: () => ws.frames.filter((f) => f.type === 'event'),
    pause: ws.pause,
    close: ws.close,
    ended: ws.closed.then(() => undefined),
  };
}
