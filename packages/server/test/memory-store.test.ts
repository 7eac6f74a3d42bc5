import { describe, expect, it } from 'vitest';
import { createMemoryStore, type Timers } from '../src/index.js';

const add = (store: ReturnType<typeof createMemoryStore>, channel: string, n: number) =>
  store.append({ channel, event: 'message', dataJson: String(n) });

describe('createMemoryStore', () => {
  it('should number events with one counter under its epoch', () => {
    const store = createMemoryStore({ epoch: 'ep1' });
    expect([add(store, 'a', 1).id, add(store, 'b', 2).id]).toEqual(['ep1-1', 'ep1-2']);
  });

  it('should serialize the event frame once, with the data as given', () => {
    const store = createMemoryStore({ epoch: 'ep' });
    const entry = store.append({ channel: 'a', event: 'tick', dataJson: '{"p":1}' });
    expect(JSON.parse(entry.frame)).toEqual({
      type: 'event',
      channel: 'a',
      id: 'ep-1',
      event: 'tick',
      data: { p: 1 },
    });
  });

  it('should replay exactly the events after a position', () => {
    const store = createMemoryStore({ epoch: 'ep' });
    const first = add(store, 'a', 1);
    add(store, 'b', 2);
    add(store, 'a', 3);
    const replay = store.read('a', first.id);
    expect(replay.gap).toBeUndefined();
    expect(replay.entries.map((e) => e.id)).toEqual(['ep-3']);
  });

  it('should keep the newest maxEvents and report a trimmed gap behind them', () => {
    const store = createMemoryStore({ epoch: 'ep', maxEvents: 2 });
    const ids = [1, 2, 3, 4].map((n) => add(store, 'a', n).id);
    expect(store.info('a')).toEqual({ size: 2, lastId: 'ep-4' });
    expect(store.read('a', ids[0]!).gap).toBe('trimmed');
    expect(store.read('a', ids[0]!).entries.map((e) => e.id)).toEqual(['ep-3', 'ep-4']);
    // The newest trimmed event itself is a complete position: nothing after it was lost.
    expect(store.read('a', ids[1]!)).toMatchObject({ gap: undefined });
  });

  it('should drop events older than maxAgeMs and remember what was trimmed', () => {
    let now = 1_000;
    const store = createMemoryStore({ epoch: 'ep', maxAgeMs: 100, now: () => now });
    const old = add(store, 'a', 1);
    add(store, 'a', 2);
    now += 50;
    const recent = add(store, 'a', 3);
    now += 60;
    expect(store.info('a').size).toBe(1);
    expect(store.read('a', old.id).gap).toBe('trimmed');
    now += 100;
    expect([...store.channels()]).toEqual([]);
    expect(store.read('a', recent.id)).toEqual({ gap: undefined, entries: [] });
    expect(store.read('a', old.id).gap).toBe('trimmed');
  });

  it.each([
    ['another epoch', 'other-1', 'epoch'],
    ['a future position', 'ep-99', 'invalid'],
    ['garbage', 'hello', 'invalid'],
  ])('should report %s as a %s gap with all kept events', (_name, position, reason) => {
    const store = createMemoryStore({ epoch: 'ep' });
    add(store, 'a', 1);
    const replay = store.read('a', position);
    expect(replay.gap).toBe(reason);
    expect(replay.entries).toHaveLength(1);
  });

  it('should give ep-0 as the position of an empty store, and replay everything from it', () => {
    const store = createMemoryStore({ epoch: 'ep' });
    expect(store.position()).toBe('ep-0');
    add(store, 'a', 1);
    expect(store.position()).toBe('ep-1');
    expect(store.read('a', 'ep-0')).toMatchObject({ gap: undefined, entries: [{ seq: 1 }] });
  });

  it('should refuse an epoch outside [0-9a-z]', () => {
    expect(() => createMemoryStore({ epoch: 'A-B' })).toThrow(TypeError);
  });

  it('should choose a different epoch for every store', () => {
    expect(createMemoryStore().epoch).not.toBe(createMemoryStore().epoch);
  });

  it('should write any channel and event name as valid JSON in the frame', () => {
    const store = createMemoryStore({ epoch: 'ep' });
    for (const name of ['a"b', 'c\\d', 'é\n']) {
      const entry = store.append({ channel: name, event: name, dataJson: '1' });
      expect(JSON.parse(entry.frame)).toMatchObject({ channel: name, event: name, data: 1 });
    }
  });

  it('should read the clock once per append', () => {
    let reads = 0;
    const store = createMemoryStore({ epoch: 'ep', now: () => ++reads });
    add(store, 'a', 1);
    add(store, 'a', 2);
    expect(reads).toBe(2);
  });
});

