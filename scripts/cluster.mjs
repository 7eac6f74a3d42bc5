// A local Tidewire cluster with the playground against it: `npm run cluster` (builds first), or
// `node scripts/cluster.mjs` after `pnpm build`. PORT picks nginx's port (default 8080).
//
// - Redis: a primary, a replica and a Sentinel (Debian's redis-server and redis-sentinel);
// - two Tidewire nodes (scripts/cluster/node.mjs): @tidewire/server with @tidewire/redis;
// - nginx round robin over the nodes for /tidewire/ (no stickiness), and the playground
//   (pages, /token, /api, the demo publishers) for everything else, on the same Redis engine.
//
// It prints the pids to kill, and the playground's pages have buttons for the same (kill a node,
// kill the Redis primary, fail Redis over: cluster/controls.mjs) instead of the built-in chaos
// controls that act on the playground's own server. A killed node or Redis instance is started
// again a few seconds later (a Redis instance as a replica of the primary of then), so that you
// can go on killing. Ctrl-C stops everything. Files live in a scratch folder that is deleted on
// exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterChaos } from './cluster/controls.mjs';
import {
  countConnections,
  freePort,
  isFree,
  missing,
  startNginx,
  startNode,
  startSentinelRig,
  stopEverything,
  waitFor,
  waitForReplica,
} from './cluster/rig.mjs';

const problems = missing();
if (problems.length > 0) {
  for (const line of problems) console.error(line);
  process.exit(1);
}
const require = createRequire(new URL('../packages/redis/package.json', import.meta.url));
const { createSentinel } = require('@redis/client');
const { createRedisEngine, fromNodeRedisSentinel } = await import(
  '../packages/redis/dist/index.js'
);
const { startPlayground } = await import('../playground/dist/server.js');

const port = Number(process.env.PORT ?? 8080);
if (!(await isFree(port))) {
  console.error(`port ${port} is taken: choose another, PORT=8090 node scripts/cluster.mjs`);
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'tidewire-cluster-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
let stopping = false;
const say = (line) => {
  if (!stopping) console.log(`[cluster] ${line}`);
};

async function main() {
  const rig = await startSentinelRig(dir);
  const { name, sentinel } = rig;
  const redis = [
    { label: 'Redis A', process: rig.primary },
    { label: 'Redis B', process: rig.replica },
  ];

  // The nodes: fixed ports, so that nginx finds a restarted node where it was.
  const nodes = [];
  for (const label of ['node 1', 'node 2']) {
    const settings = { port: await freePort(), sentinelPort: sentinel.port, name };
    const node = {
      label,
      settings,
      current: await startNode(settings, nodeLog(label)),
      down: false,
    };
    nodes.push(node);
    keepRunning(node);
  }

  // The playground, in this process, on the same Redis: its publishers and counts see every node.
  // Its pages' chaos buttons kill and fail over the cluster's processes.
  const client = createSentinel({
    name,
    sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel.port }],
  });
  client.on('error', () => {});
  await client.connect();
  const engine = createRedisEngine({ connection: fromNodeRedisSentinel(client), logger: quiet });
  await engine.ready;
  const playground = await startPlayground({
    port: 0,
    engine,
    chaos: clusterChaos({ nodes, redis, rig, say }),
    // The pages connect to the nodes: the top bar shows their connections, not the playground's.
    connections: () => countConnections(nodes.map((node) => node.settings.port)),
  });
  const nginx = await startNginx(dir, {
    port,
    nodes: nodes.map((node) => node.settings.port),
    app: playground.port,
  });

  for (const entry of redis) watchRedis(entry, rig, redis);
  void sentinel.exited.then(() => say('the Sentinel stopped: failovers stop with it'));
  void nginx.exited.then(() => {
    if (!stopping) {
      say('nginx stopped: stopping the cluster');
      void stop(1);
    }
  });

  const url = `http://127.0.0.1:${port}/`;
  const primaryPort = await rig.primaryPort();
  const rows = [
    ['nginx (round robin)', nginx.pid, port, ''],
    ...nodes.map((node) => [
      node.label,
      node.current.pid,
      node.settings.port,
      `kill -9 ${node.current.pid}`,
    ]),
    ...redis.map(({ label, process: instance }) => [
      `${label} (${instance.port === primaryPort ? 'primary' : 'replica'})`,
      instance.pid,
      instance.port,
      instance.port === primaryPort ? `kill -9 ${instance.pid}` : '',
    ]),
    [
      'Sentinel',
      sentinel.pid,
      sentinel.port,
      `redis-cli -p ${sentinel.port} SENTINEL FAILOVER ${name}`,
    ],
    ['playground', process.pid, playground.port, 'pages, /token, /api and the demo publishers'],
  ];
  console.log(`Tidewire cluster running at ${url}: open ${url}vanilla, ${url}react or ${url}vue\n`);
  const widths = [22, 8, 7];
  console.log(
    `  ${'process'.padEnd(widths[0])}${'pid'.padEnd(widths[1])}${'port'.padEnd(widths[2])}try`,
  );
  for (const [what, pid, at, action] of rows) {
    console.log(
      `  ${what.padEnd(widths[0])}${String(pid).padEnd(widths[1])}${String(at).padEnd(widths[2])}${action}`,
    );
  }
  console.log(`
Kill a node: its pages' channels reconnect through nginx to the other node and resume from
their positions; the inspector's lost and dupes stay 0. Kill the Redis primary: Sentinel
promotes the replica within about 3 s; publishes and new connections fail meanwhile (503),
open connections stay and resume nothing, as nothing was lost. SENTINEL FAILOVER is a split
brain: for a moment the old primary acknowledges events the new one never gets; a page that
received one of them gets a gap (reason epoch) and the history kept since (which its inspector
counts as dupes: after a gap an app refetches), every other page resumes without one.
Killed processes are started again after a few seconds; new pids are printed. The pages' Chaos
card does the same: Kill node 1, Kill node 2, Kill the Redis primary, Fail over Redis, and pauses
the publishers; its controls that act on the playground's own server are left out. Ctrl-C stops.
`);

  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(code || 1), 5000).unref();
    await playground.close().catch(() => {});
    await engine.close().catch(() => {});
    await client.destroy().catch(() => {});
    await Promise.all(nodes.map((node) => node.current.stop()));
    await stopEverything();
    rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

