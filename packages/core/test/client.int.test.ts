import { afterEach, describe, expect, it } from 'vitest';
import { createControlledEngine } from '../../../testing/controlled-engine';
import { AuthError, createMemoryEngine } from '../../server/src/index';
import type { Transport } from '../src/routing';
import { cleanup, connect, sleep, startServer, until } from './int-server';

afterEach(cleanup);

/** Publishes `n` events on the server, `gap` ms apart; returns their ids in order. */
async function publishMany(
  publish: (i: number) => { id: string } | Promise<{ id: string }>,
  n: number,
  gap = 5,
) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push((await publish(i)).id);
    await sleep(gap);
  }
  return ids;
}

describe.each<Transport>(['sse', 'websocket'])('client over %s', (transport) => {
  it('should receive live events and publish', async () => {
    const server = await startServer();
    const client = connect<{ chat: { n: number } }>(server.url);
    const sub = client.subscribe('chat', { transport });
    const got: number[] = [];
    sub.on('event', (e) => got.push(e.data.n));
    await until(() => sub.getSnapshot().status === 'live');
    server.tw.publish('chat', { n: 1 });
    const { id } = await client.publish('chat', { n: 2 });
    expect(id).toMatch(/-/);
    await until(() => got.length === 2);
    expect(got).toEqual([1, 2]);
    expect(sub.getSnapshot().transport).toBe(transport);
  });

  it('should resume with zero loss and zero duplicates when connections are killed', async () => {
    const server = await startServer();
    const client = connect(server.url);
    const sub = client.subscribe('feed', { transport });
    const got: string[] = [];
    sub.on('event', (e) => got.push(e.id));
    await until(() => sub.getSnapshot().status === 'live');
    const publishing = publishMany((i) => server.tw.publish('feed', i), 60, 3);
    for (let k = 0; k < 3; k++) {
      await sleep(40);
      server.tw.disconnectAll();
    }
    const ids = await publishing;
    await until(() => got.length >= ids.length);
    await sleep(50);
    expect(got).toEqual(ids);
    expect(sub.getSnapshot().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('should lose nothing published while disconnected before the first event', async () => {
    const engine = createMemoryEngine();
    const server = await startServer({ engine });
    const client = connect(server.url);
    const sub = client.subscribe('quiet', { transport });
    const got: string[] = [];
    sub.on('event', (e) => got.push(e.id));
    await until(() => sub.getSnapshot().status === 'live');
    await server.stop();
    await server.restart();
    const during = await publishMany((i) => server.tw.publish('quiet', i), 3, 0);
    await until(() => got.length >= 3);
    expect(got).toEqual(during);
    expect(sub.getSnapshot().gaps).toBe(0);
  });

  it('should resume across a server restart that keeps its engine', async () => {
    const engine = createMemoryEngine();
    const server = await startServer({ engine });
    const client = connect(server.url);
    const sub = client.subscribe('feed', { transport });
    const got: string[] = [];
    sub.on('event', (e) => got.push(e.id));
    await until(() => sub.getSnapshot().status === 'live');
    const before = await publishMany((i) => server.tw.publish('feed', i), 5);
    await server.stop();
    await server.restart();
    const during = await publishMany((i) => server.tw.publish('feed', i), 5, 0);
    await until(() => sub.getSnapshot().status === 'live');
    const after = await publishMany((i) => server.tw.publish('feed', i), 5);
    await until(() => got.length >= 15);
    await sleep(50);
    expect(got).toEqual([...before, ...during, ...after]);
  });

  it("should resume without loss when the server ends its connections after its engine's reset", async () => {
    const engine = createControlledEngine();
    const server = await startServer({ engine });
    const client = connect(server.url);
    const sub = client.subscribe('feed', { transport });
    const got: string[] = [];
    sub.on('event', (e) => got.push(e.id));
    await until(() => sub.getSnapshot().status === 'live');
    const before = await publishMany((i) => server.tw.publish('feed', i), 3, 0);
    await until(() => got.length === 3);
    engine.reset('failover');
    const during = await publishMany((i) => server.tw.publish('feed', i), 3, 0);
    await until(() => sub.getSnapshot().reconnects >= 1 && sub.getSnapshot().status === 'live');
    const after = await publishMany((i) => server.tw.publish('feed', i), 3, 0);
    await until(() => got.length >= 9);
    await sleep(50);
    expect(got).toEqual([...before, ...during, ...after]);
    expect(sub.getSnapshot().gaps).toBe(0);
  });

  it('should raise gap when the restarted server has a new history', async () => {
    const server = await startServer();
    const client = connect(server.url);
    const sub = client.subscribe('feed', { transport });
    const gaps: string[] = [];
    sub.on('gap', (g) => gaps.push(g.reason));
    await until(() => sub.getSnapshot().status === 'live');
    await publishMany((i) => server.tw.publish('feed', i), 2);
    await until(() => sub.getSnapshot().received === 2);
    await server.stop();
    await server.restart();
    await until(() => gaps.length === 1);
    expect(gaps).toEqual(['epoch']);
  });

  it('should survive token expiry mid-stream without loss', async () => {
    let issued = 0;
    const server = await startServer({
      authenticate: async (token) => {
        const expiresAt = Number(token?.split(':')[1]);
        if (!(expiresAt > Date.now())) throw new AuthError('token_expired');
        return { principal: 'u', expiresAt };
      },
      tokenRefreshLeadMs: 150,
    });
    const client = connect(server.url, {
      getToken: () => `t${++issued}:${Date.now() + 400}`,
      // Tokens that live 400 ms: a connection that outlived half of one is a stable one, so each
      // expiry is a fresh start rather than one more refusal in a row (three end in auth_rejected).
      stableAfter: 200,
    });
    const sub = client.subscribe('feed', { transport });
    const got: string[] = [];
    sub.on('event', (e) => got.push(e.id));
    await until(() => sub.getSnapshot().status === 'live');
    const ids = await publishMany((i) => server.tw.publish('feed', i), 80, 15);
    await until(() => got.length >= ids.length);
    expect(got).toEqual(ids);
    expect(issued).toBeGreaterThan(2);
    expect(client.getState()[transport].status).toBe('open');
  });

  it('should stop with a fatal state when the token is refused', async () => {
    const server = await startServer({
      authenticate: async () => {
        throw new AuthError('forbidden');
      },
    });
    const client = connect(server.url, { getToken: () => 'x' });
    const sub = client.subscribe('feed', { transport });
    await until(() => sub.getSnapshot().status === 'failed');
    expect(sub.getSnapshot().error?.code).toBe('forbidden');
  });
});

describe('client transport changes', () => {
  it('should move a channel from SSE to WebSocket mid-stream without loss or duplicates', async () => {
    const server = await startServer();
    const client = connect(server.url);
    const sub = client.subscribe('chat');
    const got: string[] = [];
    sub.on('event', (e) => got.push(e.id));
    await until(() => sub.getSnapshot().status === 'live');
    expect(sub.getSnapshot().transport).toBe('sse');
    const publishing = publishMany((i) => server.tw.publish('chat', i), 40, 3);
    await sleep(40);
    const own = client.publish('chat', 'mine');
    const ids = await publishing;
    const ownId = (await own).id;
    await until(() => got.length >= ids.length + 1);
    await sleep(50);
    expect(sub.getSnapshot().transport).toBe('websocket');
    expect(new Set(got).size).toBe(got.length);
    expect(got.filter((id) => id !== ownId)).toEqual(ids);
  });

  it('should deliver a busy SSE channel exactly once while the stream reopens for other channels', async () => {
    const server = await startServer();
    const client = connect(server.url);
    const sub = client.subscribe('feed', { transport: 'sse' });
    const got: string[] = [];
    sub.on('event', (e) => got.push(e.id));
    await until(() => sub.getSnapshot().status === 'live');
    const ids: string[] = [];
    // Bursts of 40 events in one turn (so the server joins them into one block), every 2 ms,
    // while every 10 ms another channel comes or goes and the stream is reopened for it.
    const publishing = (async () => {
      for (let round = 0; round < 50; round++) {
        const burst = Array.from({ length: 40 }, (_, i) => server.tw.publish('feed', i));
        for (const { id } of await Promise.all(burst)) ids.push(id);
        await sleep(2);
      }
    })();
    let others: { unsubscribe(): void }[] = [];
    for (let k = 0; k < 10; k++) {
      await sleep(10);
      if (k % 2) for (const o of others.splice(0)) o.unsubscribe();
      else others = [client.subscribe(`other-${k}`, { transport: 'sse' })];
    }
    await publishing;
    await until(() => got.length >= ids.length);
    await sleep(50);
    expect(got).toEqual(ids);
    expect(sub.getSnapshot().duplicates).toBe(0);
  });

  it.each<Transport>(['sse', 'websocket'])(
    'should take a %s batch of small events larger than a lower maxMessageBytes',
    async (transport) => {
      const server = await startServer();
      const client = connect(server.url, { maxMessageBytes: 1000 });
      const sub = client.subscribe('feed', { transport });
      const got: string[] = [];
      sub.on('event', (e) => got.push(e.id));
      await until(() => sub.getSnapshot().status === 'live');
      // 30 events of 2 KB in one turn: the server joins them into one message of about 60 KiB.
      const published = await Promise.all(
        Array.from({ length: 30 }, (_, n) =>
          server.tw.publish('feed', { n, pad: 'x'.repeat(2000) }),
        ),
      );
      const ids = published.map((result) => result.id);
      await until(() => got.length === ids.length);
      expect(got).toEqual(ids);
      expect(sub.getSnapshot().status).toBe('live');
    },
  );

  it('should fall back to SSE + POST when WebSocket is refused, then publish over HTTP', async () => {
    const server = await startServer();
    server.tw.setWebSocketEnabled(false);
    const client = connect(server.url);
    const sub = client.subscribe('chat', { duplex: true });
    const got: unknown[] = [];
    sub.on('event', (e) => got.push(e.data));
    await until(() => sub.getSnapshot().status === 'live');
    expect(sub.getSnapshot().transport).toBe('sse');
    await client.publish('chat', 'over http');
    await until(() => got.length === 1);
    expect(got).toEqual(['over http']);
  });

  it('should share one connection between channels and handles', async () => {
    const server = await startServer();
    const client = connect(server.url);
    const a = client.subscribe('a');
    const b = client.subscribe('b');
    const a2 = client.subscribe('a');
    await until(() => a.getSnapshot().status === 'live' && b.getSnapshot().status === 'live');
    expect((await server.tw.stats()).connections).toEqual({ sse: 1, websocket: 0 });
    a.unsubscribe();
    expect(a2.getSnapshot().status).toBe('live');
    client.close();
    await until(async () => (await server.tw.stats()).connections.sse === 0);
  });
});
