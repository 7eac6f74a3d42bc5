/**
 * The top bar's connection counts (`/api/stats`): the playground's own server's by default, and
 * in `pnpm cluster` the sum of the nodes' own counts, read from a real node (Redis engine, real
 * redis-server) with a real client connected to it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Client, createClient } from '../../packages/core/src/index';
// @ts-expect-error: a plain script module, without types.
import * as rig from '../../scripts/cluster/rig.mjs';
import { type Playground, startPlayground } from '../src/server/playground';

interface Counts {
  sse: number;
  websocket: number;
}

const countConnections = rig.countConnections as (ports: number[]) => Promise<Counts>;

async function shown(playground: Playground): Promise<Counts> {
  const response = await fetch(`${playground.url}api/stats`);
  return ((await response.json()) as { connections: Counts }).connections;
}

describe('the top bar’s connection counts', () => {
  it('should show what the connections option counts, and none when it fails', async () => {
    let failing = false;
    const playground = await startPlayground({
      port: 0,
      connections: async () => {
        if (failing) throw new Error('no node answered');
        return { sse: 3, websocket: 2 };
      },
    });
    try {
      expect(await shown(playground)).toEqual({ sse: 3, websocket: 2 });
      failing = true;
      expect(await shown(playground)).toEqual({ sse: 0, websocket: 0 });
    } finally {
      await playground.close();
    }
  });
});

describe('a cluster node’s counts', () => {
  let dir: string;
  let port: number;
  let dead: number;
  let client: Client | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tidewire-connections-'));
    const redis = await rig.startRedis(dir, { port: await rig.freePort() });
    port = await rig.freePort();
    await rig.startNode({ port, redisUrl: `redis://127.0.0.1:${redis.port}`, publish: 'any' });
    dead = await rig.freePort();
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await rig.stopEverything();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should sum what each node counts, a node that is down counting none', async () => {
    expect(await countConnections([port, dead])).toEqual({ sse: 0, websocket: 0 });
    // Node 20 has no WebSocket of its own.
    client = createClient({
      url: `http://127.0.0.1:${port}/tidewire`,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    const prices = client.subscribe('prices');
    const chat = client.subscribe('chat', { duplex: true });
    await Promise.all(
      [prices, chat].map(
        (sub) =>
          new Promise<void>((resolve) => {
            const check = () => sub.getSnapshot().status === 'live' && resolve();
            sub.on('change', check);
            check();
          }),
      ),
    );
    expect(await countConnections([port, dead])).toEqual({ sse: 1, websocket: 1 });
    client.close();
    await expect
      .poll(() => countConnections([port, dead]), { timeout: 5000 })
      .toEqual({ sse: 0, websocket: 0 });
  }, 30_000);
});