/** A pending timeout of {@link createFakeTimers}. */
interface FakeTimeout {
  readonly callback: () => void;
  readonly ms: number;
  unrefed: boolean;
  unref(): void;
}

/** Timers that only run when told to, with Node's `unref` on their handles. */
function createFakeTimers() {
  const pending = new Set<FakeTimeout>();
  const timers: Timers = {
    setTimeout(callback, ms) {
      const timeout: FakeTimeout = {
        callback,
        ms,
        unrefed: false,
        unref() {
          timeout.unrefed = true;
        },
      };
      pending.add(timeout);
      return timeout;
    },
    clearTimeout: (handle) => pending.delete(handle as FakeTimeout),
    setInterval: () => {
      throw new Error('the memory store uses no interval');
    },
    clearInterval: () => {},
  };
  /** Runs every pending timeout once. */
  const fire = (): void => {
    const due = [...pending];
    pending.clear();
    for (const timeout of due) timeout.callback();
  };
  return { timers, pending, fire };
}

const ids = (store: ReturnType<typeof createMemoryStore>, channel: string) =>
  store.read(channel, 'ep-0').entries.map((entry) => entry.id);

describe('createMemoryStore bounds across channels', () => {
  it('should keep at most maxTotalEvents, dropping the oldest event whatever its channel', () => {
    const store = createMemoryStore({ epoch: 'ep', maxTotalEvents: 3 });
    for (const [n, channel] of ['a', 'b', 'c', 'a', 'd'].entries()) add(store, channel, n);
    expect(ids(store, 'a')).toEqual(['ep-4']);
    expect(ids(store, 'b')).toEqual([]);
    expect(ids(store, 'c')).toEqual(['ep-3']);
    expect(ids(store, 'd')).toEqual(['ep-5']);
    expect([...store.channels()].sort()).toEqual(['a', 'c', 'd']);
  });

  it('should count events that a channel trimmed by itself out of the total', () => {
    const store = createMemoryStore({ epoch: 'ep', maxEvents: 1, maxTotalEvents: 2 });
    add(store, 'a', 1);
    add(store, 'a', 2); // a channel of one: ep-1 goes at once
    add(store, 'b', 3);
    expect(ids(store, 'a')).toEqual(['ep-2']);
    add(store, 'c', 4); // the oldest kept event is ep-2, not the long gone ep-1
    expect(ids(store, 'a')).toEqual([]);
    expect(ids(store, 'b')).toEqual(['ep-3']);
    expect(ids(store, 'c')).toEqual(['ep-4']);
  });

  it('should find the oldest event after a busy channel trimmed thousands by itself', () => {
    const store = createMemoryStore({ epoch: 'ep', maxEvents: 1, maxTotalEvents: 3 });
    add(store, 'quiet', 0);
    for (let n = 1; n <= 5000; n++) add(store, 'busy', n);
    add(store, 'x', 1);
    expect(ids(store, 'quiet')).toEqual(['ep-1']);
    add(store, 'y', 2);
    expect(ids(store, 'quiet')).toEqual([]);
    expect([...store.channels()].sort()).toEqual(['busy', 'x', 'y']);
    expect(ids(store, 'busy')).toEqual(['ep-5001']);
  });

  it('should keep at most maxTotalBytes of frames, dropping the oldest whatever its channel', () => {
    const frameBytes = Buffer.byteLength(
      createMemoryStore({ epoch: 'ep' }).append(event('a')).frame,
    );
    const store = createMemoryStore({ epoch: 'ep', maxTotalBytes: 3 * frameBytes });
    for (const channel of ['a', 'b', 'c']) store.append(event(channel));
    expect([...store.channels()].sort()).toEqual(['a', 'b', 'c']);
    store.append(event('d'));
    expect([...store.channels()].sort()).toEqual(['b', 'c', 'd']);
    store.append(event('b'));
    expect(ids(store, 'b')).toEqual(['ep-5']);
    expect([...store.channels()].sort()).toEqual(['b', 'c', 'd']);
  });

  it('should count bytes as the UTF-8 length of each frame, exactly', () => {
    const dataJson = JSON.stringify('é'.repeat(200)); // 2 bytes in UTF-8 for each é
    const append = (store: ReturnType<typeof createMemoryStore>, channel: string) =>
      store.append({ channel, event: 'ü', dataJson });
    const { frame } = append(createMemoryStore({ epoch: 'ep' }), 'ça');
    const frameBytes = Buffer.byteLength(frame);
    expect(3 * frame.length).toBeLessThan(2 * frameBytes);
    const fits = createMemoryStore({ epoch: 'ep', maxTotalBytes: 2 * frameBytes });
    const short = createMemoryStore({ epoch: 'ep', maxTotalBytes: 2 * frameBytes - 1 });
    for (const channel of ['ça', 'çb', 'çc']) {
      append(fits, channel);
      append(short, channel);
    }
    expect([...fits.channels()].sort()).toEqual(['çb', 'çc']);
    expect([...short.channels()]).toEqual(['çc']);
  });

  it('should answer a resume from an evicted position with a trimmed gap, and replay exactly after a kept one', () => {
    const store = createMemoryStore({ epoch: 'ep', maxTotalEvents: 2 });
    add(store, 'a', 1);
    add(store, 'b', 2);
    add(store, 'a', 3);
    add(store, 'b', 4); // ep-1 (a) and ep-2 (b) are evicted
    expect(store.read('a', 'ep-0')).toMatchObject({ gap: 'trimmed', entries: [{ id: 'ep-3' }] });
    // The newest evicted event of a channel is a complete position: nothing after it was lost.
    expect(store.read('a', 'ep-1')).toMatchObject({ gap: undefined, entries: [{ id: 'ep-3' }] });
    expect(store.read('b', 'ep-1')).toMatchObject({ gap: 'trimmed', entries: [{ id: 'ep-4' }] });
    expect(store.read('b', 'ep-2')).toMatchObject({ gap: undefined, entries: [{ id: 'ep-4' }] });
    expect(store.read('b', 'ep-4')).toEqual({ gap: undefined, entries: [] });
  });

  it('should report a trimmed gap for a channel whose whole history was evicted', () => {
    const store = createMemoryStore({ epoch: 'ep', maxTotalEvents: 2 });
    const gone = add(store, 'a', 1);
    add(store, 'b', 2);
    add(store, 'b', 3);
    expect(store.info('a')).toEqual({ size: 0, lastId: undefined });
    expect(store.read('a', 'ep-0')).toEqual({ gap: 'trimmed', entries: [] });
    expect(store.read('a', gone.id)).toEqual({ gap: undefined, entries: [] });
    const next = add(store, 'a', 4);
    expect(store.read('a', 'ep-0')).toMatchObject({ gap: 'trimmed', entries: [{ id: next.id }] });
  });
});

