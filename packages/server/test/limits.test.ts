import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth } from '../src/json-depth.js';
import {
  addressNetwork,
  createBucketRegistry,
  createTokenBucket,
  exceedsBytes,
  isValidChannel,
  isValidEventType,
  publisherKey,
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

  it('should share one bucket per key in a registry', () => {
    let now = 0;
    const registry = createBucketRegistry({ perSecond: 10, burst: 2, now: () => now });
    expect([registry.get('a').take(), registry.get('a').take(), registry.get('a').take()]).toEqual([
      true,
      true,
      false,
    ]);
    expect(registry.get('b').take()).toBe(true);
    now += 100;
    expect([registry.get('a').take(), registry.get('a').take()]).toEqual([true, false]);
  });

  it('should drop buckets once they are full again, keeping memory bounded', () => {
    let now = 0;
    // Full again 200 ms after its last use.
    const registry = createBucketRegistry({ perSecond: 10, burst: 2, now: () => now });
    for (let i = 0; i < 1000; i++) registry.get(`one-off-${i}`).take();
    expect(registry.size).toBe(1000);
    now += 199;
    registry.get('busy').take();
    expect(registry.size).toBe(1001);
    now += 1;
    registry.get('busy').take();
    expect(registry.size).toBe(1);
    // A dropped bucket comes back full, as it would have been.
    expect([registry.get('one-off-1').take(), registry.get('one-off-1').take()]).toEqual([
      true,
      true,
    ]);
  });

  it('should hold at most maxBuckets, dropping the least recently used', () => {
    let now = 0;
    const registry = createBucketRegistry({
      perSecond: 0,
      burst: 1,
      now: () => now,
      maxBuckets: 100,
    });
    for (let i = 0; i < 10_000; i++) {
      now += 1;
      expect(registry.get(`key-${i}`).take()).toBe(true);
      expect(registry.size).toBeLessThanOrEqual(100);
    }
    expect(registry.get('key-9999').take()).toBe(false);
  });

  it.each([
    ['alice', undefined, 'principal:alice'],
    [42, '10.0.0.1', 'principal:42'],
    [undefined, '10.0.0.1', 'address:10.0.0.1'],
    [{ id: 'alice' }, '10.0.0.1', 'address:10.0.0.1'],
    [undefined, '::ffff:10.0.0.1', 'address:10.0.0.1'],
    [undefined, '2001:db8:1:2:3:4:5:6', 'address:2001:db8:1:2::/64'],
    [undefined, '2001:db8:1:2:ffff::9', 'address:2001:db8:1:2::/64'],
    [undefined, '2001:db8::1', 'address:2001:db8:0:0::/64'],
    [undefined, '2001:0DB8:0001:0002::1', 'address:2001:db8:1:2::/64'],
    [undefined, '::1', 'address:0:0:0:0::/64'],
    [undefined, undefined, 'address:unknown'],
  ])('should key the principal %j at %s as %s', (principal, address, key) => {
    expect(publisherKey(principal, address)).toBe(key);
  });

  it('should give every address of an IPv6 /64 the same network', () => {
    expect(addressNetwork('2001:db8:a:b::1')).toBe(addressNetwork('2001:db8:a:b:c:d:e:f'));
    expect(addressNetwork('2001:db8:a:b::1')).not.toBe(addressNetwork('2001:db8:a:c::1'));
  });

  it('should measure JSON depth without recursion, ignoring brackets in strings', () => {
    expect(exceedsJsonDepth('{"a":[1]}', 2)).toBe(false);
    expect(exceedsJsonDepth('{"a":[[1]]}', 2)).toBe(true);
    expect(exceedsJsonDepth('{"a":"[[[[\\"[[[["}', 1)).toBe(false);
    expect(exceedsJsonDepth('[[],[],[],[]]', 2)).toBe(false);
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    expect(exceedsJsonDepth(deep, 128)).toBe(true);
    expect(exceedsJsonDepth(deep, 1_000_000)).toBe(false);
  });
});
