import type { ServerFrame } from '@tidewire/core/protocol';
import { describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './utils/server.js';
import { errorBody, openSse } from './utils/sse-client.js';
import { openAuthedWs } from './utils/ws-client.js';

/** Publishes `n` events on `channel` one after another; returns their ids. */
async function publishMany(server: TestServer, channel: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await server.tw.publish(channel, i)).id);
  return ids;
}

const eventIds = (frames: ServerFrame[], channel: string) =>
  frames.flatMap((f) => (f.type === 'event' && f.channel === channel ? [f.id] : []));

describe('rewind over SSE', () => {
  it('should replay the newest events, then live ones, with no gap', async () => {
    const server = await startServer();
    const ids = await publishMany(server, 'prices', 20);
    await publishMany(server, 'other', 3);
    const sse = await openSse(`${server.base}/sse?channel=prices~5&channel=news`);
    await sse.waitFor((f) => f.type === 'event' && f.id === ids[19]);
    const live = (await server.tw.publish('prices', 'live')).id;
    await sse.waitFor((f) => f.type === 'event' && f.id === live);
    expect(eventIds(sse.frames(), 'prices')).toEqual([...ids.slice(15), live]);
    expect(sse.frames().some((f) => f.type === 'gap')).toBe(false);
    expect(eventIds(sse.frames(), 'news')).toEqual([]);
  });

  it('should give all it keeps when asked for more, and cut a rewind to maxRewind', async () => {
    const server = await startServer({ limits: { maxRewind: 4 } });
    const ids = await publishMany(server, 'prices', 10);
    const few = await publishMany(server, 'quiet', 2);
    const sse = await openSse(`${server.base}/sse?channel=prices~1000&channel=quiet~1000`);
    await sse.waitFor((f) => f.type === 'event' && f.id === ids[9]);
    expect(eventIds(sse.frames(), 'prices')).toEqual(ids.slice(6));
    expect(eventIds(sse.frames(), 'quiet')).toEqual(few);
  });

  it('should let a position win over a rewind, and Last-Event-ID too', async () => {
    const server = await startServer();
    const ids = await publishMany(server, 'prices', 10);
    const explicit = await openSse(`${server.base}/sse?channel=prices~3&channel=prices@${ids[7]}`);
    await explicit.waitFor((f) => f.type === 'event' && f.id === ids[9]);
    expect(eventIds(explicit.frames(), 'prices')).toEqual(ids.slice(8));
    const resumed = await openSse(`${server.base}/sse?channel=prices~3`, {
      headers: { 'Last-Event-ID': ids[8] ?? '' },
    });
    await resumed.waitFor((f) => f.type === 'event' && f.id === ids[9]);
    expect(eventIds(resumed.frames(), 'prices')).toEqual(ids.slice(9));
  });

  it('should refuse a rewind that is not a whole number', async () => {
    const server = await startServer();
    for (const query of ['prices~', 'prices~-1', 'prices~1.5', 'prices~x']) {
      const response = await fetch(`${server.base}/sse?channel=${query}`);
      expect(response.status).toBe(400);
      expect(await errorBody(response)).toMatchObject({ code: expect.any(String) });
    }
  });
});

describe('rewind over WebSocket', () => {
  it('should replay the newest events, then live ones', async () => {
    const server = await startServer();
    const ids = await publishMany(server, 'room', 12);
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'room', rewind: 3 });
    await ws.waitFor((f) => f.type === 'event' && f.id === ids[11]);
    const live = (await server.tw.publish('room', 'live')).id;
    await ws.waitFor((f) => f.type === 'event' && f.id === live);
    expect(eventIds(ws.frames, 'room')).toEqual([...ids.slice(9), live]);
    // A rewind on a channel without history replays nothing and goes live.
    ws.send({ type: 'subscribe', channel: 'empty', rewind: 3 });
    await ws.waitFor((f) => f.type === 'subscribed' && f.channel === 'empty');
  });

  it('should let since win, and refuse a bad rewind without closing', async () => {
    const server = await startServer();
    const ids = await publishMany(server, 'room', 6);
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'room', since: ids[3], rewind: 5 });
    await ws.waitFor((f) => f.type === 'event' && f.id === ids[5]);
    expect(eventIds(ws.frames, 'room')).toEqual(ids.slice(4));
    ws.send({ type: 'subscribe', channel: 'other', rewind: -2 });
    await ws.waitFor((f) => f.type === 'error' && f.code === 'bad_frame');
    ws.send({ type: 'subscribe', channel: 'other' });
    await ws.waitFor((f) => f.type === 'subscribed' && f.channel === 'other');
  });
});
