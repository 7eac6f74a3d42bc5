// @vitest-environment node
// The engine's tail and health, driven step by step over a scripted connection and fake timers,
// with every default option: when the tail carries on and when it resets, and when health
// turns red.
import type { StoredEvent } from '@tidewire/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RedisConnection, StreamEntry } from '../src/connection.js';
import { createRedisEngine, isRedisEngineError, type RedisEngine } from '../src/index.js';
import { FENCE, PUBLISH } from '../src/scripts.js';

type FenceReply = [epoch: string, seq: number, lineage: string[]];

interface PendingRead {
  readonly after: string;
  resolve(entries: StreamEntry[] | null): void;
  reject(error: Error): void;
}

/** A connection whose fence replies and reads the test decides. */
function scriptedRedis(firstFence: FenceReply) {
  const fences: FenceReply[] = [firstFence];
  const reads: PendingRead[] = [];
  const calls = { fence: 0, duplicate: 0, destroy: 0 };
  let ready = true;
  let published: [string, number, number] = [firstFence[0], firstFence[1] + 1, 1];
  const connection: RedisConnection = {
    get isReady() {
      return ready;
    },
    loadScript: async () => '',
    runScript: async (sha) => {
      if (sha === FENCE.sha) {
        calls.fence += 1;
        return fences.length > 1 ? fences.shift() : fences[0];
      }
      if (sha === PUBLISH.sha) return published;
      throw new Error(`unexpected script ${sha}`);
    },
    readStream: (_key, after) =>
      new Promise((resolve, reject) => {
        reads.push({ after, resolve, reject });
      }),
    duplicate: () => {
      calls.duplicate += 1;
      // Another object over the same script, as a real duplicate is another connection.
      return Object.create(connection) as RedisConnection;
    },
    destroy: async () => {
      calls.destroy += 1;
      for (const read of reads.splice(0)) read.reject(new Error('Socket closed unexpectedly'));
    },
  };
  return {
    connection,
    calls,
    /** The fence replies from the next fence on (the last one repeats). */
    fenceWith: (...replies: FenceReply[]) => fences.splice(0, fences.length, ...replies),
    publishWith: (reply: [string, number, number]) => {
      published = reply;
    },
    setReady: (value: boolean) => {
      ready = value;
    },
    /** The read the tail is waiting on. */
    pending: (): PendingRead => {
      const read = reads.at(-1);
      if (!read) throw new Error('the tail is not reading');
      return read;
    },
    reads,
  };
}

/** A log entry as the publish script writes it. */
function entry(seq: number, epoch: string, channel = 'a'): StreamEntry {
  return [
    `${seq}-0`,
    ['c', channel, 'v', 'message', 'd', String(seq), 'e', epoch, 't', String(1000 + seq)],
  ];
}

