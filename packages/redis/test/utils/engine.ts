import { createClient, createCluster, createSentinel } from '@redis/client';
import type { EngineListener, StoredEvent } from '@tidewire/server';
import {
  createRedisEngine,
  fromNodeRedis,
  fromNodeRedisCluster,
  fromNodeRedisSentinel,
  type RedisConnection,
  type RedisEngine,
  type RedisEngineOptions,
} from '../../src/index.js';

type Options = Omit<RedisEngineOptions, 'connection'>;

/** Everything a test opened, closed in reverse order by {@link closeAll}. */
const opened: Array<() => Promise<unknown>> = [];

/** Closes every engine and client the helpers below opened. */
export async function closeAll(): Promise<void> {
  for (const close of opened.splice(0).reverse()) {
    await Promise.resolve()
      .then(close)
      .catch(() => {});
  }
}

/** A node-redis client of the Redis on `port`, connected. */
export async function clientOf(port: number) {
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  client.on('error', () => {});
  await client.connect();
  opened.push(async () => client.destroy());
  return client;
}

/** How an engine runs its procedures: as library functions (Redis 7+), or as scripts. */
export type Mode = 'functions' | 'scripts';

/** `connection` without the function commands, as a client that cannot send them. */
export function scriptsOnly(connection: RedisConnection): RedisConnection {
  return {
    get isReady() {
      return connection.isReady;
    },
    loadScript: (source, key, signal) => connection.loadScript(source, key, signal),
    runScript: (sha, keys, args, signal) => connection.runScript(sha, keys, args, signal),
    readStream: (key, after, options) => connection.readStream(key, after, options),
    duplicate: () => scriptsOnly(connection.duplicate()),
    destroy: () => connection.destroy(),
  };
}

/** An engine over its own client of the Redis on `port`, ready. */
export async function engineOn(
  port: number,
  options: Options = {},
  mode: Mode = 'functions',
): Promise<RedisEngine> {
  const client = await clientOf(port);
  const connection = fromNodeRedis(client);
  const engine = createRedisEngine({
    connection: mode === 'scripts' ? scriptsOnly(connection) : connection,
    ...options,
  });
  opened.push(() => engine.close());
  await engine.ready;
  return engine;
}

/** An engine over its own Sentinel client, ready. */
export async function engineOverSentinel(
  sentinelPort: number,
  name: string,
  options: Options = {},
): Promise<RedisEngine> {
  const sentinel = createSentinel({
    name,
    sentinelRootNodes: [{ host: '127.0.0.1', port: sentinelPort }],
  });
  sentinel.on('error', () => {});
  await sentinel.connect();
  opened.push(() => sentinel.destroy());
  const engine = createRedisEngine({ connection: fromNodeRedisSentinel(sentinel), ...options });
  opened.push(() => engine.close());
  await engine.ready;
  return engine;
}

/** An engine over its own Cluster client, ready. */
export async function engineOverCluster(port: number, options: Options = {}): Promise<RedisEngine> {
  const cluster = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${port}` }] });
  cluster.on('error', () => {});
  await cluster.connect();
  opened.push(async () => cluster.destroy());
  const engine = createRedisEngine({ connection: fromNodeRedisCluster(cluster), ...options });
  opened.push(() => engine.close());
  await engine.ready;
  return engine;
}

/** A listener that records what it is told, also in one timeline (a reset as its reason). */
export function recorder(): EngineListener & {
  events: StoredEvent[];
  resets: string[];
  timeline: Array<StoredEvent | string>;
} {
  const events: StoredEvent[] = [];
  const resets: string[] = [];
  const timeline: Array<StoredEvent | string> = [];
  return {
    events,
    resets,
    timeline,
    event: (event) => {
      events.push(event);
      timeline.push(event);
    },
    reset: (reason) => {
      resets.push(reason);
      timeline.push(reason);
    },
  };
}

/** True when seqs increase strictly between the resets of a timeline. */
export function inSeqOrder(timeline: ReadonlyArray<StoredEvent | string>): boolean {
  let last: number | undefined;
  for (const entry of timeline) {
    if (typeof entry === 'string') last = undefined;
    else {
      if (last !== undefined && entry.seq <= last) return false;
      last = entry.seq;
    }
  }
  return true;
}

/** A new prefix, so that each test gets a hub of its own on a shared Redis. */
let prefixes = 0;
export function freshPrefix(): string {
  prefixes += 1;
  return `{t${prefixes}}`;
}

/** An event on `channel` whose data is `n`. */
export const event = (channel: string, n: number | string) => ({
  channel,
  event: 'message',
  dataJson: JSON.stringify(n),
});

/** A stored event as the acceptance tests check it: its id, its stream sequence, the data's `n`. */
export interface StoredRecord {
  id: string;
  seq: number;
  n: number;
}

/**
 * Every listed channel's events as the Redis at `port` holds them under `prefix`, in order
 * (each event's data is an object with a number `n`).
 */
export async function readChannels(
  port: number,
  prefix: string,
  channels: readonly string[],
): Promise<Map<string, StoredRecord[]>> {
  const redis = await clientOf(port);
  const stored = new Map<string, StoredRecord[]>();
  for (const channel of channels) {
    const entries = (await redis.sendCommand([
      'XRANGE',
      `${prefix}:ch:${channel}`,
      '-',
      '+',
    ])) as Array<[string, string[]]>;
    stored.set(
      channel,
      entries.map(([streamId, fields]) => {
        const field = (name: string) => fields[fields.indexOf(name) + 1] ?? '';
        const seq = Number.parseInt(streamId, 10);
        return { id: `${field('e')}-${seq}`, seq, n: (JSON.parse(field('d')) as { n: number }).n };
      }),
    );
  }
  return stored;
}
