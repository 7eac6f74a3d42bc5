// History semantics of the Redis engine, case by case against the memory store's rules
// (packages/server/test/memory-store.test.ts): one counter, contiguity, trimmed, epoch and
// invalid gaps, paging limits. One redis-server for the file; each test a prefix of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRedisEngineError } from '../src/index.js';
import { clientOf, closeAll, engineOn, event, freshPrefix, type Mode } from './utils/engine.js';
import { type RedisProcess, skipReason, startRedis, stopAll } from './utils/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const all = { maxEvents: 10_000, maxBytes: 1 << 30 };

describe.skipIf(skipReason !== undefined).each<Mode>(['functions', 'scripts'])(
  `createRedisEngine history, run as %s${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  (mode) => {
    let redis: RedisProcess;
    beforeAll(async () => {
      // Small stream nodes, so that `MAXLEN ~` trims close to the cap in a short test.
      redis = await startRedis({ args: ['--stream-node-max-entries', '4'] });
    });
    afterAll(async () => {
      await closeAll();
      await stopAll();
    });

    const engine = (options = {}) =>
      engineOn(redis.port, { prefix: freshPrefix(), ...options }, mode);
    const ids = (page: { entries: readonly { id: string }[] }) => page.entries.map((e) => e.id);

    it('should number events with one counter under its epoch', async () => {
      const tw = await engine();
      const first = await tw.append(event('a', 1));
      const second = await tw.append(event('b', 2));
      expect([first.id, second.id]).toEqual([`${tw.epoch}-1`, `${tw.epoch}-2`]);
      expect(first).toMatchObject({ channel: 'a', event: 'message', dataJson: '1', seq: 1 });
      expect(Math.abs(first.time - Date.now())).toBeLessThan(5000);
    });

    it('should give <epoch>-0 as the position of an empty hub, and replay everything from it', async () => {
      const tw = await engine();
      expect(tw.epoch).toMatch(/^[0-9a-z]+$/);
      expect(tw.position()).toBe(`${tw.epoch}-0`);
      await tw.append(event('a', 1));
      expect(await tw.readPage('a', `${tw.epoch}-0`, all)).toMatchObject({
        gap: undefined,
        entries: [{ seq: 1, dataJson: '1' }],
        more: false,
      });
    });

    it('should start a rewind before the newest events kept up to a position', async () => {
      const tw = await engine();
      const a: string[] = [];
      for (let i = 0; i < 8; i++) {
        const stored = await tw.append({
          channel: i % 2 ? 'a' : 'b',
          event: 'message',
          dataJson: String(i),
        });
        if (i % 2) a.push(stored.id);
      }
      const [epoch] = (a[0] ?? '').split('-');
      const seqOf = (id: string | undefined) => Number((id ?? '').split('-')[1]);
      expect(await tw.rewind('a', 2, a[3] ?? '')).toBe(`${epoch}-${seqOf(a[2]) - 1}`);
      expect(await tw.rewind('a', 10, a[3] ?? '')).toBe(`${epoch}-${seqOf(a[0]) - 1}`);
      expect(await tw.rewind('a', 0, a[3] ?? '')).toBe(a[3]);
      expect(await tw.rewind('none', 3, a[3] ?? '')).toBe(a[3]);
      const from = await tw.rewind('a', 3, tw.position());
      const page = await tw.readPage('a', from, { maxEvents: 100, maxBytes: 1 << 20 });
      expect(page.gap).toBeUndefined();
      expect(page.entries.map((entry) => entry.id)).toEqual(a.slice(1));
    });

    it('should replay exactly the events after a position', async () => {
      const tw = await engine();
      const first = await tw.append(event('a', 1));
      await tw.append(event('b', 2));
      await tw.append(event('a', 3));
      const page = await tw.readPage('a', first.id, all);
      expect(page.gap).toBeUndefined();
      expect(ids(page)).toEqual([`${tw.epoch}-3`]);
      // Positions are global: one of another channel, between two events of this one, is exact.
      expect(ids(await tw.readPage('a', `${tw.epoch}-2`, all))).toEqual([`${tw.epoch}-3`]);
      expect(await tw.readPage('a', `${tw.epoch}-3`, all)).toEqual({
        gap: undefined,
        entries: [],
        more: false,
      });
    });

    it('should keep about maxEvents and report a trimmed gap behind them', async () => {
      const tw = await engine({ maxEvents: 8 });
      const appended = [];
      for (let n = 1; n <= 40; n++) appended.push(await tw.append(event('a', n)));
      const { size, lastId } = await tw.info('a');
      expect(lastId).toBe(appended.at(-1)?.id);
      // `MAXLEN ~` trims whole stream nodes (4 entries each here): at least 8, at most 8 + 4.
      expect(size).toBeGreaterThanOrEqual(8);
      expect(size).toBeLessThanOrEqual(12);
      const fromStart = await tw.readPage('a', `${tw.epoch}-0`, all);
      expect(fromStart.gap).toBe('trimmed');
      expect(fromStart.entries).toHaveLength(size);
      const oldestKept = fromStart.entries[0]!.seq;
      // The newest trimmed event itself is a complete position: nothing after it was lost.
      expect(await tw.readPage('a', `${tw.epoch}-${oldestKept - 1}`, all)).toMatchObject({
        gap: undefined,
        entries: fromStart.entries,
      });
      expect((await tw.readPage('a', `${tw.epoch}-${oldestKept - 2}`, all)).gap).toBe('trimmed');
    });

    it('should not replay events older than maxAgeMs, and count them out of info', async () => {
      const tw = await engine({ maxAgeMs: 800 });
      const old = await tw.append(event('a', 1));
      await tw.append(event('a', 2));
      await sleep(500);
      const recent = await tw.append(event('a', 3));
      await sleep(400);
      expect(await tw.info('a')).toEqual({ size: 1, lastId: recent.id });
      expect(await tw.readPage('a', old.id, all)).toMatchObject({
        gap: 'trimmed',
        entries: [{ id: recent.id }],
      });
      await sleep(500);
      expect(await tw.info('a')).toEqual({ size: 0, lastId: undefined });
      expect(await tw.readPage('a', recent.id, all)).toEqual({
        gap: undefined,
        entries: [],
        more: false,
      });
      expect((await tw.readPage('a', old.id, all)).gap).toBe('trimmed');
    });

    it('should delete quiet channels on a timer and still report what they lost', async () => {
      const prefix = freshPrefix();
      const tw = await engineOn(redis.port, { prefix, maxAgeMs: 300, sweepIntervalMs: 100 }, mode);
      const gone = await tw.append(event('a', 1));
      const client = await clientOf(redis.port);
      await sleep(700);
      // The stream is gone from Redis, not only hidden by its age, and the floor remembers it.
      expect(await client.sendCommand(['EXISTS', `${prefix}:ch:a`])).toBe(0);
      expect(await client.sendCommand(['ZCARD', `${prefix}:idle`])).toBe(0);
      expect(await client.sendCommand(['GET', `${prefix}:floor`])).toBe('1');
      expect(await tw.readPage('a', `${tw.epoch}-0`, all)).toEqual({
        gap: 'trimmed',
        entries: [],
        more: false,
      });
      expect(await tw.readPage('a', gone.id, all)).toEqual({
        gap: undefined,
        entries: [],
        more: false,
      });
      // A channel created again starts from the floor: a resume from before it is not exact.
      const next = await tw.append(event('a', 2));
      expect(await tw.readPage('a', `${tw.epoch}-0`, all)).toMatchObject({
        gap: 'trimmed',
        entries: [{ id: next.id }],
      });
      expect(await tw.readPage('a', gone.id, all)).toMatchObject({
        gap: undefined,
        entries: [{ id: next.id }],
      });
    });

    it.each([
      ['another epoch', (epoch: string) => `x${epoch}-1`, 'epoch'],
      ['a future position', (epoch: string) => `${epoch}-99`, 'invalid'],
      ['garbage', () => 'hello', 'invalid'],
      ['a seq with a leading zero', (epoch: string) => `${epoch}-01`, 'invalid'],
    ])('should report %s as a %s gap with all kept events', async (_name, position, reason) => {
      const tw = await engine();
      await tw.append(event('a', 1));
      await tw.append(event('a', 2));
      const page = await tw.readPage('a', position(tw.epoch), all);
      expect(page.gap).toBe(reason);
      expect(page.entries).toHaveLength(2);
    });

    it('should page by maxEvents and by maxBytes of dataJson.length, with at least one event', async () => {
      const tw = await engine();
      const data = ['x'.repeat(10), 'é'.repeat(10), '😀'.repeat(5), 'y'.repeat(300)];
      for (const text of data) await tw.append(event('a', text));
      const since = `${tw.epoch}-0`;
      const lengths = data.map((text) => JSON.stringify(text).length); // 12 each, then 302
      expect(await tw.readPage('a', since, { maxEvents: 2, maxBytes: 1 << 20 })).toMatchObject({
        entries: [{ seq: 1 }, { seq: 2 }],
        more: true,
      });
      // UTF-16 length: 'é' is one unit, '😀' two, as String.length counts them.
      const three = lengths[0]! + lengths[1]! + lengths[2]!;
      expect(three).toBe(36);
      expect(ids(await tw.readPage('a', since, { maxEvents: 10, maxBytes: three }))).toHaveLength(
        3,
      );
      expect(
        ids(await tw.readPage('a', since, { maxEvents: 10, maxBytes: three - 1 })),
      ).toHaveLength(2);
      const big = await tw.readPage('a', `${tw.epoch}-3`, { maxEvents: 10, maxBytes: 1 });
      expect(big).toMatchObject({ gap: undefined, entries: [{ seq: 4 }], more: false });
      expect(big.entries[0]!.dataJson).toBe(JSON.stringify(data[3]));
      expect(await tw.readPage('a', since, { maxEvents: 4, maxBytes: 1 << 20 })).toMatchObject({
        more: false,
      });
    });

    it('should keep any channel and event name and data as given', async () => {
      const tw = await engine();
      const names = ['a"b', 'c\\d', 'é\n', 'x:ch:y'];
      for (const name of names) {
        await tw.append({ channel: name, event: name, dataJson: '{"k":[1,"é",null]}' });
      }
      for (const name of names) {
        expect(await tw.readPage(name, `${tw.epoch}-0`, all)).toMatchObject({
          gap: undefined,
          entries: [{ channel: name, event: name, dataJson: '{"k":[1,"é",null]}' }],
        });
      }
    });

    it('should report a key of another type as a failed error, and change nothing', async () => {
      const prefix = freshPrefix();
      const tw = await engineOn(redis.port, { prefix }, mode);
      const client = await clientOf(redis.port);
      await client.sendCommand(['SET', `${prefix}:ch:taken`, 'x']);
      const error = await tw.append(event('taken', 1)).catch((e: unknown) => e);
      expect(isRedisEngineError(error) && error.code).toBe('failed');
      expect((error as Error).message).toMatch(/^publish failed: WRONGTYPE/);
      expect((await tw.append(event('free', 1))).seq).toBe(1);
    });

    it('should run its procedures as library functions when it can, else as scripts', async () => {
      // Each mode has a Redis of its own: in it, only that mode ever ran.
      const tw = await engine();
      await tw.append(event('a', 1));
      const client = await clientOf(redis.port);
      const libraries = JSON.stringify(await client.sendCommand(['FUNCTION', 'LIST']));
      const memory = String(await client.sendCommand(['INFO', 'memory']));
      const cachedScripts = Number(/number_of_cached_scripts:(\d+)/.exec(memory)?.[1]);
      if (mode === 'functions') {
        expect(libraries).toMatch(/tidewire_[0-9a-f]{12}_publish/);
        expect(cachedScripts).toBe(0);
      } else {
        expect(libraries).toBe('[]');
        expect(cachedScripts).toBeGreaterThanOrEqual(2);
      }
    });

    it('should refuse a prefix without a hash tag', async () => {
      const client = await clientOf(redis.port);
      const { createRedisEngine, fromNodeRedis } = await import('../src/index.js');
      for (const prefix of ['tw', '{}', 'a}{b']) {
        expect(() => createRedisEngine({ connection: fromNodeRedis(client), prefix })).toThrow(
          TypeError,
        );
      }
    });
  },
);
