import type { Logger, StoredEvent, TimerHandle, Timers } from '@tidewire/server';
import type { RedisConnection, StreamEntry } from './connection.js';
import { RedisEngineError, redact } from './errors.js';
import { FENCE, type Keys, type ScriptRunner } from './scripts.js';

/** What {@link startTail} needs. */
export interface TailOptions {
  /** The engine's connection: the tail reads through a duplicate of it. */
  readonly connection: RedisConnection;
  readonly keys: Keys;
  readonly scripts: ScriptRunner;
  /** `BLOCK` of each read. */
  readonly blockMs: number;
  /** A fresh epoch candidate for the fence. */
  readonly newEpoch: () => string;
  readonly timers: Timers;
  readonly now: () => number;
  readonly logger: Logger;
  /** Receives each event, in seq order. */
  readonly deliver: (event: StoredEvent) => void;
  /** Told when what follows no longer continues what was delivered. */
  readonly reset: (reason: string) => void;
}

/** A node's reader of the global log. */
export interface Tail {
  /** Resolves once the first fence has placed the tail at the current position. */
  readonly started: Promise<void>;
  /** The epoch of the history the tail follows ('' before it started). */
  readonly epoch: string;
  /** The seq of the last event delivered, or where the tail started. */
  readonly cursor: number;
  /** When Redis last answered the tail, by the `now` clock. */
  readonly answeredAt: number;
  /**
   * Tells the tail that a publish was given `epoch`. An epoch the tail does not know means
   * that the primary changed while the tail still reads from the old one (a demoted primary
   * keeps answering for about ten seconds): the tail then replaces its connection at once,
   * at most once a second, rather than when the old primary finally drops it.
   */
  notice(epoch: string): void;
  /** Stops reading and closes the tail's connection. */
  close(): Promise<void>;
}

/** Entries per read: a node catches up at about 500k events a second. */
const READ_COUNT = 1000;
/** Least time between two connections replaced by {@link Tail.notice}. */
const NOTICE_INTERVAL_MS = 1000;
/** Waits between attempts after a failure, doubling up to the cap. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;

/** Thrown into the loop when Redis did not answer the tail in time. */
class StalledError extends Error {
  override name = 'StalledError' as const;
}

/**
 * Starts the tail: one dedicated connection reading the global log with
 * `XREAD BLOCK blockMs COUNT 1000` from its cursor, in seq order.
 *
 * Before its first read, after every failure (on a new connection) and after every read that
 * came back empty, it runs the fence, which also tells it the current epoch and the lineage.
 * When the epoch changed, the tail carries on if every event it delivered is still part of
 * the new history (its cursor is at most the old epoch's last seq), and otherwise moves its
 * cursor back to that seq and calls `reset`. A first entry after a gap in seq (the log was
 * trimmed past the cursor) also calls `reset`, and delivery continues from it.
 *
 * A read or fence that has not answered within twice `blockMs` counts as failed: the
 * connection is replaced, which also recovers from a connection that died silently.
 */
