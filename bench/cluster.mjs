// Scale-out on Redis (@tidewire/redis), on loopback, after `pnpm build`:
//   node bench/run.mjs cluster       (figures into bench/results.json; about 5 minutes)
//   node bench/cluster.mjs           (the same, alone)
// - publish: publishes/s through the engine with the epoch fence in every publish, 1 and 64
//   appends in flight (packages/redis/bench/publish.mjs);
// - tail: how fast a node's tail delivers the global log to its server: 200,000 events are
//   appended while the node's reads are held, then the node catches up;
// - resume: two nodes behind nginx round robin, clients (half SSE, half WebSocket, default
//   settings) through nginx; a node is killed (SIGKILL): how long its clients take to be live
//   again on the other node, from the loss (their backoff included) and from the attempt that
//   succeeded;
// - readiness: a node whose Redis connection goes through a TCP proxy that is cut (connection
//   refused) or stalled (no answer): when its `/ready` turns red, when it sheds its connections
//   (staleAfterMs, 30 s by default, after Redis last answered), and how long the shed clients
//   take to be live on the other node.
// Every process (Redis, Sentinel, nodes, nginx) is started here and stopped by its pid.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { measurePublishes } from '../packages/redis/bench/publish.mjs';
import {
  freePort,
  missing,
  startNginx,
  startNode,
  startRedis,
  startSentinelRig,
  stopEverything,
  waitFor,
} from '../scripts/cluster/rig.mjs';
import { int, median, percentile, printTable } from './lib/report.mjs';

