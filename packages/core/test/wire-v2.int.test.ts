import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client';
import type { Subscription } from '../src/subscription';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { cleanup, connect, sleep, startServer, until } from './int-server';

afterEach(cleanup);

describe('a channel set of any size', () => {
  it('should keep 1,000 channels with positions on one SSE stream, and resume them all', async () => {
    const server = await startServer({ limits: { maxChannelsPerConnection: 1000 } });
    const { id } = await server.tw.publish('ch-0', 'before');
    const client = connect(server.url);
    const subs: Subscription[] = [];
    const got: string[] = [];
    for (let n = 0; n < 1000; n++) {
      const sub = client.subscribe(`ch-${n}`, { transport: 'sse', since: id });
      sub.on('event', (e) => got.push(`${e.channel} ${e.data}`));
      subs.push(sub);
    }
    await until(() => subs.every((s) => s.getSnapshot().status === 'live'), 10_000);
    expect((await server.tw.stats()).connections.sse).toBe(1);
    await server.tw.publish('ch-999', 'a');
    await until(() => got.includes('ch-999 a'));
    server.tw.disconnectAll();
    await server.tw.publish('ch-500', 'while away');
    await until(() => got.includes('ch-500 while away'), 10_000);
    expect(got).toEqual(['ch-999 a', 'ch-500 while away']);
  });

  it('should fail every SSE channel with too_many_channels past the server limit', async () => {
    const server = await startServer({ limits: { maxChannelsPerConnection: 3 } });
    const client = connect(server.url);
    const subs = ['a', 'b', 'c', 'd'].map((name) => client.subscribe(name, { transport: 'sse' }));
    await until(() => subs.every((s) => s.getSnapshot().status === 'failed'));
    expect(subs[0]?.getSnapshot().error).toMatchObject({ code: 'too_many_channels', fatal: true });
  });
});

describe.each(['sse', 'websocket'] as const)('raw data over %s', (transport) => {
  it('should hand over each event data as the JSON text it arrived as', async () => {
    const server = await startServer();
    const client = connect(server.url);
    const sub = client.subscribe('tokens', { transport, raw: true });
    const got: unknown[] = [];
    sub.on('event', (e) => got.push(e.data));
    await until(() => sub.getSnapshot().status === 'live');
    await server.tw.publish('tokens', 'Hel');
    await server.tw.publish('tokens', { t: 'lo' });
    await until(() => got.length === 2);
    expect(got).toEqual(['"Hel"', '{"t":"lo"}']);
  });
});

describe('heap per idle subscription', () => {
  it('should hold at most 1 KB per subscription with 1,000 channels on one connection', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    /** A socket that says welcome and confirms every subscription, as a server would. */
    class Socket {
      readyState = 0;
      private readonly listeners: Record<string, (event: unknown) => void> = {};
      constructor() {
        setTimeout(() => {
          this.readyState = 1;
          this.listeners.open?.({});
        });
      }
      addEventListener(type: string, listener: (event: unknown) => void) {
        this.listeners[type] = listener;
      }
      send(data: string) {
        const frame = JSON.parse(data);
        const reply = (f: object) => this.listeners.message?.({ data: JSON.stringify(f) });
        if (frame.type === 'auth') reply({ type: 'welcome', epoch: 'e', heartbeat: 15_000 });
        if (frame.type === 'subscribe')
          reply({ type: 'subscribed', channel: frame.channel, position: 'e-1' });
      }
      close() {}
    }
    const heap = async () => {
      await sleep(20);
      gc();
      gc();
      return getHeapStatistics().used_heap_size;
    };
    /** A client with `n` idle channels, each with a listener and its snapshot read. */
    const open = async (n: number, prefix: string) => {
      const client = createClient({
        url: 'http://127.0.0.1:1/tidewire',
        transport: 'websocket',
        WebSocket: Socket as unknown as WebSocketConstructor,
      });
      const subs = Array.from({ length: n }, (_, i) => {
        const sub = client.subscribe(`${prefix}-${i}`);
        sub.on('event', (e) => e.data);
        return sub;
      });
      await until(() => subs.every((s) => s.getSnapshot().status === 'live'));
      return { client, subs };
    };
    // A first round compiles what the measured ones run: code is not per subscription.
    (await open(1000, 'warm')).client.close();
    const start = await heap();
    const one = await open(1, 'one');
    const afterOne = await heap();
    const many = await open(1000, 'many');
    const afterMany = await heap();
    const perSubscription = (afterMany - afterOne - (afterOne - start)) / 999;
    console.info(`heap per idle subscription: ${Math.round(perSubscription)} bytes`);
    expect(perSubscription).toBeLessThanOrEqual(1024);
    expect(one.subs.length + many.subs.length).toBe(1001);
    one.client.close();
    many.client.close();
  });
});
