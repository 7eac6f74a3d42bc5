import { describe, expect, it } from 'vitest';
import { createMemoryEngine } from '../src/index.js';
import { startServer } from './utils/server.js';
import { subscribe, type Transport } from './utils/transport.js';
import { waitFor } from './utils/wait.js';

const eventOf =
  (channel: string, n: number) => (f: { type: string; channel?: string; data?: unknown }) =>
    f.type === 'event' && f.channel === channel && (f.data as { n?: number }).n === n;

describe.each<Transport>(['sse', 'websocket'])('%s transport', (transport) => {
  it('should deliver several channels over one connection', async () => {
    const server = await startServer();
    const sub = await subscribe(transport, server, [{ channel: 'a' }, { channel: 'b' }]);
    const first = await server.tw.publish('a', { n: 1 });
    const second = await server.tw.publish('b', { n: 2 }, { type: 'tick' });
    await sub.waitFor(eventOf('b', 2));
    expect(sub.events()).toEqual([
      { type: 'event', channel: 'a', id: first.id, event: 'message', data: { n: 1 } },
      { type: 'event', channel: 'b', id: second.id, event: 'tick', data: { n: 2 } },
    ]);
    expect((await server.tw.stats()).subscriptions).toBe(2);
  });

  it('should send subscribed before anything else of the channel', async () => {
    const server = await startServer();
    server.tw.publish('a', { n: 1 });
    const { id } = await server.tw.publish('a', { n: 2 });
    server.tw.publish('a', { n: 3 });
    const sub = await subscribe(transport, server, [{ channel: 'a', since: id }]);
    await sub.waitFor(eventOf('a', 3));
    const types = sub.frames().map((f) => f.type);
    expect(types.indexOf('subscribed')).toBeLessThan(types.indexOf('event'));
  });

  it('should confirm a position that resumes without loss when no event was seen', async () => {
    const server = await startServer();
    server.tw.publish('other', { n: 0 });
    const first = await subscribe(transport, server, [{ channel: 'a' }]);
    const confirmed = first.frames().find((f) => f.type === 'subscribed');
    first.close();
    server.tw.publish('a', { n: 1 });
    server.tw.publish('a', { n: 2 });
    const position = confirmed?.type === 'subscribed' ? confirmed.position : undefined;
    expect(position).toMatch(/^[0-9a-z]+-1$/);
    const again = await subscribe(transport, server, [{ channel: 'a', since: position! }]);
    await again.waitFor(eventOf('a', 2));
    expect(again.events().map((e) => (e.data as { n: number }).n)).toEqual([1, 2]);
    expect(again.frames().some((f) => f.type === 'gap')).toBe(false);
  });

  it('should replay the missed events from a position, then go live', async () => {
    const server = await startServer();
    const { id } = await server.tw.publish('a', { n: 1 });
    server.tw.publish('a', { n: 2 });
    server.tw.publish('a', { n: 3 });
    const sub = await subscribe(transport, server, [{ channel: 'a', since: id }]);
    server.tw.publish('a', { n: 4 });
    await sub.waitFor(eventOf('a', 4));
    expect(sub.events().map((e) => (e.data as { n: number }).n)).toEqual([2, 3, 4]);
    expect(sub.frames().some((f) => f.type === 'gap')).toBe(false);
  });

  it('should resume each channel from its own position', async () => {
    const server = await startServer();
    const a1 = await server.tw.publish('a', { n: 1 });
    const b1 = await server.tw.publish('b', { n: 1 });
    server.tw.publish('a', { n: 2 });
    const b2 = await server.tw.publish('b', { n: 2 });
    server.tw.publish('b', { n: 3 });
    const sub = await subscribe(transport, server, [
      { channel: 'a', since: a1.id },
      { channel: 'b', since: b2.id },
    ]);
    await sub.waitFor(eventOf('b', 3));
    await sub.waitFor(eventOf('a', 2));
    const got = sub.events().map((e) => `${e.channel}${(e.data as { n: number }).n}`);
    expect(got.sort()).toEqual(['a2', 'b3']);
    expect(b1.id).not.toBe(b2.id);
  });

  it('should send only live events when no position is given', async () => {
    const server = await startServer();
    server.tw.publish('a', { n: 1 });
    const sub = await subscribe(transport, server, [{ channel: 'a' }]);
    server.tw.publish('a', { n: 2 });
    await sub.waitFor(eventOf('a', 2));
    expect(sub.events()).toHaveLength(1);
  });

  it('should signal a trimmed gap, then replay what history remains', async () => {
    const server = await startServer({ history: { maxEvents: 2 } });
    const { id } = await server.tw.publish('a', { n: 1 });
    for (let n = 2; n <= 5; n++) server.tw.publish('a', { n });
    const sub = await subscribe(transport, server, [{ channel: 'a', since: id }]);
    await sub.waitFor(eventOf('a', 5));
    const relevant = sub.frames().filter((f) => f.type === 'gap' || f.type === 'event');
    expect(relevant.map((f) => (f.type === 'gap' ? `gap:${f.reason}` : f.type))).toEqual([
      'gap:trimmed',
      'event',
      'event',
    ]);
    expect(sub.events().map((e) => (e.data as { n: number }).n)).toEqual([4, 5]);
  });

  it('should signal an epoch gap after a restart with a new engine', async () => {
    const before = await startServer();
    const { id } = await before.tw.publish('a', { n: 1 });
    await before.stop();
    const after = await startServer();
    after.tw.publish('a', { n: 2 });
    const sub = await subscribe(transport, after, [{ channel: 'a', since: id }]);
    await sub.waitFor(eventOf('a', 2));
    expect(sub.frames().find((f) => f.type === 'gap')).toEqual({
      type: 'gap',
      channel: 'a',
      reason: 'epoch',
    });
  });

  it('should resume without a gap after a restart with the same engine', async () => {
    const engine = createMemoryEngine();
    const before = await startServer({ engine });
    const { id } = await before.tw.publish('a', { n: 1 });
    before.tw.publish('a', { n: 2 });
    await before.stop();
    const after = await startServer({ engine });
    const sub = await subscribe(transport, after, [{ channel: 'a', since: id }]);
    await sub.waitFor(eventOf('a', 2));
    expect(sub.frames().some((f) => f.type === 'gap')).toBe(false);
  });

  it('should signal an invalid gap for a position the server never issued', async () => {
    const server = await startServer();
    const { id } = await server.tw.publish('a', { n: 1 });
    const future = `${id.split('-')[0]}-999999`;
    const sub = await subscribe(transport, server, [
      { channel: 'a', since: 'not a position' },
      { channel: 'b', since: future },
    ]);
    await sub.waitFor((f) => f.type === 'gap' && f.channel === 'b');
    const gaps = sub.frames().filter((f) => f.type === 'gap');
    expect(gaps).toEqual([
      { type: 'gap', channel: 'a', reason: 'invalid' },
      { type: 'gap', channel: 'b', reason: 'invalid' },
    ]);
  });

  it('should refuse a forbidden channel and keep the others', async () => {
    const server = await startServer({ authorize: (_p, channel) => channel !== 'admin' });
    const sub = await subscribe(transport, server, [{ channel: 'admin' }, { channel: 'a' }]);
    expect(sub.frames().find((f) => f.type === 'error')).toMatchObject({
      type: 'error',
      code: 'forbidden',
      channel: 'admin',
    });
    server.tw.publish('admin', { n: 1 });
    server.tw.publish('a', { n: 2 });
    await sub.waitFor(eventOf('a', 2));
    expect(sub.events()).toHaveLength(1);
  });

  it('should treat a throwing authorize hook as forbidden', async () => {
    const server = await startServer({
      authorize: () => {
        throw new Error('database down');
      },
    });
    const sub = await subscribe(transport, server, [{ channel: 'a' }]);
    expect(sub.frames().find((f) => f.type === 'error')).toMatchObject({
      code: 'forbidden',
      channel: 'a',
    });
  });

  it('should deliver an event published over the other transport', async () => {
    const server = await startServer();
    const sub = await subscribe(transport, server, [{ channel: 'chat' }]);
    const response = await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'chat', data: { n: 1 } }),
    });
    const { id } = (await response.json()) as { id: string };
    const event = await sub.waitFor(eventOf('chat', 1));
    expect(event).toMatchObject({ id, event: 'message' });
  });

  it('should drop a slow consumer, which then resumes without loss', async () => {
    const warnings: string[] = [];
    const server = await startServer({
      limits: { sendBufferBytes: 64 * 1024 },
      logger: { warn: (message) => warnings.push(message), error: () => {} },
    });
    const sub = await subscribe(transport, server, [{ channel: 'a' }]);
    const first = await server.tw.publish('a', { n: 0 });
    await sub.waitFor(eventOf('a', 0));
    sub.pause();
    const padding = 'x'.repeat(60_000);
    const ids: string[] = [];
    for (let n = 1; n <= 400 && (await server.tw.stats()).subscriptions > 0; n++) {
      ids.push((await server.tw.publish('a', { n, padding })).id);
      if (n % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await waitFor(
      async () => (await server.tw.stats()).subscriptions === 0,
      3000,
      'the slow consumer to be dropped',
    );
    await waitFor(
      async () => {
        const { connections } = await server.tw.stats();
        return connections.sse + connections.websocket === 0;
      },
      3000,
      'the connection to close',
    );
    expect(warnings).toEqual([
      transport === 'sse' ? 'slow SSE consumer dropped' : 'slow WebSocket consumer dropped',
    ]);
    sub.close();
    const resumed = await subscribe(transport, server, [{ channel: 'a', since: first.id }]);
    await resumed.waitFor(eventOf('a', ids.length), 5000);
    expect(resumed.frames().some((f) => f.type === 'gap')).toBe(false);
    expect(resumed.events().map((e) => e.id)).toEqual(ids);
  });

  it('should end connections and leave nothing open on close', async () => {
    const server = await startServer();
    const sub = await subscribe(transport, server, [{ channel: 'a' }]);
    expect((await server.tw.stats()).connections[transport]).toBe(1);
    await server.tw.close();
    await sub.ended;
    expect(await server.tw.stats()).toMatchObject({
      connections: { sse: 0, websocket: 0 },
      subscriptions: 0,
    });
    await server.tw.close();
    await server.stop();
    expect(server.http.listening).toBe(false);
  });

  it('should deliver what was published in the same tick as a graceful close, in order', async () => {
    const server = await startServer();
    const sub = await subscribe(transport, server, [{ channel: 'a' }]);
    for (let n = 1; n <= 50; n++) server.tw.publish('a', { n });
    const closed = server.tw.close();
    await sub.ended;
    await closed;
    expect(sub.events().map((e) => (e.data as { n: number }).n)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  });

  it('should drop every connection on disconnectAll and accept new ones', async () => {
    const server = await startServer();
    const sub = await subscribe(transport, server, [{ channel: 'a' }]);
    expect(server.tw.disconnectAll()).toBe(1);
    await sub.ended;
    await waitFor(async () => (await server.tw.stats()).connections[transport] === 0);
    const again = await subscribe(transport, server, [{ channel: 'a' }]);
    server.tw.publish('a', { n: 1 });
    await again.waitFor(eventOf('a', 1));
  });
});
