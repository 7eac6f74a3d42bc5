// Real Redis processes for the integration tests, on 127.0.0.1 and free ports, each in a
// scratch folder of its own. Every process is started here, without --daemonize, and stopped by
// its pid. No persistence: a restarted instance starts empty, as after losing its disk.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { killAll } from './processes.js';

export const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_SENTINEL = existsSync('/usr/bin/redis-sentinel')
  ? '/usr/bin/redis-sentinel'
  : REDIS_SERVER;
const REDIS_CLI = '/usr/bin/redis-cli';

/** Why the Redis tests are skipped on this machine, or undefined when they can run. */
export const skipReason: string | undefined = existsSync(REDIS_SERVER)
  ? undefined
  : `${REDIS_SERVER} is missing (apt-get install redis-server redis-sentinel)`;

const run = promisify(execFile);

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Runs one command through redis-cli and returns its raw output, trimmed. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 5000,
  });
  return stdout.trim();
}

/** Polls `probe` every 50 ms until it returns true, or fails after `ms`. */
export async function until(
  probe: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (
      await Promise.resolve()
        .then(probe)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One redis-server (or redis-sentinel) process. */
export interface RedisProcess {
  readonly port: number;
  readonly pid: number;
  /** Runs a command through redis-cli against this process. */
  cli(...args: string[]): Promise<string>;
  /** SIGTERM, and waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /**
   * Starts the process again on the same port, with an empty data folder; with `args`, those
   * instead of the ones it was started with (such as `--replicaof` the primary of now).
   */
  restart(args?: readonly string[]): Promise<void>;
}

interface StartOptions {
  /** Extra arguments, after the defaults. */
  readonly args?: readonly string[];
  /** The port, when it must be a given one. @default a free port */
  readonly port?: number;
  /** Start redis-sentinel with a config file written from these lines instead. */
  readonly sentinel?: readonly string[];
}

const started = new Set<ChildProcess>();

/** Starts a redis-server on a free port and waits until it answers PING. */
export async function startRedis(options: StartOptions = {}): Promise<RedisProcess> {
  let port = options.port ?? (await freePort());
  let child!: ChildProcess;
  let extra = options.args ?? [];
  const launch = async (): Promise<void> => {
    const dir = mkdtempSync(join(tmpdir(), 'tidewire-redis-'));
    let command = REDIS_SERVER;
    let args: string[];
    if (options.sentinel) {
      // Sentinel rewrites its config file, so it needs a writable one of its own.
      const config = join(dir, 'sentinel.conf');
      writeFileSync(
        config,
        [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, ...options.sentinel].join('\n'),
      );
      command = REDIS_SENTINEL;
      args = command === REDIS_SERVER ? [config, '--sentinel'] : [config];
    } else {
      args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--repl-diskless-sync-delay',
        '0',
        '--enable-debug-command',
        'local',
        ...extra,
      ];
    }
    child = spawn(command, args, { stdio: 'ignore' });
    started.add(child);
    child.once('exit', () => {
      started.delete(child);
      rmSync(dir, { recursive: true, force: true });
    });
    // The process that answers must be this one: another may have taken the port since it was
    // found free, and would answer PING as well.
    const pid = `process_id:${child.pid}`;
    const deadline = Date.now() + 10_000;
    while (!(await cli(port, 'INFO', 'server').catch(() => '')).includes(pid)) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis on port ${port} exited at start (port taken?)`);
      }
      if (Date.now() > deadline) throw new Error(`redis on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const exited = (): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => child.once('exit', () => resolve()));
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    const done = exited();
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, name);
      } catch {}
    }
    await done;
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      if (options.port !== undefined || attempt === 3) throw error;
      port = await freePort();
    }
  }
  return {
    get port() {
      return port;
    },
    get pid() {
      return child.pid ?? 0;
    },
    cli: (...args) => cli(port, ...args),
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    restart: async (args) => {
      await signal('SIGTERM');
      if (args !== undefined) extra = args;
      await launch();
    },
  };
}

/** Stops every process these helpers started and that is still running (for afterAll). */
export function stopAll(): Promise<void> {
  return killAll(started);
}

