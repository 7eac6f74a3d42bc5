// The haproxy configuration of docs/deploying.md for several nodes, run as the guide gives it
// (read from the Markdown; only the bind line and the servers' addresses changed for loopback):
// - one Redis, two @tidewire/server nodes on it, and a third node whose Redis is unreachable
//   (its /tidewire/ready answers 503), as the guide's three servers, with haproxy round robin in
//   front and no stickiness; Tidewire clients on both transports subscribe through haproxy while
//   events are published through it one every few milliseconds; a node is killed with SIGKILL
//   and started again. Against the history Redis holds: nothing lost, nothing repeated, every
//   channel in order, every client live again; haproxy's health check took the killed node out
//   and put it back, and the node that is not ready never got a request but the checks;
// - a publish is never sent twice, even to a node that closes the connection without an answer
//   (a crash mid-request), while a subscription refused with 503 is sent to another node.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient as createRedisClient } from '@redis/client';
import { createTidewireServer } from '@tidewire/server';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  type Client,
  createClient,
  type Subscription,
  type WebSocketConstructor,
} from '../../core/src/index.js';
import { createRedisEngine, fromNodeRedis } from '../src/index.js';
import { closeAll, readChannels } from './utils/engine.js';
import {
  forLoopback,
  guideClusterConfig,
  type Haproxy,
  haproxySkipReason,
  startHaproxy,
  stopHaproxy,
} from './utils/haproxy.js';
import { createNode, killNodes, removeNodeBuild } from './utils/nodes.js';
import {
  freePort,
  skipReason as redisSkipReason,
  startRedis,
  stopAll,
  until,
} from './utils/redis.js';

const skipReason = redisSkipReason ?? haproxySkipReason;
const PREFIX = '{tw}';
const SENTINEL_NAME = 'tw';
const CHANNELS = Array.from({ length: 8 }, (_, i) => `c${i}`);
/** One publish every this many milliseconds, to the channels in turn. */
const PUBLISH_EVERY_MS = 4;
/** Most publishes waiting for an answer; beyond it a due publish is skipped. */
const MAX_IN_FLIGHT = 100;

