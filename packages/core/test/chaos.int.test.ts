import { afterEach, describe, expect, it } from 'vitest';
import { createTcpProxy, type TcpProxy, type UpgradePolicy } from '../../../testing/tcp-proxy';
import type { Transport } from '../src/routing';
import { cleanup, connect, sleep, startServer, until } from './int-server';

let proxy: TcpProxy | undefined;
afterEach(async () => {
  await cleanup();
  await proxy?.close();
  proxy = undefined;
});

async function behindProxy(options: Parameters<typeof startServer>[0] = {}) {
  const server = await startServer(options);
  const port = Number(new URL(server.url).port);
  proxy = await createTcpProxy({ targetPort: port });
  return { server, proxy, url: server.url.replace(`:${port}`, `:${proxy.port}`) };
}

describe.each<UpgradePolicy>(['refuse', 'kill', 'starve'])(
  'a proxy that %ss WebSocket upgrades',
  (policy) => {
    it('should carry a duplex channel over SSE + POST instead', async () => {
      const { proxy, url } = await behindProxy();
      proxy.setUpgrades(policy);
      const client = connect(url, {
        connectTimeout: 300,
      });
      const sub = client.subscribe('chat', { duplex: true });
      const got: unknown[] = [];
      sub.on('event', (e) => got.push(e.data));
      await until(
        () => sub.getSnapshot().transport === 'sse' && sub.getSnapshot().status === 'live',
      );
      await client.publish('chat', 'through');
      await until(() => got.length === 1);
      expect(got).toEqual(['through']);
    });
  },
);

describe.each<Transport>(['sse', 'websocket'])(
  'client over %s behind a chaotic proxy',
  (transport) => {
    it('should detect a half-open connection by its heartbeat and resume without loss', async () => {
      const { server, proxy, url } = await behindProxy({ heartbeatMs: 100 });
      const client = connect(url);
      const sub = client.subscribe('feed', { transport });
      const got: string[] = [];
      sub.on('event', (e) => got.push(e.id));
      await until(() => sub.getSnapshot().status === 'live');
      // A position to resume from: protocol v1 gives none before the first event.
      const ids = [(await server.tw.publish('feed', 'first')).id];
      await until(() => got.length === 1);
      const seen: string[] = [];
      client.on('state', ({ next }) => {
        if (next.status === 'waiting') seen.push(next.error.code);
      });
      proxy.stallAll();
      for (let i = 0; i < 10; i++) ids.push((await server.tw.publish('feed', i)).id);
      await until(() => got.length === 11);
      expect(got).toEqual(ids);
      // Over WebSocket the server's own pings may notice first and drop the socket.
      expect(transport === 'sse' ? seen : ['heartbeat_timeout']).toContain('heartbeat_timeout');
      expect(seen.length).toBeGreaterThan(0);
    });

    it('should deliver every event exactly once while connections are killed at random', async () => {
      const { server, proxy, url } = await behindProxy();
      const client = connect(url);
      const sub = client.subscribe('feed', { transport });
      const got: string[] = [];
      sub.on('event', (e) => got.push(e.id));
      await until(() => sub.getSnapshot().status === 'live');
      const stop = proxy.chaos(20, 60);
      const ids: string[] = [];
      for (let i = 0; i < 150; i++) {
        ids.push((await server.tw.publish('feed', i)).id);
        await sleep(2);
      }
      stop();
      await until(() => got.length >= ids.length, 8000);
      await sleep(50);
      expect(got).toEqual(ids);
      expect(proxy.kills).toBeGreaterThan(0);
    });
  },
);
