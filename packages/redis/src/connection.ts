/** One stream entry as Redis returns it: its id and its fields as `[name, value, name, value…]`. */
export type StreamEntry = readonly [id: string, fields: readonly string[]];

/** How long one {@link RedisConnection.readStream} may wait, and how much it may return. */
export interface ReadStreamOptions {
  /** `BLOCK`: milliseconds to wait for a new entry before answering `null`. */
  readonly blockMs: number;
  /** `COUNT`: most entries in the answer. */
  readonly count: number;
}

/**
 * What the engine needs of a Redis client: a few commands and a second connection. Make one
 * from a node-redis client with {@link fromNodeRedis}, {@link fromNodeRedisSentinel} or
 * {@link fromNodeRedisCluster}, or implement it over another client; every command the engine
 * sends goes through it.
 *
 * Errors: a method rejects with the client's error. When Redis answered with an error reply,
 * the error's message must start with Redis's own code (`NOSCRIPT No matching script…`,
 * `READONLY You can't write against a read only replica.`): the engine reloads its scripts on
 * `NOSCRIPT` and tells lasting errors from passing ones by that code.
 * @example
 * // A sketch over ioredis.
 * function fromIoredis(redis: Redis): RedisConnection {
 *   return {
 *     get isReady() { return redis.status === 'ready' },
 *     loadScript: (source) => redis.script('LOAD', source) as Promise<string>,
 *     runScript: (sha, keys, args) => redis.evalsha(sha, keys.length, ...keys, ...args),
 *     readStream: async (key, after, { blockMs, count }) => {
 *       const reply = await redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, after);
 *       return reply?.[0]?.[1] ?? null;
 *     },
 *     duplicate: () => fromIoredis(redis.duplicate()),
 *     destroy: async () => redis.disconnect(),
 *   };
 * }
 */
export interface RedisConnection {
  /**
   * True while a command sent now goes straight to Redis. While it is false the engine
   * rejects appends at once (code `unavailable`) rather than letting the client queue them,
   * and reports itself not ready.
   */
  readonly isReady: boolean;
  /**
   * `SCRIPT LOAD source`: resolves with the script's SHA1 digest. `key` is a key of the
   * engine's hub, for a client that routes commands by key (Redis Cluster): load the script
   * on the node that serves it. `signal` as in `runScript`.
   */
  loadScript(source: string, key: string, signal?: AbortSignal): Promise<string>;
  /**
   * `EVALSHA sha numkeys …keys …args`: resolves with the script's reply in RESP2 shapes
   * (strings, integers, `null`, arrays of them).
   *
   * `signal` aborts when the engine gives up waiting (its timeout, or the connection went
   * down): a command that the client has not sent yet must then never be sent, so that a
   * client with an offline queue does not publish, after a reconnection, an event whose
   * append was already rejected.
   */
  runScript(
    sha: string,
    keys: readonly string[],
    args: readonly string[],
    signal?: AbortSignal,
  ): Promise<unknown>;
  /**
   * `FUNCTION LOAD REPLACE source`. Optional, with {@link RedisConnection.callFunction}: with
   * both, on Redis 7 and later, the engine runs its procedures as functions of a library,
   * which read the server's identity for the fence once rather than on every call (a publish
   * takes about a third less of Redis's time). `key` and `signal` as in `loadScript`.
   */
  loadLibrary?(source: string, key: string, signal?: AbortSignal): Promise<unknown>;
  /** `FCALL name numkeys …keys …args`: as `runScript`, for a function of a loaded library. */
  callFunction?(
    name: string,
    keys: readonly string[],
    args: readonly string[],
    signal?: AbortSignal,
  ): Promise<unknown>;
  /**
   * `XREAD BLOCK blockMs COUNT count STREAMS key after`: the entries of `key` after the id
   * `after`, oldest first, or `null` when none came within `blockMs`. The engine calls it only
   * on a connection it got from {@link RedisConnection.duplicate}, so it blocks nobody else.
   */
  readStream(
    key: string,
    after: string,
    options: ReadStreamOptions,
  ): Promise<readonly StreamEntry[] | null>;
  /**
   * A new connection to the same Redis, with the same credentials, that follows the same
   * failovers. It may still be connecting when returned: commands sent before it is ready
   * wait for it. The engine makes one for its tail and destroys it on `close()`.
   */
  duplicate(): RedisConnection;
  /**
   * Closes a connection made by {@link RedisConnection.duplicate} at once, rejecting its
   * pending commands. The engine never calls it on the connection it was given.
   */
  destroy(): Promise<void>;
}