describe('the tail of createRedisEngine', () => {
  let engine: RedisEngine | undefined;
  const seen: Array<StoredEvent | string> = [];
  beforeEach(() => {
    vi.useFakeTimers();
    seen.length = 0;
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    vi.useRealTimers();
  });

  async function start(redis: ReturnType<typeof scriptedRedis>) {
    engine = createRedisEngine({ connection: redis.connection, logger: silent });
    engine.listen({ event: (e) => seen.push(e), reset: (reason) => seen.push(reason) });
    await vi.advanceTimersByTimeAsync(0);
    await engine.ready;
    return engine;
  }

  it('should start at the current position of the current epoch, and read after it', async () => {
    const redis = scriptedRedis(['ep1', 5, []]);
    const tw = await start(redis);
    expect(tw.epoch).toBe('ep1');
    expect(tw.position()).toBe('ep1-5');
    expect(redis.pending().after).toBe('5-0');
    redis.pending().resolve([entry(6, 'ep1'), entry(7, 'ep1', 'b')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([
      { channel: 'a', event: 'message', dataJson: '6', seq: 6, id: 'ep1-6', time: 1006 },
      { channel: 'b', event: 'message', dataJson: '7', seq: 7, id: 'ep1-7', time: 1007 },
    ]);
    expect(tw.position()).toBe('ep1-7');
    expect(redis.pending().after).toBe('7-0');
  });

  it('should carry on across a new epoch that kept every event it delivered', async () => {
    const redis = scriptedRedis(['ep1', 5, []]);
    const tw = await start(redis);
    redis.pending().resolve([entry(6, 'ep1')]);
    await vi.advanceTimersByTimeAsync(0);
    redis.fenceWith(['ep2', 8, ['ep1', '6']]);
    redis.pending().resolve([entry(7, 'ep2'), entry(8, 'ep2')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.map((e) => (typeof e === 'string' ? e : e.id))).toEqual([
      'ep1-6',
      'ep2-7',
      'ep2-8',
    ]);
    expect(tw.epoch).toBe('ep2');
    expect(tw.position()).toBe('ep2-8');
  });

  it('should reset and read again from the lineage when a failover lost events it delivered', async () => {
    const redis = scriptedRedis(['ep1', 5, []]);
    const tw = await start(redis);
    redis.pending().resolve([entry(6, 'ep1'), entry(7, 'ep1')]);
    await vi.advanceTimersByTimeAsync(0);
    // The new primary kept ep1 up to 6: the node delivered ep1-7, which is gone.
    redis.fenceWith(['ep2', 7, ['ep1', '6']]);
    redis.pending().resolve([entry(8, 'ep2')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.at(-1)).toMatch(/a failover lost events: ep1 kept up to seq 6/);
    expect(tw.position()).toBe('ep2-6');
    expect(redis.pending().after).toBe('6-0');
    redis.pending().resolve([entry(7, 'ep2'), entry(8, 'ep2')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.slice(-2)).toMatchObject([{ id: 'ep2-7' }, { id: 'ep2-8' }]);
  });

  it('should reset, and go on, when the log was trimmed past its cursor', async () => {
    const redis = scriptedRedis(['ep1', 5, []]);
    const tw = await start(redis);
    redis.pending().resolve([entry(9, 'ep1')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toMatchObject([expect.stringMatching(/missed seq 6 to 8/), { id: 'ep1-9' }]);
    expect(tw.position()).toBe('ep1-9');
  });

  it('should fence again after an empty read, and follow a new primary nobody published on', async () => {
    const redis = scriptedRedis(['ep1', 5, []]);
    const tw = await start(redis);
    expect(redis.calls.fence).toBe(1);
    redis.pending().resolve(null);
    await vi.advanceTimersByTimeAsync(0);
    expect(redis.calls.fence).toBe(2);
    redis.fenceWith(['ep2', 5, ['ep1', '5']]);
    redis.pending().resolve(null);
    await vi.advanceTimersByTimeAsync(0);
    expect(tw.epoch).toBe('ep2');
    expect(seen).toEqual([]);
  });

  it('should reconnect after a failed read, fence first, and start over when Redis lost everything', async () => {
    const redis = scriptedRedis(['ep1', 5, []]);
    const tw = await start(redis);
    redis.pending().resolve([entry(6, 'ep1')]);
    await vi.advanceTimersByTimeAsync(0);
    redis.fenceWith(['ep9', 2, []]);
    redis.pending().reject(new Error('Socket closed unexpectedly'));
    await vi.advanceTimersByTimeAsync(100);
    expect(redis.calls.duplicate).toBe(2);
    expect(seen.at(-1)).toMatch(/epoch ep1 is unknown to the primary, now ep9/);
    expect(tw.position()).toBe('ep9-0');
    expect(redis.pending().after).toBe('0-0');
  });

  it('should replace its connection at once when a publish reaches an epoch it does not know', async () => {
    const redis = scriptedRedis(['ep1', 5, []]);
    const tw = await start(redis);
    redis.publishWith(['ep1', 6, 1]);
    await tw.append({ channel: 'a', event: 'message', dataJson: '1' });
    expect(redis.calls.destroy).toBe(0);
    redis.publishWith(['ep2', 9, 1]);
    redis.fenceWith(['ep2', 9, ['ep1', '5']]);
    await tw.append({ channel: 'a', event: 'message', dataJson: '2' });
    expect(redis.calls.destroy).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(tw.epoch).toBe('ep2');
    // At most once a second.
    redis.publishWith(['ep3', 10, 1]);
    await tw.append({ channel: 'a', event: 'message', dataJson: '3' });
    expect(redis.calls.destroy).toBe(1);
  });
});

describe('the health of createRedisEngine, with the default blockMs of 5000', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should turn not ready after 10 s without an answer to the tail, and replace its connection', async () => {
    vi.useFakeTimers();
    const redis = scriptedRedis(['ep1', 0, []]);
    const tw = createRedisEngine({ connection: redis.connection, logger: silent });
    expect(tw.health()).toEqual({ ready: false, reason: 'connecting to Redis' });
    await vi.advanceTimersByTimeAsync(0);
    expect(tw.health()).toEqual({ ready: true });
    const answeredAt = Date.now();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(tw.health()).toEqual({ ready: true });
    await vi.advanceTimersByTimeAsync(2);
    // Since Redis last answered: the server counts staleAfterMs from there.
    expect(tw.health()).toEqual({
      ready: false,
      reason: 'Redis has not answered the tail for 10001 ms',
      since: answeredAt,
    });
    // The stalled read was given up at 10 s: a new connection, fenced after a short pause.
    expect(redis.calls.destroy).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(tw.health()).toEqual({ ready: true });
    await tw.close();
  });

  it('should be not ready at once when the connection is down, and reject appends without sending them', async () => {
    vi.useFakeTimers();
    const redis = scriptedRedis(['ep1', 0, []]);
    const tw = createRedisEngine({ connection: redis.connection, logger: silent });
    await vi.advanceTimersByTimeAsync(0);
    const answeredAt = Date.now();
    redis.setReady(false);
    expect(tw.health()).toEqual({
      ready: false,
      reason: 'the Redis connection is down',
      since: answeredAt,
    });
    const error = await tw.append({ channel: 'a', event: 'm', dataJson: '1' }).catch((e) => e);
    expect(isRedisEngineError(error) && error.code).toBe('unavailable');
    expect(error.message).toBe('publish failed: the Redis connection is down');
    await tw.close();
  });

  it('should reject a pending append as soon as the connection goes down, and abort it', async () => {
    vi.useFakeTimers();
    const redis = scriptedRedis(['ep1', 0, []]);
    let signal: AbortSignal | undefined;
    redis.connection.runScript = (_sha, _keys, _args, abort) => {
      signal = abort;
      return new Promise(() => {});
    };
    const tw = createRedisEngine({ connection: redis.connection, logger: silent });
    const pending = tw.append({ channel: 'a', event: 'm', dataJson: '1' }).catch((e) => e);
    redis.setReady(false);
    await vi.advanceTimersByTimeAsync(50);
    expect(await pending).toMatchObject({
      code: 'unavailable',
      message: 'publish failed: the Redis connection was lost',
    });
    expect(signal?.aborted).toBe(true);
    await tw.close();
  });
});

const silent = { warn: () => {}, error: () => {} };
