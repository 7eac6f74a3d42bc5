// A node that loses Redis: appends fail fast with a typed error and nothing is queued,
// health() turns not ready, and both recover when Redis is back.
import { afterAll, describe, expect, it } from 'vitest';
import { isRedisEngineError } from '../src/index.js';
import { closeAll, engineOn, event, freshPrefix, recorder } from './utils/engine.js';
import { skipReason, startRedis, stopAll, until } from './utils/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skipReason !== undefined)(
  `createRedisEngine health${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    afterAll(async () => {
      await closeAll();
      await stopAll();
    });

    it('should reject appends within a second while Redis is down, report not ready, and recover', async () => {
      const redis = await startRedis();
      const tw = await engineOn(redis.port, { prefix: freshPrefix() });
      const seen = recorder();
      tw.listen(seen);
      const before = await tw.append(event('a', 1));
      expect(tw.health()).toEqual({ ready: true });

      await redis.stop();
      const started = Date.now();
      const error = await tw.append(event('a', 2)).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(isRedisEngineError(error)).toBe(true);
      expect(error).toMatchObject({ name: 'RedisEngineError', code: 'unavailable' });
      expect((error as Error).message).toMatch(/^publish failed: /);
      expect((error as Error).message).not.toMatch(/redis:\/\//);
      await expect(
        tw.readPage('a', before.id, { maxEvents: 1, maxBytes: 1 }),
      ).rejects.toMatchObject({ code: 'unavailable' });
      await until(() => !tw.health().ready, 10_000, 'health to turn not ready');
      expect(tw.health()).toMatchObject({ ready: false, reason: expect.any(String) });

      // Back, but empty (no persistence): the history the node followed is gone, which the
      // fence notices on reconnection (a new run_id, no lineage): the node resets.
      await redis.restart();
      await until(() => tw.health().ready, 15_000, 'health to recover');
      await until(() => seen.resets.length > 0, 5000, 'the reset');
      expect(seen.resets[0]).toMatch(/epoch .* is unknown/);
      expect(tw.epoch).not.toBe(before.id.split('-')[0]);
      const after = await tw.append(event('a', 3));
      expect(after.id).toBe(`${tw.epoch}-1`);
      await until(() => seen.events.some((e) => e.id === after.id), 5000, 'delivery');
      // Nothing was queued while Redis was down.
      expect(seen.events.map((e) => e.dataJson)).toEqual(['1', '3']);
    });

    it('should turn not ready when Redis stalls for longer than twice blockMs, and time appends out', async () => {
      const redis = await startRedis();
      const tw = await engineOn(redis.port, {
        prefix: freshPrefix(),
        blockMs: 300,
        timeoutMs: 400,
      });
      expect(tw.health()).toEqual({ ready: true });
      // DEBUG SLEEP freezes the whole server while its sockets stay open.
      const sleeping = redis.cli('DEBUG', 'SLEEP', '2');
      await sleep(100);
      const started = Date.now();
      await expect(tw.append(event('a', 1))).rejects.toMatchObject({
        code: 'unavailable',
        message: 'publish failed: Redis did not answer within 400 ms',
      });
      expect(Date.now() - started).toBeLessThan(1000);
      await until(() => !tw.health().ready, 1500, 'health to turn not ready');
      expect(tw.health()).toMatchObject({ reason: expect.stringMatching(/has not answered/) });
      await sleeping;
      await until(() => tw.health().ready, 5000, 'health to recover');
      expect((await tw.append(event('a', 2))).seq).toBeGreaterThanOrEqual(1);
    });
  },
);
