import { describe, expect, it } from 'vitest';
import {
  createTokenBucket,
  exceedsBytes,
  isValidChannel,
  isValidEventType,
  serializeData,
} from '../src/limits.js';

describe('limits', () => {
  it.each([
    ['prices', true],
    ['a.b:c/d_e-f', true],
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
    ['', false],
    ['with space', false],
    ['at@sign', false],
    [42, false],
  ])('should judge the channel name %j as %s', (name, valid) => {
    expect(isValidChannel(name)).toBe(valid);
  });

  it('should cap event types at 64 characters', () => {
    expect(isValidEventType('x'.repeat(64))).toBe(true);
    expect(isValidEventType('x'.repeat(65))).toBe(false);
  });

  it('should allow a burst, then refill at the given rate', () => {
    let now = 0;
    const bucket = createTokenBucket({ perSecond: 10, burst: 2, now: () => now });
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    expect(bucket.waitMs()).toBe(100);
    now += 100;
    expect(bucket.take()).toBe(true);
    now += 10_000;
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
  });

  it('should find no JSON form for undefined, functions, BigInt and cycles', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const value of [undefined, () => 1, 1n, cycle])
      expect(serializeData(value)).toBeUndefined();
    expect(serializeData({ a: [1, null] })).toBe('{"a":[1,null]}');
  });

  it('should count UTF-8 bytes against a limit, skipping the count when it cannot matter', () => {
    expect(exceedsBytes('x'.repeat(10), 30)).toBe(false);
    expect(exceedsBytes('x'.repeat(30), 30)).toBe(false);
    expect(exceedsBytes('x'.repeat(31), 30)).toBe(true);
    // 10 characters, 30 bytes: at the limit, then one byte over it.
    expect(exceedsBytes('€'.repeat(10), 30)).toBe(false);
    expect(exceedsBytes(`${'€'.repeat(10)}x`, 30)).toBe(true);
    // A surrogate pair is 2 units and 4 bytes.
    expect(exceedsBytes('😀'.repeat(8), 32)).toBe(false);
    expect(exceedsBytes('😀'.repeat(8), 31)).toBe(true);
  });

  it('should keep refusing an invalid name after accepting valid ones', () => {
    for (let i = 0; i < 5000; i++) expect(isValidChannel(`c${i}`)).toBe(true);
    expect(isValidChannel('bad name')).toBe(false);
    expect(isValidEventType('x'.repeat(65))).toBe(false);
    expect(isValidChannel('c1')).toBe(true);
  });
});
