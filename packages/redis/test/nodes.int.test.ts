// Several nodes on one Redis: every node's tail delivers every event, in seq order, and
// survives the loss of its blocking connection without losing or repeating an event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, engineOn, event, freshPrefix, recorder } from './utils/engine.js';
import { type RedisProcess, skipReason, startRedis, stopAll, until } from './utils/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skipReason !== undefined)(
  `createRedisEngine across nodes${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let redis: RedisProcess;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await closeAll();
      await stopAll();
    });

    /** The client ids of the connections blocked in XREAD on the log. */
    const blockedReaders = async (): Promise<string[]> =>
      (await redis.cli('CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => / cmd=xread\b/.test(line))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1] ?? '');

    it('should deliver an event appended on one node to the listeners of every node, in seq order', async () => {
      const prefix = freshPrefix();
      const a = await engineOn(redis.port, { prefix });
      const b = await engineOn(redis.port, { prefix });
      expect(b.epoch).toBe(a.epoch);
      const onA = recorder();
      const onB = recorder();
      a.listen(onA);
      b.listen(onB);
      // 300 appends, 32 at a time, through both nodes and over 10 channels.
      const acked: string[] = [];
      for (let round = 0; round < 300 / 32; round++) {
        const batch = Array.from({ length: 32 }, (_, i) => round * 32 + i).filter((n) => n < 300);
        const results = await Promise.all(
          batch.map((n) => (n % 2 ? a : b).append(event(`c${n % 10}`, n))),
        );
        acked.push(...results.map((stored) => stored.id));
      }
      await until(() => onA.events.length >= 300 && onB.events.length >= 300, 5000, 'delivery');
      await sleep(50);
      for (const seen of [onA, onB]) {
        expect(seen.events.map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
        expect(seen.resets).toEqual([]);
      }
      expect(new Set(onA.events.map((e) => e.id))).toEqual(new Set(acked));
      expect(onB.events).toEqual(onA.events);
      expect(a.position()).toBe(`${a.epoch}-300`);
      expect(b.position()).toBe(`${a.epoch}-300`);
      const [first] = onA.events;
      expect(first).toMatchObject({ seq: 1, id: `${a.epoch}-1`, event: 'message' });
      expect(typeof first?.time).toBe('number');
    });

    it('should start a node at the current position and deliver only what follows', async () => {
      const prefix = freshPrefix();
      const a = await engineOn(redis.port, { prefix });
      await a.append(event('x', 1));
      await a.append(event('x', 2));
      const b = await engineOn(redis.port, { prefix });
      expect(b.position()).toBe(`${a.epoch}-2`);
      const onB = recorder();
      b.listen(onB);
      await a.append(event('x', 3));
      await until(() => onB.events.length === 1, 5000, 'delivery');
      expect(onB.events[0]).toMatchObject({ seq: 3, dataJson: '3' });
    });

    it('should resume its tail after CLIENT KILL of its blocking connection, losing and repeating nothing', async () => {
      const prefix = freshPrefix();
      const a = await engineOn(redis.port, { prefix });
      const b = await engineOn(redis.port, { prefix });
      const onA = recorder();
      const onB = recorder();
      a.listen(onA);
      b.listen(onB);
      let n = 0;
      let publishing = true;
      const publisher = (async () => {
        while (publishing) {
          await Promise.all(Array.from({ length: 8 }, () => a.append(event('k', ++n))));
          await sleep(2);
        }
      })();
      for (let kill = 0; kill < 3; kill++) {
        await sleep(150);
        const readers = await blockedReaders();
        expect(readers.length).toBeGreaterThan(0);
        for (const id of readers) await redis.cli('CLIENT', 'KILL', 'ID', id);
      }
      await sleep(150);
      publishing = false;
      await publisher;
      await until(
        () => onA.events.length >= n && onB.events.length >= n,
        5000,
        'delivery after the kills',
      );
      await sleep(50);
      const expected = Array.from({ length: n }, (_, i) => i + 1);
      expect(onA.events.map((e) => e.seq)).toEqual(expected);
      expect(onB.events.map((e) => e.seq)).toEqual(expected);
      expect([...onA.resets, ...onB.resets]).toEqual([]);
      expect(a.health()).toEqual({ ready: true });
    });

    it('should stop delivering to a listener once disposed, and deliver nothing after close', async () => {
      const prefix = freshPrefix();
      const a = await engineOn(redis.port, { prefix });
      const kept = recorder();
      const dropped = recorder();
      a.listen(kept);
      const off = a.listen(dropped);
      off();
      await a.append(event('z', 1));
      await until(() => kept.events.length === 1, 5000, 'delivery');
      expect(dropped.events).toEqual([]);
      const readers = (await blockedReaders()).length;
      await a.close();
      await until(
        async () => (await blockedReaders()).length === readers - 1,
        2000,
        'the tail connection to close',
      );
      expect(a.health()).toEqual({ ready: false, reason: 'the engine is closed' });
      await expect(a.append(event('z', 2))).rejects.toMatchObject({ code: 'closed' });
    });
  },
);
