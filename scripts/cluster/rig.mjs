// The processes of a local Tidewire cluster, for `node scripts/cluster.mjs` and
// `node bench/cluster.mjs`: a Redis primary, a replica and a Sentinel (Debian's redis-server and
// redis-sentinel), Tidewire nodes (node.mjs, on the built packages) and nginx round robin in
// front of them. Everything runs on 127.0.0.1, on free ports, with its files in one scratch
// folder; every process is a child of this one, started without daemonizing and stopped by its
// pid, also when this process exits.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_SENTINEL = '/usr/bin/redis-sentinel';
const REDIS_CLI = '/usr/bin/redis-cli';
const NGINX = '/usr/sbin/nginx';
const NODE_PROGRAM = fileURLToPath(new URL('./node.mjs', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

/** What is missing to run a cluster here, as lines to print; empty when nothing is. */
export function missing() {
  const lines = [];
  const binaries = [REDIS_SERVER, REDIS_SENTINEL, REDIS_CLI, NGINX].filter((f) => !existsSync(f));
  if (binaries.length > 0) {
    lines.push(
      `missing ${binaries.join(', ')}: apt-get install redis-server redis-sentinel nginx-light`,
    );
  }
  const builds = ['server', 'redis', 'core'].filter(
    (name) => !existsSync(join(root, 'packages', name, 'dist/index.js')),
  );
  if (builds.length > 0) lines.push(`packages not built (${builds.join(', ')}): run pnpm build`);
  return lines;
}

/** Every child process still running, killed by pid when this process exits. */
const children = new Set();
process.once('exit', () => {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
  }
});

/** Spawns a child process and keeps it in {@link children} until it exits. */
function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(signal ?? code);
    });
  });
  return child;
}

/** Sends `signal` to `child` by pid and waits until it is gone. */
async function signal(child, name) {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, name);
    } catch {}
  }
  await child.exited;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` every 50 ms until it returns something truthy, or fails after `ms`. */
export async function waitFor(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const run = promisify(execFile);

/** One command through redis-cli; its output, trimmed. */
export async function redisCli(port, ...args) {
  const { stdout } = await run(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 5000,
  });
  return stdout.trim();
}

/**
 * A redis-server on `port` with no persistence, in a fresh folder under `dir` at every start
 * (a restarted instance must not bring back stale data), waiting until it answers.
 */
export async function startRedis(dir, { port, args = [] }) {
  let child;
  let launches = 0;
  const launch = async (extra) => {
    launches += 1;
    const data = join(dir, `redis-${port}-${launches}`);
    mkdirSync(data, { recursive: true });
    child = start(REDIS_SERVER, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      data,
      '--repl-diskless-sync-delay',
      '0',
      ...extra,
    ]);
    await waitFor(
      async () => child.exitCode === null && (await redisCli(port, 'PING')) === 'PONG',
      10_000,
      `redis on port ${port}`,
    );
  };
  await launch(args);
  return {
    port,
    get pid() {
      return child.pid;
    },
    get exited() {
      return child.exited;
    },
    cli: (...command) => redisCli(port, ...command),
    kill: () => signal(child, 'SIGKILL'),
    stop: () => signal(child, 'SIGTERM'),
    /** Starts it again, empty, with `extra` arguments (`--replicaof` the primary of now). */
    async restart(extra = args) {
      await signal(child, 'SIGTERM');
      await launch(extra);
    },
  };
}

/**
 * A primary, a replica and one Sentinel (quorum 1, `down-after-milliseconds 2000`: 1000 can
 * fail over twice), ready for a failover: the replica finished its first sync and a write
 * reached it, and the Sentinel knows the replica.
 */
export async function startSentinelRig(dir, name = 'tw') {
  const primary = await startRedis(dir, { port: await freePort() });
  const replica = await startRedis(dir, {
    port: await freePort(),
    args: ['--replicaof', '127.0.0.1', String(primary.port)],
  });
  await waitForReplica(replica, primary);
  const port = await freePort();
  const config = join(dir, 'sentinel.conf');
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primary.port} 1`,
      `sentinel down-after-milliseconds ${name} 2000`,
      `sentinel failover-timeout ${name} 5000`,
    ].join('\n'),
  );
  let child;
  const launch = async () => {
    // Sentinel rewrites its config file as the cluster changes: a restart reads the latest.
    child = start(REDIS_SENTINEL, [config]);
    await waitFor(
      async () => child.exitCode === null && (await redisCli(port, 'PING')) === 'PONG',
      10_000,
      'the Sentinel',
    );
  };
  await launch();
  await waitFor(
    async () => (await redisCli(port, 'SENTINEL', 'REPLICAS', name)).includes(String(replica.port)),
    15_000,
    'the Sentinel to find the replica',
  );
  const sentinel = {
    port,
    get pid() {
      return child.pid;
    },
    get exited() {
      return child.exited;
    },
    cli: (...command) => redisCli(port, ...command),
    kill: () => signal(child, 'SIGKILL'),
    restart: async () => {
      await signal(child, 'SIGTERM');
      await launch();
    },
  };
  return {
    name,
    primary,
    replica,
    sentinel,
    /** The port of the instance the Sentinel names as the primary now. */
    primaryPort: async () =>
      Number((await sentinel.cli('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)).split('\n')[1]),
    stop: () => Promise.all([sentinel.kill(), primary.kill(), replica.kill()]),
  };
}

/**
 * Waits until `replica` streams from `primary`: its link is up, and a write made on the primary
 * after that reached it (after a diskless sync the stream starts only with the replica's first
 * acknowledgement, up to a second later).
 */
export async function waitForReplica(replica, primary) {
  await waitFor(
    async () => (await replica.cli('INFO', 'replication')).includes('master_link_status:up'),
    15_000,
    `redis ${replica.port} to sync from ${primary.port}`,
  );
  const mark = String(Date.now());
  await primary.cli('SET', 'rig:probe', mark);
  await waitFor(
    async () => (await replica.cli('GET', 'rig:probe')) === mark,
    10_000,
    `the replication stream to ${replica.port}`,
  );
}

/**
 * A Tidewire node (node.mjs) on `port`, over the Sentinel; resolves once it serves.
 * `settings`: `{ port, sentinelPort, name, prefix?, staleAfterMs?, publish?: 'any' | 'chat' }`.
 * Its warnings go to `onLog`, line by line.
 */
export async function startNode(settings, onLog = () => {}) {
  const child = start(process.execPath, [NODE_PROGRAM, JSON.stringify(settings)]);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    for (const line of chunk.split('\n')) if (line.trim()) onLog(line);
  });
  child.stdout.setEncoding('utf8');
  let out = '';
  const listening = new Promise((resolve) => {
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('listening')) resolve(true);
    });
  });
  const outcome = await Promise.race([
    listening,
    child.exited.then((how) => new Error(`node ${settings.port} exited at start (${how})`)),
    new Promise((resolve) =>
      setTimeout(resolve, 30_000, new Error(`node ${settings.port} did not start`)),
    ).then((error) => error),
  ]);
  if (outcome instanceof Error) {
    await signal(child, 'SIGKILL');
    throw outcome;
  }
  return {
    port: settings.port,
    pid: child.pid,
    exited: child.exited,
    kill: () => signal(child, 'SIGKILL'),
    stop: () => signal(child, 'SIGTERM'),
  };
}

