import { describe, expect, it } from 'vitest';
import {
  createMemoryEngine,
  type MemoryEngine,
  type StoredEvent,
  type Timers,
} from '../src/index.js';

const add = (engine: MemoryEngine, channel: string, n: number) =>
  engine.append({ channel, event: 'message', dataJson: String(n) });

/** Everything a resume from `since` gets, in one page. */
const read = (engine: MemoryEngine, channel: string, since: string) =>
  engine.readPage(channel, since, { maxEvents: Number.POSITIVE_INFINITY, maxBytes: 1 << 30 });

/** The ids of `channel`'s whole history. */
const ids = async (engine: MemoryEngine, channel: string) =>
  (await read(engine, channel, 'ep-0')).entries.map((entry) => entry.id);

const channels = async (engine: MemoryEngine) => [...(await engine.channels())].sort();

describe('createMemoryEngine', () => {
  it('should start a rewind before the newest events kept up to a position', async () => {
    const engine = createMemoryEngine({ epoch: 'ep', maxEvents: 5 });
    for (let i = 0; i < 8; i++) await add(engine, i % 2 ? 'a' : 'b', i);
    // a holds ep-2, ep-4, ep-6, ep-8; b holds ep-1, ep-3, ep-5, ep-7.
    expect(await engine.rewind('a', 2, 'ep-8')).toBe('ep-5');
    expect(await engine.rewind('a', 2, 'ep-5')).toBe('ep-1');
    expect(await engine.rewind('a', 10, 'ep-8')).toBe('ep-1');
    // Nothing to rewind to: the position itself.
    expect(await engine.rewind('a', 0, 'ep-8')).toBe('ep-8');
    expect(await engine.rewind('none', 3, 'ep-8')).toBe('ep-8');
    expect(await engine.rewind('a', 3, 'ep-1')).toBe('ep-1');
    expect(await engine.rewind('a', 3, 'other-8')).toBe('other-8');
    // A rewind within what is kept replays without a gap.
    for (let i = 0; i < 6; i++) await add(engine, 'a', i);
    const start = await engine.rewind('a', 5, engine.position());
    const page = await read(engine, 'a', start);
    expect(page.gap).toBeUndefined();
    expect(page.entries).toHaveLength(5);
  });

  it('should number events with one counter under its epoch', async () => {
    const engine = createMemoryEngine({ epoch: 'ep1' });
    expect([(await add(engine, 'a', 1)).id, (await add(engine, 'b', 2)).id]).toEqual([
      'ep1-1',
      'ep1-2',
    ]);
  });

  it('should keep the parts of an event, the data as given', async () => {
    const engine = createMemoryEngine({ epoch: 'ep', now: () => 5 });
    const stored = await engine.append({ channel: 'a', event: 'tick', dataJson: '{"p":1}' });
    expect(stored).toEqual({
      seq: 1,
      id: 'ep-1',
      channel: 'a',
      event: 'tick',
      dataJson: '{"p":1}',
      time: 5,
    });
  });

  it('should deliver every event to its listeners before append resolves, in seq order', async () => {
    const engine = createMemoryEngine({ epoch: 'ep' });
    const heard: string[] = [];
    const positions: string[] = [];
    const off = engine.listen({
      event: (event) => {
        heard.push(event.id);
        positions.push(engine.position());
      },
      reset: () => {},
    });
    const appending = [add(engine, 'a', 1), add(engine, 'b', 2)];
    expect(heard).toEqual(['ep-1', 'ep-2']);
    // The position is the newest event delivered, during its delivery too.
    expect(positions).toEqual(['ep-1', 'ep-2']);
    await Promise.all(appending);
    off();
    await add(engine, 'a', 3);
    expect(heard).toEqual(['ep-1', 'ep-2']);
  });

  it('should always be ready', () => {
    expect(createMemoryEngine().health()).toEqual({ ready: true });
  });

  it('should replay exactly the events after a position', async () => {
    const engine = createMemoryEngine({ epoch: 'ep' });
    const first = await add(engine, 'a', 1);
    await add(engine, 'b', 2);
    await add(engine, 'a', 3);
    const replay = await read(engine, 'a', first.id);
    expect(replay.gap).toBeUndefined();
    expect(replay.entries.map((e) => e.id)).toEqual(['ep-3']);
  });

  it('should page a replay by events and by bytes of data, at least one event a page', async () => {
    const engine = createMemoryEngine({ epoch: 'ep' });
    for (let n = 1; n <= 5; n++) {
      await engine.append({
        channel: 'a',
        event: 'message',
        dataJson: JSON.stringify('x'.repeat(8)),
      });
    }
    const byCount = await engine.readPage('a', 'ep-0', { maxEvents: 2, maxBytes: 1 << 20 });
    expect(byCount).toMatchObject({ gap: undefined, more: true });
    expect(byCount.entries.map((e) => e.id)).toEqual(['ep-1', 'ep-2']);
    // Each data is 10 UTF-16 units: 25 units hold two.
    const byBytes = await engine.readPage('a', 'ep-2', { maxEvents: 10, maxBytes: 25 });
    expect(byBytes.entries.map((e) => e.id)).toEqual(['ep-3', 'ep-4']);
    const tiny = await engine.readPage('a', 'ep-4', { maxEvents: 10, maxBytes: 1 });
    expect(tiny).toMatchObject({ more: false, entries: [{ id: 'ep-5' }] });
  });

  it('should keep the newest maxEvents and report a trimmed gap behind them', async () => {
    const engine = createMemoryEngine({ epoch: 'ep', maxEvents: 2 });
    const added: StoredEvent[] = [];
    for (const n of [1, 2, 3, 4]) added.push(await add(engine, 'a', n));
    expect(await engine.info('a')).toEqual({ size: 2, lastId: 'ep-4' });
    expect((await read(engine, 'a', added[0]!.id)).gap).toBe('trimmed');
    expect((await read(engine, 'a', added[0]!.id)).entries.map((e) => e.id)).toEqual([
      'ep-3',
      'ep-4',
    ]);
    // The newest trimmed event itself is a complete position: nothing after it was lost.
    expect(await read(engine, 'a', added[1]!.id)).toMatchObject({ gap: undefined });
  });

  it('should drop events older than maxAgeMs and remember what was trimmed', async () => {
    let now = 1_000;
    const engine = createMemoryEngine({ epoch: 'ep', maxAgeMs: 100, now: () => now });
    const old = await add(engine, 'a', 1);
    await add(engine, 'a', 2);
    now += 50;
    const recent = await add(engine, 'a', 3);
    now += 60;
    expect((await engine.info('a')).size).toBe(1);
    expect((await read(engine, 'a', old.id)).gap).toBe('trimmed');
    now += 100;
    expect(await engine.channels()).toEqual([]);
    expect(await read(engine, 'a', recent.id)).toEqual({
      gap: undefined,
      entries: [],
      more: false,
    });
    expect((await read(engine, 'a', old.id)).gap).toBe('trimmed');
  });

  it.each([
    ['another epoch', 'other-1', 'epoch'],
    ['a future position', 'ep-99', 'invalid'],
    ['garbage', 'hello', 'invalid'],
  ])('should report %s as a %s gap with all kept events', async (_name, position, reason) => {
    const engine = createMemoryEngine({ epoch: 'ep' });
    await add(engine, 'a', 1);
    const replay = await read(engine, 'a', position);
    expect(replay.gap).toBe(reason);
    expect(replay.entries).toHaveLength(1);
  });

  it('should give ep-0 as the position of an empty engine, and replay everything from it', async () => {
    const engine = createMemoryEngine({ epoch: 'ep' });
    expect(engine.position()).toBe('ep-0');
    await add(engine, 'a', 1);
    expect(engine.position()).toBe('ep-1');
    expect(await read(engine, 'a', 'ep-0')).toMatchObject({
      gap: undefined,
      entries: [{ seq: 1 }],
    });
  });

  it('should refuse an epoch outside [0-9a-z]', () => {
    expect(() => createMemoryEngine({ epoch: 'A-B' })).toThrow(TypeError);
  });

  it('should choose a different epoch for every engine', () => {
    expect(createMemoryEngine().epoch).not.toBe(createMemoryEngine().epoch);
  });

  it('should read the clock once per append', async () => {
    let reads = 0;
    const engine = createMemoryEngine({ epoch: 'ep', now: () => ++reads });
    await add(engine, 'a', 1);
    await add(engine, 'a', 2);
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
      throw new Error('the memory engine uses no interval');
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

describe('createMemoryEngine bounds across channels', () => {
  it('should keep at most maxTotalEvents, dropping the oldest event whatever its channel', async () => {
    const engine = createMemoryEngine({ epoch: 'ep', maxTotalEvents: 3 });
    for (const [n, channel] of ['a', 'b', 'c', 'a', 'd'].entries()) await add(engine, channel, n);
    expect(await ids(engine, 'a')).toEqual(['ep-4']);
    expect(await ids(engine, 'b')).toEqual([]);
    expect(await ids(engine, 'c')).toEqual(['ep-3']);
    expect(await ids(engine, 'd')).toEqual(['ep-5']);
    expect(await channels(engine)).toEqual(['a', 'c', 'd']);
  });

  it('should count events that a channel trimmed by itself out of the total', async () => {
    const engine = createMemoryEngine({ epoch: 'ep', maxEvents: 1, maxTotalEvents: 2 });
    await add(engine, 'a', 1);
    await add(engine, 'a', 2); // a channel of one: ep-1 goes at once
    await add(engine, 'b', 3);
    expect(await ids(engine, 'a')).toEqual(['ep-2']);
    await add(engine, 'c', 4); // the oldest kept event is ep-2, not the long gone ep-1
    expect(await ids(engine, 'a')).toEqual([]);
    expect(await ids(engine, 'b')).toEqual(['ep-3']);
    expect(await ids(engine, 'c')).toEqual(['ep-4']);
  });

  it('should find the oldest event after a busy channel trimmed thousands by itself', async () => {
    const engine = createMemoryEngine({ epoch: 'ep', maxEvents: 1, maxTotalEvents: 3 });
    await add(engine, 'quiet', 0);
    for (let n = 1; n <= 5000; n++) await add(engine, 'busy', n);
    await add(engine, 'x', 1);
    expect(await ids(engine, 'quiet')).toEqual(['ep-1']);
    await add(engine, 'y', 2);
    expect(await ids(engine, 'quiet')).toEqual([]);
    expect(await channels(engine)).toEqual(['busy', 'x', 'y']);
    expect(await ids(engine, 'busy')).toEqual(['ep-5001']);
  });

  it('should keep at most maxTotalBytes, dropping the oldest whatever its channel', async () => {
    const event = (channel: string) => ({
      channel,
      event: 'message',
      dataJson: JSON.stringify('x'.repeat(100)),
    });
    const eventBytes = 1 + 'message'.length + 102;
    const engine = createMemoryEngine({ epoch: 'ep', maxTotalBytes: 3 * eventBytes });
    for (const channel of ['a', 'b', 'c']) await engine.append(event(channel));
    expect(await channels(engine)).toEqual(['a', 'b', 'c']);
    await engine.append(event('d'));
    expect(await channels(engine)).toEqual(['b', 'c', 'd']);
    await engine.append(event('b'));
    expect(await ids(engine, 'b')).toEqual(['ep-5']);
    expect(await channels(engine)).toEqual(['b', 'c', 'd']);
  });

  it("should count bytes as the UTF-8 length of each event's channel, type and data, exactly", async () => {
    const dataJson = JSON.stringify('é'.repeat(200)); // 2 bytes in UTF-8 for each é
    const append = (engine: MemoryEngine, channel: string) =>
      engine.append({ channel, event: 'ü', dataJson });
    const eventBytes =
      Buffer.byteLength('ça') + Buffer.byteLength('ü') + Buffer.byteLength(dataJson);
    expect(3 * (2 + 1 + dataJson.length)).toBeLessThan(2 * eventBytes);
    const fits = createMemoryEngine({ epoch: 'ep', maxTotalBytes: 2 * eventBytes });
    const short = createMemoryEngine({ epoch: 'ep', maxTotalBytes: 2 * eventBytes - 1 });
    for (const channel of ['ça', 'çb', 'çc']) {
      await append(fits, channel);
      await append(short, channel);
    }
    expect(await channels(fits)).toEqual(['çb', 'çc']);
    expect(await channels(short)).toEqual(['çc']);
  });

  it('should answer a resume from an evicted position with a trimmed gap, and replay exactly after a kept one', async () => {
    const engine = createMemoryEngine({ epoch: 'ep', maxTotalEvents: 2 });
    await add(engine, 'a', 1);
    await add(engine, 'b', 2);
    await add(engine, 'a', 3);
    await add(engine, 'b', 4); // ep-1 (a) and ep-2 (b) are evicted
    expect(await read(engine, 'a', 'ep-0')).toMatchObject({
      gap: 'trimmed',
      entries: [{ id: 'ep-3' }],
    });
    // The newest evicted event of a channel is a complete position: nothing after it was lost.
    expect(await read(engine, 'a', 'ep-1')).toMatchObject({
      gap: undefined,
      entries: [{ id: 'ep-3' }],
    });
    expect(await read(engine, 'b', 'ep-1')).toMatchObject({
      gap: 'trimmed',
      entries: [{ id: 'ep-4' }],
    });
    expect(await read(engine, 'b', 'ep-2')).toMatchObject({
      gap: undefined,
      entries: [{ id: 'ep-4' }],
    });
    expect(await read(engine, 'b', 'ep-4')).toEqual({ gap: undefined, entries: [], more: false });
  });

  it('should report a trimmed gap for a channel whose whole history was evicted', async () => {
    const engine = createMemoryEngine({ epoch: 'ep', maxTotalEvents: 2 });
    const gone = await add(engine, 'a', 1);
    await add(engine, 'b', 2);
    await add(engine, 'b', 3);
    expect(await engine.info('a')).toEqual({ size: 0, lastId: undefined });
    expect(await read(engine, 'a', 'ep-0')).toEqual({ gap: 'trimmed', entries: [], more: false });
    expect(await read(engine, 'a', gone.id)).toEqual({ gap: undefined, entries: [], more: false });
    const next = await add(engine, 'a', 4);
    expect(await read(engine, 'a', 'ep-0')).toMatchObject({
      gap: 'trimmed',
      entries: [{ id: next.id }],
    });
  });
});

describe('createMemoryEngine age sweep', () => {
  it('should drop expired events on a timer, on channels nobody reads', async () => {
    let now = 1_000;
    const { timers, pending, fire } = createFakeTimers();
    const engine = createMemoryEngine({ epoch: 'ep', maxAgeMs: 5_000, now: () => now, timers });
    await add(engine, 'a', 1);
    now = 3_000;
    await add(engine, 'b', 2);
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
    expect(await read(engine, 'a', 'ep-0')).toEqual({ gap: 'trimmed', entries: [], more: false });
    expect(await ids(engine, 'b')).toEqual(['ep-2']);
    now = 8_001;
    fire();
    now = 3_000;
    expect(await engine.channels()).toEqual([]);
    expect(pending.size).toBe(0);
  });

  it('should sweep at most once a second however close together events expire', async () => {
    let now = 0;
    const { timers, pending, fire } = createFakeTimers();
    const engine = createMemoryEngine({ epoch: 'ep', maxAgeMs: 60_000, now: () => now, timers });
    for (let n = 0; n < 100; n++) {
      now = n * 10;
      await add(engine, `c${n}`, n);
    }
    now = 60_001;
    fire();
    expect([...pending].map(({ ms }) => ms)).toEqual([1_000]);
  });

  it('should stop its timer on close and still answer', async () => {
    const { timers, pending } = createFakeTimers();
    const engine = createMemoryEngine({ epoch: 'ep', timers });
    await add(engine, 'a', 1);
    expect(pending.size).toBe(1);
    await engine.close();
    expect(pending.size).toBe(0);
    await add(engine, 'a', 2);
    expect(pending.size).toBe(0);
    expect(await ids(engine, 'a')).toEqual(['ep-1', 'ep-2']);
  });
});
