import { describe, expect, it } from 'vitest';
import { MAX_SSE_BODY_BYTES } from '../src/sse.js';
import { openNamedSse } from './utils/named-sse.js';
import { startServer } from './utils/server.js';
import { errorBody } from './utils/sse-client.js';
import { waitFor } from './utils/wait.js';
import { openWs } from './utils/ws-client.js';

describe('SSE, version 2', () => {
  it('should name each event after its channel (form C), with control frames as @ events', async () => {
    const server = await startServer();
    const sse = await openNamedSse(`${server.base}/sse?v=2&channel=prices&channel=chat`);
    await waitFor(() => sse.controls().length === 3);
    const position = sse.controls()[1]?.position;
    const tick = await server.tw.publish('prices', { p: 101.5 }, { type: 'tick' });
    const hi = await server.tw.publish('chat', { text: 'hi' });
    await sse.waitForEvents(2);
    expect(sse.controls()).toEqual([
      { type: 'welcome', epoch: expect.any(String), heartbeat: 15000 },
      { type: 'subscribed', channel: 'prices', position },
      { type: 'subscribed', channel: 'chat', position },
    ]);
    expect(sse.blocks.slice(-2)).toEqual([
      {
        event: 'prices',
        id: tick.id,
        lastEventId: tick.id,
        type: 'tick',
        data: ['{"p":101.5}'],
      },
      { event: 'chat', id: hi.id, lastEventId: hi.id, type: undefined, data: ['{"text":"hi"}'] },
    ]);
    expect(sse.text()).toContain(`event: chat\nid: ${hi.id}\ndata: {"text":"hi"}\n\n`);
  });

  it('should resume every channel of a form C stream from Last-Event-ID, as an EventSource does', async () => {
    const server = await startServer();
    const first = await openNamedSse(`${server.base}/sse?v=2&channel=a&channel=b`);
    await waitFor(() => first.controls().length === 3);
    await server.tw.publish('a', 1);
    await first.waitForEvents(1);
    first.close();
    const missed = [await server.tw.publish('b', 2), await server.tw.publish('a', 3)];
    const again = await openNamedSse(`${server.base}/sse?v=2&channel=a&channel=b`, {
      headers: { 'last-event-id': first.lastEventId() },
    });
    const events = await again.waitForEvents(2);
    expect(events.map((e) => [e.channel, e.id, e.data])).toEqual([
      ['b', missed[0]?.id, 2],
      ['a', missed[1]?.id, 3],
    ]);
  });

  it('should batch runs of a channel in form E, the channel set in a POST body', async () => {
    const server = await startServer();
    const before = await server.tw.publish('prices', 0);
    const sse = await openNamedSse(`${server.base}/sse`, {
      body: `v=2&batch=1&channel=prices@${before.id}&channel=chat`,
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
    });
    await waitFor(() => sse.controls().length === 3);
    const ids = await Promise.all([
      server.tw.publish('prices', 1, { type: 'tick' }),
      server.tw.publish('prices', 2, { type: 'tick' }),
      server.tw.publish('chat', 3),
    ]);
    const events = await sse.waitForEvents(3);
    expect(events.map((e) => [e.channel, e.type, e.id, e.data])).toEqual([
      ['prices', 'tick', ids[0]?.id, 1],
      ['prices', 'tick', ids[1]?.id, 2],
      ['chat', 'message', ids[2]?.id, 3],
    ]);
    expect(sse.text()).toContain(
      `event: prices\ntype: tick\ndata: ${ids[0]?.id} 1\ndata: ${ids[1]?.id} 2\n\nevent: chat\ndata: ${ids[2]?.id} 3\n\n`,
    );
  });

  it('should take 1,000 channels with positions in a POST body, where a URL would be refused', async () => {
    const server = await startServer({ limits: { maxChannelsPerConnection: 1000 } });
    const { id } = await server.tw.publish('ch-0', 'start');
    const channels = Array.from({ length: 1000 }, (_, n) => `channel=ch-${n}@${id}`).join('&');
    // The same set in a URL is past Node's 16 KiB header limit.
    const refused = await fetch(`${server.base}/sse?v=2&${channels}`);
    expect(refused.status).toBe(431);
    const sse = await openNamedSse(`${server.base}/sse`, { body: `v=2&batch=1&${channels}` });
    await waitFor(() => sse.controls().length === 1001);
    await server.tw.publish('ch-999', 'last');
    const [event] = await sse.waitForEvents(1);
    expect(event).toMatchObject({ channel: 'ch-999', data: 'last' });
  });

  it.each([
    ['too many channels', 'v=2&channel=a&channel=b&channel=c', 400, 'too_many_channels'],
    ['an unknown version', 'v=3&channel=a', 400, 'bad_request'],
    ['an unknown mode', 'v=2&mode=burst&channel=a', 400, 'bad_request'],
    ['a reserved channel name', 'v=2&channel=message', 400, 'invalid_channel'],
  ])('should refuse %s', async (_why, body, status, code) => {
    const server = await startServer({ limits: { maxChannelsPerConnection: 2 } });
    const response = await fetch(`${server.base}/sse`, { method: 'POST', body });
    expect(response.status).toBe(status);
    expect(await errorBody(response)).toMatchObject({ code });
  });

  it('should refuse a body over its bound with 413 too_large', async () => {
    const server = await startServer();
    const response = await fetch(`${server.base}/sse`, {
      method: 'POST',
      body: `v=2&channel=a&pad=${'x'.repeat(MAX_SSE_BODY_BYTES)}`,
    });
    expect(response.status).toBe(413);
    expect(await errorBody(response)).toMatchObject({ code: 'too_large' });
  });

  it('should refuse open, error and message as channel names, and keep them as event types', async () => {
    const server = await startServer();
    for (const name of ['open', 'error', 'message'])
      await expect(server.tw.publish(name, 1)).rejects.toMatchObject({ code: 'invalid_channel' });
    await expect(server.tw.publish('a', 1, { type: 'error' })).resolves.toMatchObject({
      id: expect.any(String),
    });
  });

  it('should keep serving version 1 to a request without v', async () => {
    const server = await startServer();
    const sse = await openNamedSse(`${server.base}/sse?channel=a`);
    await waitFor(() => sse.blocks.length > 0);
    expect(sse.blocks[0]?.event).toBe('message');
    expect(JSON.parse(sse.blocks[0]?.data[0] ?? '')).toMatchObject({ type: 'welcome' });
  });
});

