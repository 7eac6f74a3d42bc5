/**
 * `@tidewire/redis`: the Redis Streams engine that lets several `@tidewire/server` nodes share
 * one history and one order of events, with an epoch fence across failovers.
 * @module
 */
export type { ReadStreamOptions, RedisConnection, StreamEntry } from './connection.js';
export { createRedisEngine, type RedisEngine, type RedisEngineOptions } from './engine.js';
export { isRedisEngineError, RedisEngineError, type RedisEngineErrorCode } from './errors.js';
export {
  fromNodeRedis,
  fromNodeRedisCluster,
  fromNodeRedisSentinel,
  type NodeRedisClient,
  type NodeRedisCluster,
  type NodeRedisSentinel,
} from './node-redis.js';
