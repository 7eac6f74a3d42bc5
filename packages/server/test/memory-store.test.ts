import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/index.js';

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
