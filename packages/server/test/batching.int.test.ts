import type { ServerFrame } from '@tidewire/core/protocol';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../src/limits.js';
import { idsOf, startServer } from './utils/server.js';
import { openSse } from './utils/sse-client.js';
import { subscribe, type Transport } from './utils/transport.js';
import { waitFor } from './utils/wait.js';
import { openAuthedWs } from './utils/ws-client.js';

type EventFrame = Extract<ServerFrame, { type: 'event' }>;
const isEvent = (f: ServerFrame): f is EventFrame => f.type === 'event';
const eventIds = (frames: ServerFrame[]): string[] => frames.filter(isEvent).map((f) => f.id);

describe('frames of one tick', () => {
  it('should arrive in one WebSocket message, in order', async () => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'a' });
    await ws.waitFor((f) => f.type === 'subscribed');
    const before = ws.messages.length;
    const ids = await idsOf(Array.from({ length: 5 }, (_, n) => server.tw.publish('a', n)));
    await waitFor(() => eventIds(ws.frames).length === 5);
    const messages = ws.messages.slice(before);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.split('\n').map((json) => (JSON.parse(json) as EventFrame).id)).toEqual(
      ids,
    );
  });

  it('should arrive in one SSE block with one id line, the last event id', async () => {
    const server = await startServer();
    const sse = await openSse(`${server.base}/sse?channel=a`);
    await sse.waitFor((f) => f.type === 'subscribed');
    const blocks = sse.blocks.length;
    const lines = sse.lines.length;
    const ids = await idsOf(Array.from({ length: 5 }, (_, n) => server.tw.publish('a', n)));
    await waitFor(() => eventIds(sse.frames()).length === 5);
    expect(sse.blocks.slice(blocks)).toHaveLength(1);
    expect(sse.blocks.at(-1)?.id).toBe(ids.at(-1));
    expect(eventIds(sse.frames())).toEqual(ids);
    const block = sse.lines.slice(lines);
    expect(block.filter((l) => l.startsWith('data: '))).toHaveLength(5);
    expect(block.filter((l) => l.startsWith('id: '))).toEqual([`id: ${ids.at(-1)}`]);
    expect(sse.lastEventId()).toBe(ids.at(-1));
  });

  it('should put the welcome, subscribed and replayed frames of a new stream in one block', async () => {
    const server = await startServer();
    const first = await server.tw.publish('a', 0);
    const second = await server.tw.publish('a', 1);
    const last = await server.tw.publish('a', 2);
    const sse = await openSse(`${server.base}/sse?channel=a@${first.id}`);
    await sse.waitFor((f) => isEvent(f) && f.id === last.id);
    expect(sse.blocks).toHaveLength(1);
    expect(sse.frames().map((f) => f.type)).toEqual(['welcome', 'subscribed', 'event', 'event']);
    expect(eventIds(sse.frames())).toEqual([second.id, last.id]);
    expect(sse.lastEventId()).toBe(last.id);
  });
});

describe('a resumed SSE stream', () => {
  it('should lose and repeat nothing after a block of several events and channels', async () => {
    const server = await startServer();
    const sse = await openSse(`${server.base}/sse?channel=a&channel=b`);
    await sse.waitFor(() => sse.frames().filter((f) => f.type === 'subscribed').length === 2);
    const publish = (n: number) => server.tw.publish(n % 2 ? 'a' : 'b', n);
    const published = await idsOf(Array.from({ length: 6 }, (_, n) => publish(n)));
    await waitFor(() => eventIds(sse.frames()).length === 6);
    expect(new Set(sse.messages.filter((m) => isEvent(m.frame)).map((m) => m.block)).size).toBe(1);
    sse.close();
    await sse.ended;

    published.push(...(await idsOf(Array.from({ length: 4 }, (_, n) => publish(6 + n)))));
    const resumed = await openSse(`${server.base}/sse?channel=a&channel=b`, {
      headers: { 'last-event-id': sse.lastEventId() ?? '' },
    });
    await resumed.waitFor((f) => isEvent(f) && f.id === published.at(-1));
    expect(resumed.frames().some((f) => f.type === 'gap')).toBe(false);
    expect([...eventIds(sse.frames()), ...eventIds(resumed.frames())]).toEqual(published);
  });
});

describe.each<Transport>(['sse', 'websocket'])('%s batches', (transport) => {
  it('should stay within 64 KiB unless a single frame is larger', async () => {
    const server = await startServer({ limits: { maxDataBytes: 200_000 } });
    const sub = await subscribe(transport, server, [{ channel: 'a' }]);
    const sizes = [...Array.from({ length: 20 }, () => 9_000), 100_000, 10, 10, 9_000];
    const ids = await idsOf(sizes.map((size) => server.tw.publish('a', 'x'.repeat(size))));
    await sub.waitFor((f) => isEvent(f) && f.id === ids.at(-1));
    expect(sub.events().map((e) => e.id)).toEqual(ids);

    const texts = sub.batches().filter((text) => text.includes('"type":"event"'));
    expect(texts.length).toBeGreaterThan(3);
    expect(texts.length).toBeLessThan(sizes.length);
    for (const text of texts) {
      if (text.includes('\n'))
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    }
    const alone = texts.find((text) => Buffer.byteLength(text) > MAX_MESSAGE_BYTES);
    expect(alone?.includes('\n')).toBe(false);
  });

  it('should count a batch waiting for the end of the tick toward the send buffer', async () => {
    const warnings: string[] = [];
    const server = await startServer({
      limits: { sendBufferBytes: 16 * 1024 },
      logger: { warn: (message) => warnings.push(message), error: () => {} },
    });
    const sub = await subscribe(transport, server, [{ channel: 'a' }]);
    // The client reads everything: only the bytes of this one tick can exceed the limit.
    for (let n = 0; n < 40; n++) server.tw.publish('a', { n, padding: 'x'.repeat(1000) });
    await sub.ended;
    expect(warnings).toEqual([
      transport === 'sse' ? 'slow SSE consumer dropped' : 'slow WebSocket consumer dropped',
    ]);
    expect(sub.events()).toEqual([]);
    expect((await server.tw.stats()).subscriptions).toBe(0);
  });
});