describe('poll mode (mode=poll)', () => {
  it('should answer the opening and the first events, then end', async () => {
    const server = await startServer();
    const poll = await openNamedSse(`${server.base}/sse`, {
      body: 'v=2&batch=1&mode=poll&channel=a',
    });
    await waitFor(() => poll.controls().length === 2);
    await Promise.all([server.tw.publish('a', 1), server.tw.publish('a', 2)]);
    await poll.ended;
    expect(poll.events().map((e) => e.data)).toEqual([1, 2]);
    expect((await server.tw.stats()).connections.sse).toBe(0);
  });

  it('should end after its hold without an event: at most twice the heartbeat, or wait', async () => {
    const server = await startServer({ heartbeatMs: 200 });
    const started = Date.now();
    const held = await openNamedSse(`${server.base}/sse?v=2&mode=poll&channel=a`);
    await held.ended;
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(held.controls().map((c) => c.type)).toEqual(['welcome', 'subscribed']);
    const prompt = await openNamedSse(`${server.base}/sse?v=2&mode=poll&wait=0&channel=a`);
    await prompt.ended;
    expect(prompt.controls().map((c) => c.type)).toEqual(['welcome', 'subscribed']);
  });

  it('should end after a replay, then resume from where it stopped: nothing lost or repeated', async () => {
    const server = await startServer();
    const { id } = await server.tw.publish('a', 0);
    const published = Array.from({ length: 5 }, (_, n) => server.tw.publish('a', n + 1));
    await Promise.all(published);
    const seen: unknown[] = [];
    let position = id;
    const publishing = (async () => {
      for (let n = 6; n <= 40; n++) {
        await server.tw.publish('a', n);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    while (!seen.includes(40)) {
      const poll = await openNamedSse(`${server.base}/sse`, {
        body: `v=2&batch=1&mode=poll&channel=a@${position}`,
      });
      await poll.ended;
      for (const e of poll.events()) {
        seen.push(e.data);
        position = e.id;
      }
    }
    await publishing;
    expect(seen).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
  });
});

describe('WebSocket, version 2', () => {
  it('should send events as lines and every other frame as JSON', async () => {
    const server = await startServer();
    const ws = await openWs(`${server.wsBase}/ws?v=2`);
    const lines: string[] = [];
    ws.ws.on('message', (data) => lines.push(...String(data).split('\n')));
    ws.send({ type: 'auth' });
    ws.send({ type: 'subscribe', channel: 'prices' });
    ws.send({ type: 'subscribe', channel: 'chat' });
    await waitFor(() => lines.filter((l) => l.includes('subscribed')).length === 2);
    const tick = await server.tw.publish('prices', { p: 1 }, { type: 'tick' });
    const hi = await server.tw.publish('chat', 'a b');
    await waitFor(() => lines.length === 5);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ type: 'welcome' });
    expect(lines.slice(3)).toEqual([`prices tick ${tick.id} {"p":1}`, `chat  ${hi.id} "a b"`]);
  });
});