describe('createMemoryStore age sweep', () => {
  it('should drop expired events on a timer, on channels nobody reads', () => {
    let now = 1_000;
    const { timers, pending, fire } = createFakeTimers();
    const store = createMemoryStore({ epoch: 'ep', maxAgeMs: 5_000, now: () => now, timers });
    add(store, 'a', 1);
    now = 3_000;
    add(store, 'b', 2);
    // One timer for the oldest event's expiry, that does not keep the process alive.
    expect([...pending].map(({ ms, unrefed }) => ({ ms, unrefed }))).toEqual([
      { ms: 5_000, unrefed: true },
    ]);
    now = 6_001;
    fire();
    expect([...pending].map(({ ms }) => ms)).toEqual([8_000 - 6_001]);
    // With the clock turned back, reading cannot trim anything by itself: what is gone was
    // dropped by the timer.
    now = 3_000;
    expect(store.read('a', 'ep-0')).toEqual({ gap: 'trimmed', entries: [] });
    expect(ids(store, 'b')).toEqual(['ep-2']);
    now = 8_001;
    fire();
    now = 3_000;
    expect([...store.channels()]).toEqual([]);
    expect(pending.size).toBe(0);
  });

  it('should sweep at most once a second however close together events expire', () => {
    let now = 0;
    const { timers, pending, fire } = createFakeTimers();
    const store = createMemoryStore({ epoch: 'ep', maxAgeMs: 60_000, now: () => now, timers });
    for (let n = 0; n < 100; n++) {
      now = n * 10;
      add(store, `c${n}`, n);
    }
    now = 60_001;
    fire();
    expect([...pending].map(({ ms }) => ms)).toEqual([1_000]);
  });

  it('should stop its timer on close and still answer', () => {
    const { timers, pending } = createFakeTimers();
    const store = createMemoryStore({ epoch: 'ep', timers });
    add(store, 'a', 1);
    expect(pending.size).toBe(1);
    store.close?.();
    expect(pending.size).toBe(0);
    add(store, 'a', 2);
    expect(pending.size).toBe(0);
    expect(ids(store, 'a')).toEqual(['ep-1', 'ep-2']);
  });
});

/** An event of the same frame length on any one-letter channel. */
function event(channel: string) {
  return { channel, event: 'message', dataJson: JSON.stringify('x'.repeat(100)) };
}