export function startTail(options: TailOptions): Tail {
  const { keys, scripts, blockMs, newEpoch, timers, now, logger, deliver, reset } = options;
  let connection = options.connection.duplicate();
  let epoch = '';
  let cursor = 0;
  let lineage = new Map<string, number>();
  let answeredAt = now();
  let replacedAt = Number.NEGATIVE_INFINITY;
  let running = false;
  let closed = false;
  let wake: (() => void) | undefined;
  let resolveStarted!: () => void;
  let rejectStarted!: (error: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  // Whoever does not wait for it should not see an unhandled rejection on close().
  started.catch(() => {});

  /** `operation`, failing with {@link StalledError} when it takes longer than 2 × BLOCK. */
  const answer = <T>(operation: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = timers.setTimeout(
        () => reject(new StalledError(`Redis did not answer within ${2 * blockMs} ms`)),
        2 * blockMs,
      );
      unref(timer);
      operation.then(
        (value) => {
          timers.clearTimeout(timer);
          answeredAt = now();
          resolve(value);
        },
        (error: unknown) => {
          timers.clearTimeout(timer);
          reject(error);
        },
      );
    });

  /** Waits `ms`, or less when the tail is closed meanwhile. */
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = timers.setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      unref(timer);
      wake = () => {
        timers.clearTimeout(timer);
        resolve();
      };
    });

  /**
   * Runs the fence and follows what it says. False when the tail moved its cursor back and
   * reset: entries read before it must be read again.
   */
  const fence = async (): Promise<boolean> => {
    const reply = (await answer(
      scripts.run(
        connection,
        FENCE,
        [keys.seq, keys.epoch, keys.owner, keys.lineage],
        [newEpoch()],
      ),
    )) as [string, number, unknown[]];
    const [current, seq, pairs] = reply;
    lineage = new Map();
    for (let index = 0; index + 1 < pairs.length; index += 2) {
      lineage.set(String(pairs[index]), Number(pairs[index + 1]));
    }
    if (running && current === epoch) return true;
    if (!running) {
      running = true;
      epoch = current;
      cursor = Number(seq);
      resolveStarted();
      return true;
    }
    const previous = epoch;
    const last = lineage.get(previous);
    epoch = current;
    if (last !== undefined && cursor <= last) return true;
    // History was rewritten under the events this node delivered after `last` (a failover
    // lost them), or it is gone altogether (Redis restarted empty): read the new history.
    const delivered = cursor;
    cursor = last ?? 0;
    reset(
      last === undefined
        ? `Redis history restarted: epoch ${previous} is unknown to the primary, now ${current}`
        : `a failover lost events: ${previous} kept up to seq ${last}, this node had delivered up to ${delivered}`,
    );
    return false;
  };

  /** Delivers entries in order, up to a fence that moves the cursor back (read again from it). */
  const consume = async (entries: readonly StreamEntry[]): Promise<void> => {
    for (const [id, fields] of entries) {
      const seq = Number.parseInt(id, 10);
      const entryEpoch = fieldOf(fields, 'e') ?? '';
      if (entryEpoch !== epoch && !((lineage.get(entryEpoch) ?? -1) >= seq)) {
        // The first event of a new epoch: learn where the old one ended before going on.
        if (!(await fence())) return;
      }
      if (seq !== cursor + 1) {
        reset(`the log was trimmed past this node: it missed seq ${cursor + 1} to ${seq - 1}`);
      }
      cursor = seq;
      deliver({
        channel: fieldOf(fields, 'c') ?? '',
        event: fieldOf(fields, 'v') ?? '',
        dataJson: fieldOf(fields, 'd') ?? 'null',
        seq,
        id: `${entryEpoch}-${seq}`,
        time: Number(fieldOf(fields, 't') ?? 0),
      });
    }
  };

  /** Closes the current connection and opens a new one, which starts with the fence. */
  const replace = (): void => {
    const broken = connection;
    connection = options.connection.duplicate();
    broken.destroy().catch(() => {});
  };

  const run = async (): Promise<void> => {
    let failures = 0;
    let fenced = false;
    while (!closed) {
      const reading = connection;
      try {
        if (!fenced) {
          await fence();
          fenced = true;
        }
        const entries = await answer(
          connection.readStream(keys.log, `${cursor}-0`, { blockMs, count: READ_COUNT }),
        );
        if (failures > 0) logger.warn('redis engine: the tail reads again', { cursor });
        failures = 0;
        if (entries === null) {
          // Fence again before the next read: it notices a new primary even when nobody publishes.
          fenced = false;
        } else {
          await consume(entries);
        }
      } catch (error) {
        if (closed) break;
        fenced = false;
        failures += 1;
        if (failures === 1) {
          logger.warn('redis engine: the tail lost Redis, reconnecting', {
            error: redact(error instanceof Error ? error.message : String(error)),
          });
        }
        // A new connection for every failure: it runs the fence before reading, and leaves
        // behind whatever state the old one was in (half-open, on a demoted primary…).
        if (connection === reading) replace();
        await pause(Math.min(RETRY_FIRST_MS * 2 ** (failures - 1), RETRY_MAX_MS));
      }
    }
  };
  void run();

  return {
    started,
    get epoch() {
      return epoch;
    },
    get cursor() {
      return cursor;
    },
    get answeredAt() {
      return answeredAt;
    },
    notice(published) {
      if (!running || closed || published === epoch || lineage.has(published)) return;
      const time = now();
      if (time - replacedAt < NOTICE_INTERVAL_MS) return;
      replacedAt = time;
      logger.warn('redis engine: publishes reach a newer epoch, the tail reconnects', {
        published,
        following: epoch,
      });
      replace();
    },
    async close() {
      if (closed) return;
      closed = true;
      wake?.();
      if (!running) rejectStarted(new RedisEngineError('closed', 'the engine was closed'));
      await connection.destroy().catch(() => {});
    },
  };
}

/** The value of the field `name` of a stream entry (a handful of fields: a scan is cheapest). */
function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] === name) return fields[index + 1];
  }
  return undefined;
}

/** Lets the process exit while a timer is pending. */
export function unref(handle: TimerHandle): void {
  (handle as { unref?: () => void } | undefined)?.unref?.();
}
