import { randomInt } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type {
  Engine,
  EngineHealth,
  EngineListener,
  Logger,
  ReplayPage,
  StoredEvent,
  TimerHandle,
  Timers,
} from '@tidewire/server';
import type { RedisConnection } from './connection.js';
import { RedisEngineError, redact, toEngineError } from './errors.js';
import {
  createRunner,
  INFO,
  keysOf,
  PUBLISH,
  QUIET,
  REPLAY,
  REWIND,
  type Script,
  SWEEP,
} from './scripts.js';
import { startTail, unref } from './tail.js';

/** Options of {@link createRedisEngine}. */
export interface RedisEngineOptions {
  /**
   * The app's Redis client, as a {@link RedisConnection}: `fromNodeRedis(client)`,
   * `fromNodeRedisSentinel(sentinel)`, or an adapter of your own. It stays yours: the engine
   * never closes it. It makes one duplicate of it for its tail, and closes that on `close()`.
   */
  connection: RedisConnection;
  /**
   * What every key starts with. It must hold a Redis Cluster hash tag (`{…}`), so that all
   * keys of the hub share one slot and one script may touch them all. Engines that share a
   * prefix share one history: give each independent hub its own (`{tw1}`, `{tw2}`…).
   * @default '{tw}'
   */
  prefix?: string;
  /**
   * Newest events kept per channel. Trimmed with `MAXLEN ~`, so Redis may keep up to about a
   * hundred more, which a replay then also serves.
   * @default 1000
   */
  maxEvents?: number;
  /**
   * Events older than this many milliseconds are not replayed (a resume from before them
   * gets a `trimmed` gap), and channels without a publish for this long are deleted by the
   * sweeper. Ages are read on Redis's clock, so that every node agrees.
   * @default 600000
   */
  maxAgeMs?: number;
  /**
   * Entries kept in the global log that every node's tail reads (`MAXLEN ~`): about two
   * minutes of traffic. A node whose tail falls further behind than this resets its
   * connections. Size it, and `maxEvents`, against Redis's `maxmemory`: 100k log entries plus
   * 100k channel entries of 100-byte events take about 32 MB.
   * @default 100000
   */
  logLength?: number;
  /**
   * How long each read of the tail waits for new events (`XREAD BLOCK`). An idle read
   * returns after this long, which proves the connection alive: `health()` turns not ready
   * when the tail has not heard from Redis for twice as long, and the tail then replaces its
   * connection.
   * @default 5000
   */
  blockMs?: number;
  /**
   * How long `append`, `readPage` and `info` wait for Redis before rejecting with code
   * `unavailable`. An append that timed out may still have been stored.
   * @default 2000
   */
  timeoutMs?: number;
  /** How often the sweeper deletes the channels that are quiet for longer than `maxAgeMs`. @default 60000 */
  sweepIntervalMs?: number;
  /** Receives what goes wrong in the background (the tail, the sweeper, listeners). @default errors to `console.error` */
  logger?: Logger;
  /** Timer functions; the engine's timers never keep the process alive. @default the global timers */
  timers?: Timers;
  /** Clock in milliseconds since 1970, for the tail's health. @default () => Date.now() */
  now?: () => number;
}

/** An {@link Engine} that keeps history in Redis Streams, shared by every node. */
export interface RedisEngine extends Engine {
  /**
   * Resolves once the engine has fenced the primary and placed its tail at the current
   * position; rejects with a `closed` error when the engine is closed first. Until then
   * `epoch` is empty and `health()` is not ready. Appends and replays do not wait for it.
   */
  readonly ready: Promise<void>;
}

/** Id of a position: `<epoch>-<seq>`, as in the memory store. */
const ID_PATTERN = /^([0-9a-z]+)-(0|[1-9][0-9]{0,15})$/;
/** A hash tag as Redis Cluster reads it: the first `{`, then at least one character before `}`. */
const HASH_TAG = /^[^{]*\{[^}]+\}/;
/** Channels deleted by one sweep script, and scripts by one sweep. */
const SWEEP_BATCH = 100;
const SWEEP_ROUNDS = 100;

/** How often calls waiting for Redis are checked against their deadline and the connection. */
const TICK_MS = 50;

/** A call waiting for Redis. */
interface Waiting {
  readonly deadline: number;
  /** Rejects the call with `unavailable` because of `why`, unless it settled already. */
  fail(why: string): void;
}

const READY: EngineHealth = Object.freeze({ ready: true });

const defaultLogger: Logger = {
  warn: () => {},
  error: (message, details) => console.error(`[tidewire] ${message}`, details ?? ''),
};

const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