/** Starts a node again 2 s after it exits, on the same port. */
function keepRunning(node) {
  void node.current.exited.then(async (how) => {
    node.down = true;
    if (stopping) return;
    say(
      `${node.label} exited (${how}); its clients move to the other node. Starting it again in 2 s`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if (stopping) return;
    try {
      node.current = await startNode(node.settings, nodeLog(node.label));
      node.down = false;
      say(`${node.label} is back: pid ${node.current.pid} (kill -9 ${node.current.pid})`);
      keepRunning(node);
    } catch (error) {
      say(`${node.label} could not start: ${error.message}`);
    }
  });
}

/**
 * When a Redis instance exits: waits until the Sentinel names another primary (if it was the
 * primary), then starts it again, empty, as a replica of that primary.
 */
function watchRedis(entry, rig, all) {
  void entry.process.exited.then(async (how) => {
    if (stopping) return;
    say(`${entry.label} exited (${how})`);
    try {
      const other = all.find((candidate) => candidate !== entry);
      await waitFor(
        async () => (await rig.primaryPort()) === other.process.port,
        30_000,
        'the Sentinel to promote the other instance',
      );
      say(
        `Sentinel promoted ${other.label} (port ${other.process.port}); starting ${entry.label} again as its replica`,
      );
      await entry.process.restart(['--replicaof', '127.0.0.1', String(other.process.port)]);
      await waitForReplica(entry.process, other.process);
      say(
        `${entry.label} is back as a replica: pid ${entry.process.pid}. The primary is now ${other.label}: kill -9 ${other.process.pid}`,
      );
      watchRedis(entry, rig, all);
    } catch (error) {
      say(`${entry.label} could not be started again: ${error.message}`);
    }
  });
}

/** Prints what a node logs (the engine losing Redis, resets, shed connections). */
function nodeLog(label) {
  return (line) => say(`${label}: ${line}`);
}

/** The playground's engine logs nothing: the nodes say what happens. */
const quiet = { warn: () => {}, error: () => {} };

main().catch(async (error) => {
  console.error(`[cluster] ${error.message}`);
  await stopEverything();
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