/**
 * The open connections of the nodes on `ports`, summed from each one's `GET /stats`; a node that
 * is down or does not answer within a second counts none.
 */
export async function countConnections(ports) {
  const counts = await Promise.all(
    ports.map((port) =>
      fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(1000) })
        .then((response) => response.json())
        .catch(() => ({ sse: 0, websocket: 0 })),
    ),
  );
  return {
    sse: counts.reduce((sum, count) => sum + count.sse, 0),
    websocket: counts.reduce((sum, count) => sum + count.websocket, 0),
  };
}

/**
 * nginx's configuration: `/tidewire/` round robin over `nodes` (no stickiness), anything else
 * to `app` when given. SSE and WebSocket need `proxy_buffering off`, HTTP/1.1 and the
 * Upgrade/Connection headers; long reads; a node that refuses a GET or answers it 502/503 (it
 * is not ready) is skipped for the other. A POST is never sent twice.
 */
export function nginxConfig(dir, { port, nodes, app }) {
  const tidewire = `
      proxy_pass http://tidewire;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_cache off;
      proxy_connect_timeout 2s;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;`;
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      '';
  }
  upstream tidewire {
${nodes.map((node) => `    server 127.0.0.1:${node} max_fails=1 fail_timeout=1s;`).join('\n')}
    keepalive 32;
    keepalive_timeout 30s;
  }
  server {
    listen 127.0.0.1:${port};
    location /tidewire/ {${tidewire}
    }
    location / {${app === undefined ? tidewire : `\n      proxy_pass http://127.0.0.1:${app};\n      proxy_set_header Host $http_host;`}
    }
  }
}
`;
}

/** Whether `port` is free on 127.0.0.1. */
export function isFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** nginx on `port` (the config of {@link nginxConfig}), in the foreground as one process. */
export async function startNginx(dir, options) {
  if (!(await isFree(options.port))) throw new Error(`port ${options.port} is taken`);
  const config = join(dir, 'nginx.conf');
  writeFileSync(config, nginxConfig(dir, options));
  const errorLog = join(dir, 'nginx-error.log');
  const child = start(NGINX, ['-p', dir, '-c', config, '-e', errorLog]);
  const log = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '');
  try {
    await waitFor(
      async () =>
        child.exitCode !== null ||
        (await fetch(`http://127.0.0.1:${options.port}/`).catch(() => undefined)),
      10_000,
      'nginx',
    );
  } catch (error) {
    await signal(child, 'SIGKILL');
    throw error;
  }
  if (child.exitCode !== null) throw new Error(`nginx did not start: ${log()}`);
  return {
    port: options.port,
    pid: child.pid,
    exited: child.exited,
    log,
    stop: () => signal(child, 'SIGTERM'),
  };
}

/** Kills every process this module started, by pid, and waits until they are gone. */
export async function stopEverything() {
  await Promise.all([...children].map((child) => signal(child, 'SIGKILL')));
}