/**
 * The Redis Streams engine: one history and one order of events for every node of a
 * Tidewire server, kept safe across Sentinel and Cluster failovers by an epoch fence. Every
 * publish and replay is one Lua script that first checks which Redis server issued the
 * current epoch, and starts a new epoch on a new primary, so that no id is ever issued twice
 * and a resume is exact whenever the events before it survived.
 * @example
 * const client = createClient({ url: process.env.REDIS_URL });
 * await client.connect();
 * const engine = createRedisEngine({ connection: fromNodeRedis(client) });
 * await engine.ready;
 * const tw = createTidewireServer({ engine });
 */
export function createRedisEngine(options: RedisEngineOptions): RedisEngine {
  const {
    connection,
    prefix = '{tw}',
    maxEvents = 1000,
    maxAgeMs = 600_000,
    logLength = 100_000,
    blockMs = 5000,
    timeoutMs = 2000,
    sweepIntervalMs = 60_000,
    logger = defaultLogger,
    timers = systemTimers,
    now = () => Date.now(),
  } = options;
  if (!HASH_TAG.test(prefix)) throw new TypeError('prefix must hold a hash tag, such as {tw}');
  for (const [name, value] of Object.entries({ maxEvents, logLength, blockMs, timeoutMs })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`${name} must be a positive integer`);
    }
  }
  if (!(maxAgeMs > 0)) throw new TypeError('maxAgeMs must be positive');
  if (!(sweepIntervalMs > 0)) throw new TypeError('sweepIntervalMs must be positive');
  const keys = keysOf(prefix);
  const fenceKeys = [keys.seq, keys.epoch, keys.owner, keys.lineage];
  const age = String(Math.min(maxAgeMs, Number.MAX_SAFE_INTEGER));
  const listeners = new Set<EngineListener>();
  let closed = false;
  let sweepTimer: TimerHandle | undefined;

  /** Calls each listener; one that throws is logged and does not stop the others. */
  const tell = (call: (listener: EngineListener) => void): void => {
    for (const listener of listeners) {
      try {
        call(listener);
      } catch (error) {
        logger.error('redis engine: a listener threw', { error });
      }
    }
  };

  const scripts = createRunner();
  const tail = startTail({
    connection,
    keys,
    scripts,
    blockMs,
    newEpoch,
    timers,
    now,
    logger,
    deliver: (event) => tell((listener) => listener.event(event)),
    reset: (reason) => {
      logger.warn(`redis engine: reset, ${reason}`);
      tell((listener) => listener.reset(reason));
    },
  });

  // Calls waiting for Redis. One ticker, running only while some wait, fails them when their
  // time is up or as soon as the connection is down: a command written just before the
  // connection died may otherwise wait in the client's offline queue for a reconnection.
  // Their commands share one abort signal, aborted when the connection is lost: the commands
  // that the client holds in its offline queue are then never sent. (One per call would cost
  // a third of the publish rate; a command that was sent cannot be aborted anyway.)
  const waiting = new Set<Waiting>();
  let abort = sharedAbort();
  let ticker: TimerHandle | undefined;
  const tick = (): void => {
    const time = now();
    if (!connection.isReady && waiting.size > 0) {
      for (const call of waiting) call.fail('the Redis connection was lost');
      abort.abort();
      abort = sharedAbort();
    }
    for (const call of waiting) {
      if (time >= call.deadline) call.fail(`Redis did not answer within ${timeoutMs} ms`);
    }
    if (waiting.size === 0 && ticker !== undefined) {
      timers.clearInterval(ticker);
      ticker = undefined;
    }
  };

  /**
   * Runs a script on the app's connection: at once `unavailable` when the connection is down
   * (nothing is queued), and `unavailable` after `timeoutMs`, or as soon as the connection
   * goes down, when Redis does not answer.
   */
  const call = (
    doing: string,
    script: Script,
    scriptKeys: readonly string[],
    args: readonly string[],
  ): Promise<unknown> => {
    if (closed) return Promise.reject(new RedisEngineError('closed', 'the engine was closed'));
    if (!connection.isReady) {
      return Promise.reject(
        new RedisEngineError('unavailable', `${doing} failed: the Redis connection is down`),
      );
    }
    return new Promise((resolve, reject) => {
      const entry: Waiting = {
        deadline: now() + timeoutMs,
        fail: (why) => {
          if (waiting.delete(entry)) {
            reject(new RedisEngineError('unavailable', `${doing} failed: ${why}`));
          }
        },
      };
      waiting.add(entry);
      if (ticker === undefined) {
        ticker = timers.setInterval(tick, Math.min(TICK_MS, timeoutMs));
        unref(ticker);
      }
      scripts.run(connection, script, scriptKeys, args, abort.signal).then(
        (reply) => {
          if (waiting.delete(entry)) resolve(reply);
        },
        (error: unknown) => {
          if (waiting.delete(entry)) reject(toEngineError(doing, error));
        },
      );
    });
  };

  /** Deletes the channels quiet for longer than `maxAgeMs`, a batch at a time. */
  const sweep = async (): Promise<void> => {
    for (let round = 0; round < SWEEP_ROUNDS && !closed; round += 1) {
      const quiet = (await call('sweep', QUIET, [keys.idle], [age, String(SWEEP_BATCH)])) as
        | unknown[]
        | null;
      const channels = (quiet ?? []).map(String);
      if (channels.length === 0) return;
      await call(
        'sweep',
        SWEEP,
        [keys.idle, keys.floor, ...channels.map(keys.channel)],
        [age, ...channels],
      );
      if (channels.length < SWEEP_BATCH) return;
    }
  };

  const armSweep = (): void => {
    if (closed) return;
    sweepTimer = timers.setTimeout(() => {
      sweep()
        .catch((error: unknown) => {
          logger.warn('redis engine: the sweep failed', {
            error: redact(error instanceof Error ? error.message : String(error)),
          });
        })
        .finally(armSweep);
    }, sweepIntervalMs);
    unref(sweepTimer);
  };

  const ready = tail.started.then(armSweep);
  ready.catch(() => {});

  return {
    ready,
    get epoch() {
      return tail.epoch;
    },
    position: () => `${tail.epoch}-${tail.cursor}`,
    async append({ channel, event, dataJson }): Promise<StoredEvent> {
      const reply = (await call(
        'publish',
        PUBLISH,
        [...fenceKeys, keys.log, keys.floor, keys.idle, keys.channel(channel)],
        [newEpoch(), channel, event, dataJson, String(logLength), String(maxEvents)],
      )) as [string, number, number];
      const [epoch, seq, time] = reply;
      tail.notice(epoch);
      return {
        channel,
        event,
        dataJson,
        seq: Number(seq),
        id: `${epoch}-${seq}`,
        time: Number(time),
      };
    },
    async readPage(channel, since, limit): Promise<ReplayPage> {
      const match = ID_PATTERN.exec(since);
      const reply = (await call(
        'replay',
        REPLAY,
        [...fenceKeys, keys.floor, keys.channel(channel)],
        [
          newEpoch(),
          match?.[1] ?? '',
          match?.[2] ?? '0',
          String(count(limit.maxEvents)),
          String(count(limit.maxBytes)),
          age,
        ],
      )) as unknown[];
      const entries: StoredEvent[] = [];
      for (let index = 2; index + 4 < reply.length; index += 5) {
        const seq = Number.parseInt(String(reply[index]), 10);
        entries.push({
          channel,
          event: String(reply[index + 2]),
          dataJson: String(reply[index + 3]),
          seq,
          id: `${String(reply[index + 1])}-${seq}`,
          time: Number(reply[index + 4]),
        });
      }
      const gap = String(reply[0]);
      return {
        gap: gap === 'trimmed' || gap === 'epoch' || gap === 'invalid' ? gap : undefined,
        entries,
        more: Number(reply[1]) === 1,
      };
    },
    async rewind(channel, count, until) {
      const match = ID_PATTERN.exec(until);
      if (count <= 0 || match === null) return until;
      const first = await call(
        'rewind',
        REWIND,
        [keys.channel(channel)],
        [match[2] ?? '0', String(count), age],
      );
      // No event to rewind to: the stream is empty, or everything in it is too old.
      if (first === null || first === false || first === undefined) return until;
      return `${match[1]}-${Number(first) - 1}`;
    },
    async info(channel) {
      const [size, lastId] = (await call('info', INFO, [keys.channel(channel)], [age])) as [
        number,
        string | null,
      ];
      return { size: Number(size), lastId: lastId === null ? undefined : String(lastId) };
    },
    listen(listener) {
      // A wrapper per registration, so that the same listener may be registered twice.
      const entry: EngineListener = {
        event: (event) => listener.event(event),
        reset: (reason) => listener.reset(reason),
      };
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
    health(): EngineHealth {
      if (closed) return { ready: false, reason: 'the engine is closed' };
      if (tail.epoch === '') return { ready: false, reason: 'connecting to Redis' };
      // Redis was last known well when it last answered the tail.
      const since = tail.answeredAt;
      if (!connection.isReady) {
        return { ready: false, reason: 'the Redis connection is down', since };
      }
      const silence = now() - since;
      if (silence > 2 * blockMs) {
        return { ready: false, reason: `Redis has not answered the tail for ${silence} ms`, since };
      }
      return READY;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (sweepTimer !== undefined) timers.clearTimeout(sweepTimer);
      sweepTimer = undefined;
      listeners.clear();
      await tail.close();
    },
  };
}

/** An abort controller whose signal any number of commands may listen to. */
function sharedAbort(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** A whole number of at least 0 that Lua reads back exactly. */
function count(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.min(Math.floor(value), 2 ** 31)) : 2 ** 31;
}

/** A fresh epoch candidate: the time in base36 plus four random base36 digits. */
function newEpoch(): string {
  return `${Date.now().toString(36)}${randomInt(36 ** 4)
    .toString(36)
    .padStart(4, '0')}`;
}
