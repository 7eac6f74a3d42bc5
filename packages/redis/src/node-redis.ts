import type { RedisConnection, StreamEntry } from './connection.js';

/**
 * What {@link fromNodeRedis} uses of a node-redis client: `createClient()` of `@redis/client`
 * 5 or 6 (also through the `redis` package). Any RESP version and the default type mapping.
 */
export interface NodeRedisClient {
  /** Whether it is connected and ready for commands. */
  readonly isReady: boolean;
  /** Sends one command and resolves to its reply. */
  sendCommand(args: string[], options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  /** A new client with the same options, for the engine's blocking read. */
  duplicate(): NodeRedisClient;
  /** Connects the duplicate. */
  connect(): Promise<unknown>;
  /** Closes at once, without waiting for replies. */
  destroy(): unknown;
  /** Reports connection errors. */
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * What {@link fromNodeRedisSentinel} uses of a node-redis Sentinel client: `createSentinel()`
 * of `@redis/client` 5 or 6, which follows the primary across failovers by itself.
 */
export interface NodeRedisSentinel {
  /** Whether it is connected and ready for commands. */
  readonly isReady: boolean;
  /** Sends one command and resolves to its reply. */
  sendCommand(
    isReadonly: boolean | undefined,
    args: string[],
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
  /** A new client with the same options, for the engine's blocking read. */
  duplicate(): NodeRedisSentinel;
  /** Connects the duplicate. */
  connect(): Promise<unknown>;
  /** Closes at once, without waiting for replies. */
  destroy(): Promise<unknown>;
  /** Reports connection errors. */
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * What {@link fromNodeRedisCluster} uses of a node-redis Cluster client: `createCluster()` of
 * `@redis/client` 5 or 6, which follows slot moves and failovers by itself.
 */
export interface NodeRedisCluster {
  /** Whether it is connected and ready for commands. */
  readonly isReady: boolean;
  /** Sends one command and resolves to its reply. */
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
  /** A new client with the same options, for the engine's blocking read. */
  duplicate(): NodeRedisCluster;
  /** Connects the duplicate. */
  connect(): Promise<unknown>;
  /** Closes at once, without waiting for replies. */
  destroy(): unknown;
  /** Reports connection errors. */
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * The engine's connection over a connected node-redis client. The engine sends its commands
 * through `client.sendCommand`, and makes one `client.duplicate()` for its blocking read,
 * which it closes itself. The client stays yours: connect it, handle its `error` events, and
 * close it after the engine.
 * @example
 * const client = createClient({ url: process.env.REDIS_URL });
 * client.on('error', (error) => log.warn('redis', error));
 * await client.connect();
 * const engine = createRedisEngine({ connection: fromNodeRedis(client) });
 */
export function fromNodeRedis(client: NodeRedisClient): RedisConnection {
  return connectionOver({
    isReady: () => client.isReady,
    send: (args, signal) => client.sendCommand(args, signal && { abortSignal: signal }),
    duplicate: () => fromNodeRedis(openCopy(client)),
    destroy: async () => {
      await client.destroy();
    },
  });
}

/**
 * The engine's connection over a connected node-redis Sentinel client: every command goes to
 * the current primary, and the engine's blocking read uses a `sentinel.duplicate()` of its
 * own. The client stays yours, as with {@link fromNodeRedis}.
 * @example
 * const sentinel = createSentinel({ name: 'tw', sentinelRootNodes: [{ host: 'sentinel-1', port: 26379 }] });
 * sentinel.on('error', (error) => log.warn('redis', error));
 * await sentinel.connect();
 * const engine = createRedisEngine({ connection: fromNodeRedisSentinel(sentinel) });
 */
export function fromNodeRedisSentinel(sentinel: NodeRedisSentinel): RedisConnection {
  return connectionOver({
    isReady: () => sentinel.isReady,
    send: (args, signal) => sentinel.sendCommand(false, args, signal && { abortSignal: signal }),
    duplicate: () => fromNodeRedisSentinel(openCopy(sentinel)),
    destroy: async () => {
      await sentinel.destroy();
    },
  });
}

/**
 * The engine's connection over a connected node-redis Cluster client: every command goes to
 * the node that serves the engine's hash tag (one slot), and the engine's blocking read uses a
 * `cluster.duplicate()` of its own. The client stays yours, as with {@link fromNodeRedis}.
 * @example
 * const cluster = createCluster({ rootNodes: [{ url: 'redis://redis-1:6379' }] });
 * cluster.on('error', (error) => log.warn('redis', error));
 * await cluster.connect();
 * const engine = createRedisEngine({ connection: fromNodeRedisCluster(cluster) });
 */
export function fromNodeRedisCluster(cluster: NodeRedisCluster): RedisConnection {
  return connectionOver({
    isReady: () => cluster.isReady,
    send: (args, signal, key) =>
      cluster.sendCommand(key, false, args, signal && { abortSignal: signal }),
    duplicate: () => fromNodeRedisCluster(openCopy(cluster)),
    destroy: async () => {
      await cluster.destroy();
    },
  });
}

/** A copy of a client, connecting in the background; its commands wait until it is connected. */
function openCopy<T extends NodeRedisClient | NodeRedisSentinel | NodeRedisCluster>(client: T): T {
  const copy = client.duplicate() as T;
  // Failures reach the engine through the copy's commands; without a listener they would throw.
  copy.on('error', () => {});
  copy.connect().catch(() => {});
  return copy;
}

/** The commands of a {@link RedisConnection} over one `send`. */
function connectionOver(client: {
  /** Whether it is connected and ready for commands. */
  isReady(): boolean;
  /** Sends a command; `key` names the slot it is for, for a client that routes by key. */
  send(args: string[], signal: AbortSignal | undefined, key: string): Promise<unknown>;
  /** A new client with the same options, for the engine's blocking read. */
  duplicate(): RedisConnection;
  /** Closes at once, without waiting for replies. */
  destroy(): Promise<void>;
}): RedisConnection {
  const { send } = client;
  return {
    get isReady() {
      return client.isReady();
    },
    loadScript: async (source, key, signal) =>
      String(await send(['SCRIPT', 'LOAD', source], signal, key)),
    runScript: (sha, keys, args, signal) =>
      send(['EVALSHA', sha, String(keys.length), ...keys, ...args], signal, keys[0] ?? ''),
    loadLibrary: (source, key, signal) =>
      send(['FUNCTION', 'LOAD', 'REPLACE', source], signal, key),
    callFunction: (name, keys, args, signal) =>
      send(['FCALL', name, String(keys.length), ...keys, ...args], signal, keys[0] ?? ''),
    readStream: async (key, after, { blockMs, count }) => {
      const command = ['XREAD', 'BLOCK', String(blockMs), 'COUNT', String(count)];
      return entriesOf(await send([...command, 'STREAMS', key, after], undefined, key), key);
    },
    duplicate: client.duplicate,
    destroy: client.destroy,
  };
}

/**
 * The entries of `key` in an `XREAD` reply: `[[key, entries]]` under RESP2, a map from key
 * to entries under RESP3 (an object, or a `Map` with a type mapping).
 */
export function entriesOf(reply: unknown, key: string): readonly StreamEntry[] | null {
  if (reply === null || reply === undefined) return null;
  let entries: unknown;
  if (Array.isArray(reply)) {
    entries = (reply as unknown[][]).find((pair) => String(pair[0]) === key)?.[1];
  } else if (reply instanceof Map) {
    entries = reply.get(key);
  } else if (typeof reply === 'object') {
    entries = (reply as Record<string, unknown>)[key];
  }
  if (!Array.isArray(entries)) return null;
  // Strings already, with the default type mapping: kept as they are.
  return entries.map((entry: unknown[]): StreamEntry => {
    const [id, fields] = entry;
    if (typeof id === 'string' && Array.isArray(fields) && typeof fields[0] === 'string') {
      return entry as unknown as StreamEntry;
    }
    return [String(id), Array.isArray(fields) ? fields.map(String) : []];
  });
}