const require = createRequire(new URL('../packages/redis/package.json', import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const defaults = {
  publishSeconds: 3,
  tailEvents: 200_000,
  tailRounds: 5,
  resumeClients: 200,
  resumeRounds: 3,
  readinessClients: 100,
};

const CHANNELS = Array.from({ length: 20 }, (_, i) => `c${i}`);

export async function run(options = {}) {
  const o = { ...defaults, ...options };
  const log = o.log ?? (() => {});
  const problems = missing();
  if (problems.length > 0) throw new Error(problems.join('; '));
  const dir = mkdtempSync(join(tmpdir(), 'tidewire-bench-cluster-'));
  try {
    console.log('publishes through Redis with the fence…');
    const publish = await measurePublishes({ seconds: o.publishSeconds, log });
    console.log('a node’s tail…');
    const tail = await measureTail(dir, o);
    console.log('resume on another node…');
    const resume = await measureResume(dir, o, log);
    console.log('readiness and shedding…');
    const readiness = await measureReadiness(dir, o, log);
    const result = {
      options: {
        publishSeconds: o.publishSeconds,
        tailEvents: o.tailEvents,
        tailRounds: o.tailRounds,
        resumeClients: o.resumeClients,
        resumeRounds: o.resumeRounds,
        readinessClients: o.readinessClients,
      },
      publish,
      tail,
      resume,
      readiness,
    };
    result.targets = targets(result);
    report(result);
    return result;
  } finally {
    await stopEverything();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The goals, judged on these figures. */
function targets({ publish, tail, resume, readiness }) {
  const best = Math.max(publish.functions[64], publish.scripts[64]);
  const red = Math.max(...readiness.map((r) => r.redMs));
  const shed = Math.max(...readiness.map((r) => r.shedMs));
  const judge = (met) => (met ? 'met' : 'missed');
  return [
    {
      name: 'publishes through Redis with the fence ≥ 40,000/s',
      status: judge(best >= 40_000),
      value: best,
      display: `${int(best)}/s`,
    },
    {
      name: 'a node’s tail ≥ 200,000 events/s',
      status: judge(tail.median >= 200_000),
      value: tail.median,
      display: `${int(tail.median)}/s`,
    },
    {
      name: 'resume on another node p50 ≤ 0.5 s',
      status: judge(resume.lossToLive.p50 <= 500),
      value: resume.lossToLive.p50,
      display: `${(resume.lossToLive.p50 / 1000).toFixed(2)} s from the loss, ${int(resume.attemptToLive.p50)} ms from the attempt`,
    },
    {
      // /ready is polled every 50 ms: that is the resolution.
      name: 'readiness red within 10 s of losing Redis',
      status: judge(red <= 10_050),
      value: red,
      display: `${(red / 1000).toFixed(2)} s`,
    },
    {
      // Counted from Redis's last answer; the server looks at the engine's health once a second.
      name: 'connections shed within 30 s of losing Redis',
      status: judge(shed <= 31_000),
      value: shed,
      display: `${(shed / 1000).toFixed(1)} s`,
    },
  ];
}

function report({ publish, tail, resume, readiness }) {
  printTable(
    'Publishes through Redis with the fence (100 channels, 100-byte events, median of 3 rounds)',
    ['procedures', '1 in flight', '64 in flight'],
    ['functions', 'scripts'].map((mode) => [mode, int(publish[mode][1]), int(publish[mode][64])]),
  );
  printTable(
    `A node’s tail catching up on ${int(tail.events)} events`,
    ['rounds', 'events/s (median)', 'each round'],
    [[tail.rounds.length, int(tail.median), tail.rounds.map(int).join(', ')]],
  );
  printTable(
    `Resume on the other node after a node is killed (${resume.samples} clients in ${resume.rounds} kills)`,
    ['from', 'p50', 'p90', 'max'],
    [
      [
        'the loss (backoff included)',
        ...['p50', 'p90', 'max'].map((k) => `${int(resume.lossToLive[k])} ms`),
      ],
      [
        'the attempt that succeeded',
        ...['p50', 'p90', 'max'].map((k) => `${int(resume.attemptToLive[k])} ms`),
      ],
    ],
  );
  printTable(
    'A node that loses Redis (staleAfterMs 30 s)',
    [
      'Redis',
      'ready red after',
      'connections shed after',
      'shed clients live again (p50)',
      'clients shed',
    ],
    readiness.map((r) => [
      r.scenario,
      `${(r.redMs / 1000).toFixed(1)} s`,
      `${(r.shedMs / 1000).toFixed(1)} s`,
      `${int(r.movedP50Ms)} ms`,
      r.shed,
    ]),
  );
}

/**
 * Clients through `url`, half SSE half WebSocket, each on two channels, that record when
 * their connection is lost, when the attempt that succeeded started and when every channel
 * is live again.
 */
async function openClients(url, count) {
  const { createClient } = await import('../packages/core/dist/index.js');
  const clients = [];
  const resumes = [];
  for (let index = 0; index < count; index++) {
    const transport = index % 2 === 0 ? 'sse' : 'websocket';
    const client = createClient({ url, transport, WebSocket });
    const subs = [CHANNELS[index % CHANNELS.length], CHANNELS[(index * 7 + 3) % CHANNELS.length]]
      .filter((channel, at, all) => all.indexOf(channel) === at)
      .map((channel) => client.subscribe(channel));
    let pending;
    const entry = {
      client,
      subs,
      live: () => subs.every((s) => s.getSnapshot().status === 'live'),
    };
    for (const sub of subs) {
      sub.on('change', () => {
        if (pending && entry.live()) {
          resumes.push({ ...pending, liveAt: performance.now() });
          pending = undefined;
        }
      });
    }
    client.on('state', ({ next, prev }) => {
      if (prev.status === 'open' && next.status !== 'open') {
        pending = { lostAt: performance.now(), attemptAt: Number.NaN };
      } else if (pending && next.status === 'connecting') pending.attemptAt = performance.now();
    });
    clients.push(entry);
  }
  await waitFor(() => clients.every((c) => c.live()), 30_000, 'every client to be live');
  return {
    resumes,
    allLive: () => clients.every((c) => c.live()),
    close: () => {
      for (const { client } of clients) client.close();
    },
  };
}

/** One publish every `everyMs` through `origin`, until stopped. */
function publishEvery(origin, everyMs) {
  let n = 0;
  const timer = setInterval(() => {
    n += 1;
    fetch(`${origin}/tidewire/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: CHANNELS[n % CHANNELS.length], data: { n } }),
      signal: AbortSignal.timeout(5000),
    })
      .then((response) => response.body?.cancel())
      .catch(() => {});
  }, everyMs);
  return () => clearInterval(timer);
}

const spread = (values) => ({
  p50: percentile(values, 50),
  p90: percentile(values, 90),
  max: percentile(values, 100),
});

/** Events per second a node's tail delivers when it has a backlog of `tailEvents` to read. */
async function measureTail(dir, o) {
  const { createClient } = require('@redis/client');
  const { createRedisEngine, fromNodeRedis } = await import('../packages/redis/dist/index.js');
  const { createTidewireServer } = await import('../packages/server/dist/index.js');
  const redis = await startRedis(dir, { port: await freePort() });
  const client = createClient({ url: `redis://127.0.0.1:${redis.port}` });
  client.on('error', () => {});
  await client.connect();
  const rounds = [];
  try {
    for (let round = 0; round < o.tailRounds; round++) {
      await client.sendCommand(['FLUSHALL']);
      const options = { prefix: '{tail}', logLength: o.tailEvents * 2, maxEvents: 1000 };
      const writer = createRedisEngine({ connection: fromNodeRedis(client), ...options });
      // The node under test: its reads wait for the gate, so that the backlog builds up.
      let open;
      const gate = new Promise((resolve) => {
        open = resolve;
      });
      const gated = (connection) => ({
        get isReady() {
          return connection.isReady;
        },
        loadScript: connection.loadScript,
        runScript: connection.runScript,
        loadLibrary: connection.loadLibrary,
        callFunction: connection.callFunction,
        readStream: async (...args) => {
          await gate;
          return connection.readStream(...args);
        },
        duplicate: () => gated(connection.duplicate()),
        destroy: connection.destroy,
      });
      const node = createRedisEngine({
        connection: gated(fromNodeRedis(client)),
        ...options,
        blockMs: 60_000,
      });
      await Promise.all([writer.ready, node.ready]);
      const server = createTidewireServer({ engine: node });
      let delivered = 0;
      let done;
      const caughtUp = new Promise((resolve) => {
        done = resolve;
      });
      node.listen({
        event: () => {
          delivered += 1;
          if (delivered === o.tailEvents) done(performance.now());
        },
        reset: () => {},
      });
      const payload = JSON.stringify({ text: 'x'.repeat(88) });
      let appended = 0;
      await Promise.all(
        Array.from({ length: 128 }, async () => {
          while (appended < o.tailEvents) {
            appended += 1;
            await writer.append({
              channel: `c${appended % 100}`,
              event: 'message',
              dataJson: payload,
            });
          }
        }),
      );
      const started = performance.now();
      open();
      const finished = await Promise.race([caughtUp, sleep(60_000)]);
      if (finished === undefined) throw new Error(`the tail delivered ${delivered} events`);
      rounds.push(o.tailEvents / ((finished - started) / 1000));
      await server.close();
      await node.close();
      await writer.close();
    }
  } finally {
    client.destroy();
    await redis.kill();
  }
  return { events: o.tailEvents, rounds, median: median(rounds) };
}

/** Clients resuming on the other node after a node is killed. */
async function measureResume(dir, o, log) {
  const rig = await startSentinelRig(dir);
  const nodes = [];
  for (let index = 0; index < 2; index++) {
    const settings = {
      port: await freePort(),
      sentinelPort: rig.sentinel.port,
      name: rig.name,
      publish: 'any',
    };
    nodes.push({ settings, process: await startNode(settings) });
  }
  const nginx = await startNginx(dir, {
    port: await freePort(),
    nodes: nodes.map((n) => n.settings.port),
  });
  const origin = `http://127.0.0.1:${nginx.port}`;
  const stopPublishing = publishEvery(origin, 5);
  const clients = await openClients(`${origin}/tidewire`, o.resumeClients);
  const samples = [];
  try {
    for (let round = 0; round < o.resumeRounds; round++) {
      // Stable connections (the client's stableAfter, 5 s): each kill meets a first retry.
      await sleep(6000);
      const node = nodes[round % nodes.length];
      const killedAt = performance.now();
      await node.process.kill();
      await sleep(1000);
      await waitFor(clients.allLive, 30_000, 'every client to be live again');
      const of = clients.resumes.filter((r) => r.lostAt >= killedAt);
      samples.push(...of);
      log(`  kill ${round + 1}: ${of.length} clients resumed`);
      node.process = await startNode(node.settings);
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${node.settings.port}/tidewire/ready`)).ok,
        20_000,
        'the node to be ready',
      );
    }
  } finally {
    stopPublishing();
    clients.close();
    await Promise.all(nodes.map((n) => n.process.kill()));
    await nginx.stop();
    await rig.stop();
  }
  return {
    rounds: o.resumeRounds,
    samples: samples.length,
    lossToLive: spread(samples.map((r) => r.liveAt - r.lostAt)),
    attemptToLive: spread(
      samples.map((r) => r.liveAt - (Number.isNaN(r.attemptAt) ? r.lostAt : r.attemptAt)),
    ),
  };
}

/** A TCP proxy to `port` that can be cut (connections refused) or stalled (nothing passes). */
async function startProxy(port) {
  let mode = 'pass';
  const pairs = new Set();
  const server = createServer((socket) => {
    if (mode === 'cut') return socket.destroy();
    const upstream = connect(port, '127.0.0.1');
    const pair = { socket, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    if (mode === 'stall') return;
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    cut() {
      mode = 'cut';
      for (const { socket, upstream } of pairs) {
        socket.destroy();
        upstream.destroy();
      }
    },
    stall() {
      mode = 'stall';
      for (const { socket, upstream } of pairs) {
        socket.unpipe(upstream);
        upstream.unpipe(socket);
        socket.pause();
        upstream.pause();
      }
    },
    close: () => {
      for (const { socket, upstream } of pairs) {
        socket.destroy();
        upstream.destroy();
      }
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Node A reaches Redis through a proxy, node B directly; nginx in front of both. The proxy is
 * cut (or stalled): when A's /ready turns red, when A's clients are shed, and how long they
 * take to be live on B.
 */
async function measureReadiness(dir, o, log) {
  const results = [];
  const redis = await startRedis(dir, { port: await freePort() });
  try {
    for (const [scenario, action] of [
      ['connection lost', 'cut'],
      ['no answer (stalled)', 'stall'],
    ]) {
      const proxy = await startProxy(redis.port);
      const a = {
        port: await freePort(),
        redisUrl: `redis://127.0.0.1:${proxy.port}`,
        publish: 'any',
      };
      const b = {
        port: await freePort(),
        redisUrl: `redis://127.0.0.1:${redis.port}`,
        publish: 'any',
      };
      const nodeA = await startNode(a);
      const nodeB = await startNode(b);
      const nginx = await startNginx(dir, { port: await freePort(), nodes: [a.port, b.port] });
      const origin = `http://127.0.0.1:${nginx.port}`;
      const stopPublishing = publishEvery(origin, 10);
      const clients = await openClients(`${origin}/tidewire`, o.readinessClients);
      try {
        await sleep(6000);
        const cutAt = performance.now();
        proxy[action]();
        let redAt;
        await waitFor(
          async () => {
            const response = await fetch(`http://127.0.0.1:${a.port}/tidewire/ready`);
            await response.body?.cancel();
            if (response.status === 503) redAt ??= performance.now();
            return redAt !== undefined;
          },
          20_000,
          'node A to turn not ready',
        );
        await waitFor(
          () => clients.resumes.some((r) => r.lostAt >= cutAt),
          60_000,
          'node A to shed',
        );
        await sleep(1000);
        await waitFor(clients.allLive, 30_000, 'the shed clients to be live again');
        const shed = clients.resumes.filter((r) => r.lostAt >= cutAt);
        const result = {
          scenario,
          redMs: redAt - cutAt,
          shedMs: median(shed.map((r) => r.lostAt)) - cutAt,
          movedP50Ms: median(shed.map((r) => r.liveAt - r.lostAt)),
          shed: shed.length,
        };
        log(`  ${scenario}: ${JSON.stringify(result)}`);
        results.push(result);
      } finally {
        stopPublishing();
        clients.close();
        await Promise.all([nodeA.kill(), nodeB.kill(), nginx.stop()]);
        await proxy.close();
      }
    }
  } finally {
    await redis.kill();
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { machine } = await import('./lib/machine.mjs');
  const conditions = machine();
  console.log(
    `${conditions.cpu}, ${conditions.cores} cores, Node ${conditions.node}, load ${conditions.loadAverage.join(' ')}`,
  );
  const started = performance.now();
  const result = await run({ log: console.log });
  const path = new URL('./results.json', import.meta.url);
  const results = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  const seconds = (performance.now() - started) / 1000;
  results.cluster = { machine: { ...conditions, quick: false }, seconds, ...result };
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`(cluster: ${seconds.toFixed(0)} s)`);
}