/** The HTTP servers of this process, and what else it opened: closed in afterAll. */
const servers: Server[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

/** Listens on a port the kernel picks on 127.0.0.1, and returns it. */
async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** The app behind the guide's `default_backend app`: answers `app` to everything. */
function startApp(): Promise<number> {
  return listen(createServer((_req, res) => res.end('app')));
}

/**
 * A Tidewire node whose Redis does not answer (nothing listens on its port): its engine stays
 * `connecting to Redis`, and its /tidewire/ready answers 503. It counts what reaches it: the
 * health checks (`GET /tidewire/ready`), and every other request or upgrade.
 */
async function startUnreadyNode() {
  const redis = createRedisClient({
    url: `redis://127.0.0.1:${await freePort()}`,
    socket: { reconnectStrategy: () => 200 },
  });
  redis.on('error', () => {});
  redis.connect().catch(() => {});
  const engine = createRedisEngine({ connection: fromNodeRedis(redis), prefix: PREFIX });
  const tw = createTidewireServer({ engine });
  const http = createServer();
  tw.attach(http);
  // After attach, which takes the request listeners there are over as its fallback.
  const seen = { checks: 0, others: [] as string[] };
  http.on('request', (req: IncomingMessage) => {
    if (req.method === 'GET' && req.url === '/tidewire/ready') seen.checks += 1;
    else seen.others.push(`${req.method} ${req.url}`);
  });
  http.on('upgrade', (req: IncomingMessage) => seen.others.push(`upgrade ${req.url}`));
  cleanups.push(async () => {
    await tw.close();
    await engine.close();
    await redis.destroy();
  });
  const port = await listen(http);
  return { port, seen };
}

interface Ack {
  n: number;
  channel: string;
  id: string;
}

/** One publish every PUBLISH_EVERY_MS through `origin`, data `{ n }`, until stopped. */
function startPublishing(origin: string) {
  const acks: Ack[] = [];
  const failures = new Map<string, number>();
  let attempted = 0;
  let skipped = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    if (inFlight >= MAX_IN_FLIGHT) {
      skipped += 1;
      return;
    }
    attempted += 1;
    const n = attempted;
    const channel = CHANNELS[n % CHANNELS.length]!;
    const fail = (why: string): void => {
      failures.set(why, (failures.get(why) ?? 0) + 1);
    };
    inFlight += 1;
    fetch(`${origin}/tidewire/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel, data: { n } }),
      signal: AbortSignal.timeout(5000),
    })
      .then(async (response) => {
        if (response.ok) acks.push({ n, channel, id: ((await response.json()) as Ack).id });
        else {
          fail(String(response.status));
          await response.body?.cancel();
        }
      })
      .catch(() => fail('network'))
      .finally(() => {
        inFlight -= 1;
      });
  }, PUBLISH_EVERY_MS);
  let stopped: Promise<void> | undefined;
  return {
    acks,
    failures,
    figures: () => ({ attempted, skipped, acked: acks.length }),
    stop() {
      clearInterval(timer);
      stopped ??= until(() => inFlight === 0, 10_000, 'publishes in flight to finish');
      return stopped;
    },
  };
}

/** What one client saw of one channel. */
interface Seen {
  channel: string;
  /** Where the server had it go live. */
  start: string | undefined;
  events: Array<{ id: string; seq: number; n: number }>;
  gaps: string[];
  duplicates: number;
}

const seqOf = (id: string): number => Number(id.slice(id.lastIndexOf('-') + 1));

/** A Tidewire client through haproxy on one transport, recording what its channels see. */
function watch(name: string, origin: string, transport: 'sse' | 'websocket', channels: string[]) {
  const client = createClient({
    url: `${origin}/tidewire`,
    transport,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
  });
  /** Each time its connection was lost, and when every channel was live again. */
  const losses: Array<{ at: number; liveAt?: number }> = [];
  const subs: Array<{ sub: Subscription<unknown>; seen: Seen }> = [];
  const live = () => subs.every(({ sub }) => sub.getSnapshot().status === 'live');
  for (const channel of channels) {
    const sub = client.subscribe(channel);
    const seen: Seen = { channel, start: undefined, events: [], gaps: [], duplicates: 0 };
    sub.on('event', (event) => {
      seen.events.push({ id: event.id, seq: seqOf(event.id), n: (event.data as { n: number }).n });
    });
    sub.on('gap', ({ reason }) => seen.gaps.push(reason));
    sub.on('change', () => {
      const snapshot = sub.getSnapshot();
      seen.duplicates = snapshot.duplicates;
      if (snapshot.status === 'live') seen.start ??= snapshot.lastEventId;
      const loss = losses.at(-1);
      if (loss && loss.liveAt === undefined && live()) loss.liveAt = performance.now();
    });
    subs.push({ sub, seen });
  }
  client.on('state', ({ next, prev }) => {
    if (prev.status === 'open' && next.status !== 'open') losses.push({ at: performance.now() });
  });
  return {
    name,
    client,
    seen: subs.map(({ seen }) => seen),
    losses,
    live: () => live() && client.getState()[transport].status === 'open',
  };
}

/** Every channel's history in Redis: ids and data. */
const readHistory = (port: number) => readChannels(port, PREFIX, CHANNELS);

describe.skipIf(skipReason !== undefined)(
  `the guide's haproxy configuration for a cluster${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    const clients: Client[] = [];
    let stopPublishing: (() => Promise<void>) | undefined;
    // Everything by pid (or closed in-process), also after a failure midway.
    afterAll(async () => {
      await stopPublishing?.().catch(() => {});
      for (const client of clients) client.close();
      await closeAll();
      await stopHaproxy();
      await killNodes();
      await stopAll();
      removeNodeBuild();
      for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
      for (const server of servers.splice(0)) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('should route round robin, take out a node that is killed or not ready, and lose or repeat no event', async () => {
      const began = performance.now();
      const redis = await startRedis();
      // The node program finds its Redis through a Sentinel.
      const sentinel = await startRedis({
        sentinel: [`sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${redis.port} 1`],
      });
      const a = createNode({
        port: await freePort(),
        sentinelPort: sentinel.port,
        name: SENTINEL_NAME,
        prefix: PREFIX,
      });
      const b = createNode({
        port: await freePort(),
        sentinelPort: sentinel.port,
        name: SENTINEL_NAME,
        prefix: PREFIX,
      });
      await Promise.all([a.start(), b.start()]);
      const unready = await startUnreadyNode();
      expect((await fetch(`http://127.0.0.1:${unready.port}/tidewire/ready`)).status).toBe(503);
      const appPort = await startApp();

      const haproxy: Haproxy = await startHaproxy((port) =>
        forLoopback(guideClusterConfig(), port, {
          tidewire: [a.port, b.port, unready.port],
          app: [appPort],
        }),
      );
      const { origin } = haproxy;
      // The first check that fails takes a server DOWN: tw3's 503, within `inter` of the start.
      await until(() => haproxy.serverState('tidewire/tw3') === 'DOWN', 5000, 'tw3 to go DOWN');
      expect(haproxy.log()).toMatch(
        /Server tidewire\/tw3 is DOWN, reason: Layer7 wrong status, code: 503/,
      );
      expect(haproxy.serverState('tidewire/tw1')).toBeUndefined();
      expect(haproxy.serverState('tidewire/tw2')).toBeUndefined();
      // Only /tidewire/ goes to the nodes.
      expect(await (await fetch(`${origin}/`)).text()).toBe('app');
      expect(await (await fetch(`${origin}/tidewire/ready`)).json()).toEqual({ ready: true });

      const watched = [
        watch('ws-1', origin, 'websocket', ['c0', 'c1', 'c2']),
        watch('ws-2', origin, 'websocket', ['c3', 'c4', 'c5']),
        watch('ws-3', origin, 'websocket', ['c6', 'c7', 'c0']),
        watch('ws-4', origin, 'websocket', ['c1', 'c4', 'c7']),
        watch('sse-1', origin, 'sse', ['c0', 'c3', 'c6']),
        watch('sse-2', origin, 'sse', ['c1', 'c4', 'c7']),
        watch('sse-3', origin, 'sse', ['c2', 'c5']),
        watch('sse-4', origin, 'sse', ['c5', 'c6', 'c7']),
      ];
      clients.push(...watched.map(({ client }) => client));
      await until(() => watched.every(({ live }) => live()), 10_000, 'every client to go live');
      const load = startPublishing(origin);
      stopPublishing = load.stop;
      const setupMs = performance.now() - began;
      await sleep(1500);

      // A crash: haproxy's checks fail from the next one (`inter 1s`), and `fall 2` takes the
      // node out. Until then, a connection it refuses is tried again, the last time on tw2.
      const killedAt = performance.now();
      await a.kill();
      await until(() => haproxy.serverState('tidewire/tw1') === 'DOWN', 8000, 'tw1 to go DOWN');
      const downMs = performance.now() - killedAt;
      await sleep(1000);
      const restartedAt = performance.now();
      await a.start();
      // `rise 2`: two checks passed, a second apart.
      await until(() => haproxy.serverState('tidewire/tw1') === 'UP', 8000, 'tw1 to come UP');
      const upMs = performance.now() - restartedAt;
      await sleep(1000);

      // New requests, each on a connection of its own: all go to the two ready nodes. With tw3
      // in rotation, a third of them would reach it (its /live answers 200), and be counted.
      const probes = await Promise.all(
        Array.from({ length: 30 }, () =>
          fetch(`${origin}/tidewire/live`, { headers: { connection: 'close' } }).then(
            (response) => response.status,
          ),
        ),
      );
      expect(probes.every((status) => status === 200)).toBe(true);

      await load.stop();
      const history = await readHistory(redis.port);
      const lastOf = (channel: string) => history.get(channel)?.at(-1)?.id;
      await until(
        () =>
          watched.every(({ seen }) =>
            seen.every(
              (s) => lastOf(s.channel) === undefined || s.events.at(-1)?.id === lastOf(s.channel),
            ),
          ),
        10_000,
        'every client to catch up',
      ).catch(() => {});

      const problems: string[] = [];
      // The history: every acknowledged publish, each publish at most once.
      const stored = new Map<number, string>();
      for (const events of history.values()) {
        for (const event of events) {
          if (stored.has(event.n)) problems.push(`history: n=${event.n} stored twice`);
          stored.set(event.n, event.id);
        }
      }
      for (const ack of load.acks) {
        if (stored.get(ack.n) !== ack.id) {
          problems.push(
            `publish: n=${ack.n} acknowledged as ${ack.id}, stored as ${stored.get(ack.n)}`,
          );
        }
      }
      // Every client: from where it went live, every event of the history, in order, once.
      for (const { name, seen } of watched) {
        for (const s of seen) {
          const where = `${name} ${s.channel}`;
          if (s.start === undefined) {
            problems.push(`${where}: never went live`);
            continue;
          }
          if (s.gaps.length > 0) problems.push(`${where}: gaps ${s.gaps.join(', ')}`);
          if (s.duplicates > 0) problems.push(`${where}: ${s.duplicates} duplicates dropped`);
          const from = seqOf(s.start);
          const expected = (history.get(s.channel) ?? [])
            .filter((event) => event.seq > from)
            .map((event) => `${event.id}:${event.n}`);
          const got = s.events.map((event) => `${event.id}:${event.n}`);
          if (got.join() !== expected.join()) {
            const missing = expected.filter((event) => !got.includes(event));
            const extra = got.filter((event) => !expected.includes(event));
            problems.push(
              `${where}: got ${got.length} events of ${expected.length} (missing ${missing.length}, ` +
                `first ${missing[0]}; extra ${extra.length}, first ${extra[0]}; else out of order)`,
            );
          }
        }
      }

      const resumes = watched.flatMap(({ name, losses }) =>
        losses.map((loss) => ({ name, ms: (loss.liveAt ?? Number.NaN) - loss.at })),
      );
      const figures = load.figures();
      const kept = [...history.values()].reduce((sum, events) => sum + events.length, 0);
      console.info(
        [
          `haproxy run: setup ${(setupMs / 1000).toFixed(1)} s, total ${((performance.now() - began) / 1000).toFixed(1)} s`,
          `tw1 DOWN ${downMs.toFixed(0)} ms after the kill, UP ${upMs.toFixed(0)} ms after the restart`,
          `publishes: ${figures.attempted} sent, ${figures.acked} acked, failed ${JSON.stringify(Object.fromEntries(load.failures))}, ${figures.skipped} skipped; ${kept} events kept`,
          `resumes after the kill: ${resumes.map(({ name, ms }) => `${name} ${ms.toFixed(0)} ms`).join(', ')}`,
          `tw3 (not ready): ${unready.seen.checks} checks, ${unready.seen.others.length} other requests`,
          `problems: ${problems.length}`,
        ].join('\n'),
      );
      if (problems.length > 0) {
        console.info(problems.slice(0, 40).join('\n'));
        console.info(`haproxy log:\n${haproxy.log().slice(-3000)}`);
        console.info(`node A log:\n${a.log().slice(-3000)}\nnode B log:\n${b.log().slice(-3000)}`);
      }
      expect(problems).toEqual([]);
      // Round robin, no stickiness: the kill cut some of the clients, not all; each came back.
      const cut = watched.filter(({ losses }) => losses.length > 0).length;
      expect(cut).toBeGreaterThan(0);
      expect(cut).toBeLessThan(watched.length);
      expect(resumes.every(({ ms }) => Number.isFinite(ms))).toBe(true);
      expect(watched.filter(({ live }) => !live()).map(({ name }) => name)).toEqual([]);
      expect(figures.acked).toBeGreaterThan(1000);
      // The node that is not ready was checked, and never sent a request.
      expect(unready.seen.checks).toBeGreaterThan(0);
      expect(unready.seen.others).toEqual([]);
      expect(haproxy.serverState('tidewire/tw3')).toBe('DOWN');
    }, 45_000);

    it('should never send a publish twice, and send a subscription refused with 503 to another node', async () => {
      // Three stand-ins for nodes, all ready. Each closes the connection of a publish without an
      // answer, as a node that crashed after reading it (perhaps after storing it). The first
      // refuses streams and WebSocket upgrades with 503, as a node that is not ready does.
      const received: number[] = [];
      const refused: string[] = [];
      const sockets = new WebSocketServer({ noServer: true });
      const ports: number[] = [];
      for (let index = 0; index < 3; index++) {
        const server = createServer((req, res) => {
          let body = '';
          req.setEncoding('utf8');
          req.on('data', (chunk: string) => {
            body += chunk;
          });
          req.on('end', () => {
            if (req.url === '/tidewire/ready') {
              res.end('{"ready":true}');
            } else if (req.url === '/tidewire/publish') {
              received.push((JSON.parse(body) as { data: { n: number } }).data.n);
              req.socket.destroy();
            } else if (index === 0) {
              refused.push(`${req.method} ${req.url}`);
              res.writeHead(503, { 'retry-after': '1' }).end();
            } else res.end('stream');
          });
        });
        server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
          socket.on('error', () => {});
          if (index === 0) {
            refused.push(`upgrade ${req.url}`);
            socket.end(
              'HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n',
            );
          } else {
            sockets.handleUpgrade(req, socket, head, (ws) => {
              ws.on('error', () => {});
              ws.close(1000);
            });
          }
        });
        ports.push(await listen(server));
      }
      const appPort = await startApp();
      const haproxy = await startHaproxy((port) =>
        forLoopback(guideClusterConfig(), port, { tidewire: ports, app: [appPort] }),
      );

      // On a connection of its own each: on a reused one, haproxy closes the client's connection
      // instead of answering 502, as the node closed its own (the publisher may retry either way).
      const outcomes: string[] = [];
      for (let n = 1; n <= 6; n++) {
        outcomes.push(
          await fetch(`${haproxy.origin}/tidewire/publish`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', connection: 'close' },
            body: JSON.stringify({ channel: 'c', data: { n } }),
          }).then(
            async (response) => {
              await response.body?.cancel();
              return String(response.status);
            },
            () => 'closed',
          ),
        );
      }
      // Each reached one node, once; its publisher got the failure (and may publish again).
      expect(received).toEqual([1, 2, 3, 4, 5, 6]);
      expect(outcomes.filter((outcome) => outcome !== '502' && outcome !== 'closed')).toEqual([]);

      const streams = await Promise.all(
        Array.from({ length: 6 }, () =>
          fetch(`${haproxy.origin}/tidewire/sse?v=2&channel=c`, {
            headers: { connection: 'close' },
          }).then(async (response) => `${response.status} ${await response.text()}`),
        ),
      );
      expect(streams).toEqual(Array.from({ length: 6 }, () => '200 stream'));
      const upgrades = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<string>((resolve) => {
              const ws = new WebSocket(`${haproxy.origin.replace('http', 'ws')}/tidewire/ws`);
              ws.on('error', () => {});
              ws.once('open', () => {
                resolve('open');
                ws.close();
              });
              ws.once('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
              ws.once('error', (error) => resolve(error.message));
            }),
        ),
      );
      expect(upgrades).toEqual(Array.from({ length: 6 }, () => 'open'));
      // The first node refused some of them: haproxy sent those on to another.
      expect(refused.filter((what) => what.startsWith('GET')).length).toBeGreaterThan(0);
      expect(refused.filter((what) => what.startsWith('upgrade')).length).toBeGreaterThan(0);
      sockets.close();
      await haproxy.stop();
    }, 20_000);
  },
);