/** A primary, a replica and one Sentinel watching them, as in the scale-out note's rig. */
export interface SentinelRig {
  readonly primary: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinel: RedisProcess;
  /** The name the Sentinel monitors the primary under. */
  readonly name: string;
  /** The port of the instance Sentinel names as the primary now. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the rig and waits until it can fail over: the replica has finished its first sync
 * (`master_link_status:up`, with `repl-diskless-sync-delay 0` so that it does not wait), a
 * write has reached it, and the Sentinel knows it. `down-after-milliseconds` is 2000: 1000
 * can fail over twice.
 */
export async function startSentinelRig(): Promise<SentinelRig> {
  const name = 'tw';
  const primary = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  await until(
    async () => (await replica.cli('INFO', 'replication')).includes('master_link_status:up'),
    10_000,
    'the replica to sync',
  );
  // Not enough: after a diskless sync the primary starts the replication stream only on the
  // replica's first ACK, up to a second later. A write made before that is lost by a crash of
  // the primary, with everything after it. Wait until a write has reached the replica.
  await primary.cli('SET', 'rig:probe', '1');
  await until(
    async () => (await replica.cli('GET', 'rig:probe')) === '1',
    10_000,
    'the replication stream to start',
  );
  const sentinel = await startRedis({
    sentinel: [
      `sentinel monitor ${name} 127.0.0.1 ${primary.port} 1`,
      `sentinel down-after-milliseconds ${name} 2000`,
      `sentinel failover-timeout ${name} 5000`,
    ],
  });
  await until(
    async () => (await sentinel.cli('SENTINEL', 'REPLICAS', name)).includes(String(replica.port)),
    15_000,
    'the Sentinel to find the replica',
  );
  return {
    primary,
    replica,
    sentinel,
    name,
    primaryPort: async () =>
      Number(
        (await sentinel.cli('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)).split('\n')[1]?.trim(),
      ),
    stop: async () => {
      await Promise.all([sentinel.kill(), primary.kill(), replica.kill()]);
    },
  };
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 > 65_535) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 10_000, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (bus) return port;
  }
}

/** Three primaries and three replicas, as in the scale-out note's Cluster rig. */
export interface ClusterRig {
  readonly nodes: readonly RedisProcess[];
  /** The primary and the replica that serve `key`'s slot now. */
  ownersOf(key: string): Promise<{ primary: RedisProcess; replica: RedisProcess }>;
  stop(): Promise<void>;
}

/**
 * Starts the rig (`cluster-node-timeout 2000`) and waits until every slot is served and every
 * replica has received a write from its primary.
 */
export async function startClusterRig(): Promise<ClusterRig> {
  const nodes: RedisProcess[] = [];
  for (let index = 0; index < 6; index++) {
    nodes.push(
      await startRedis({
        port: await freeClusterPort(),
        args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'],
      }),
    );
  }
  await run(
    REDIS_CLI,
    [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { timeout: 20_000 },
  );
  const byId = async () => {
    const lines = (await nodes[0]!.cli('CLUSTER', 'NODES')).split('\n');
    return lines.map((line) => {
      const [id = '', address = '', flags = '', primaryId = '', , , , , ...slots] = line.split(' ');
      const port = Number(address.split(':')[1]?.split('@')[0]);
      return { id, flags, primaryId, slots, node: nodes.find((node) => node.port === port) };
    });
  };
  await until(
    async () => {
      for (const node of nodes) {
        if (!(await node.cli('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      }
      return (await byId()).filter((entry) => entry.flags.includes('slave')).length === 3;
    },
    20_000,
    'the cluster to form',
  );
  const rig: ClusterRig = {
    nodes,
    ownersOf: async (key) => {
      const slot = Number(await nodes[0]!.cli('CLUSTER', 'KEYSLOT', key));
      const entries = await byId();
      const primary = entries.find(
        (entry) =>
          entry.flags.includes('master') &&
          entry.slots.some((range) => {
            const [low, high = low] = range.split('-').map(Number);
            return low !== undefined && high !== undefined && slot >= low && slot <= high;
          }),
      );
      const replica = entries.find((entry) => entry.primaryId === primary?.id);
      if (!primary?.node || !replica?.node) throw new Error(`no owners for slot ${slot}`);
      return { primary: primary.node, replica: replica.node };
    },
    stop: async () => {
      await Promise.all(nodes.map((node) => node.kill()));
    },
  };
  // Every replica streaming: after a write on its primary, it reaches the primary's offset.
  const offset = (text: string, field: string) =>
    Number(new RegExp(`${field}:(\\d+)`).exec(text)?.[1] ?? -1);
  for (const tag of ['{a}', '{b}', '{c}']) {
    const { primary, replica } = await rig.ownersOf(tag);
    await primary.cli('SET', `${tag}:probe`, '1');
    const target = offset(await primary.cli('INFO', 'replication'), 'master_repl_offset');
    await until(
      async () => offset(await replica.cli('INFO', 'replication'), 'slave_repl_offset') >= target,
      10_000,
      'the replicas to stream',
    );
  }
  return rig;
}
