import { ConnectionError } from '@tidewire/core';
import { describe, expect, it } from 'vitest';
import { createModel, defaultSentAt, toTime } from '../src/model';
import { createRing } from '../src/ring';
import { at, event, liveChannel } from './helpers';

const idle = { sse: { status: 'idle' }, websocket: { status: 'idle' } } as const;

function modelWith(records = liveChannel('prices'), options = {}) {
  const model = createModel(idle, options);
  for (const r of records) model.record(r);
  return model;
}

describe('createRing', () => {
  it('should keep the newest items, oldest first', () => {
    const ring = createRing<number>(3);
    for (let i = 1; i <= 7; i++) ring.push(i);
    expect(ring.toArray()).toEqual([5, 6, 7]);
    expect(ring.size).toBe(3);
    ring.clear();
    expect(ring.toArray()).toEqual([]);
    ring.push(8);
    expect(ring.toArray()).toEqual([8]);
  });

  it('should hold at least one item', () => {
    expect(createRing(0).capacity).toBe(1);
    expect(createRing(2.7).capacity).toBe(2);
  });
});

describe('the model', () => {
  it('should follow a channel from its subscribe to live, counting as the client does', () => {
    const model = modelWith([
      ...liveChannel('prices'),
      event('prices', 'e1'),
      event('prices', 'e1'), // repeats the one before: dropped
      event('prices', 'e2'),
    ]);
    expect(model.build).toBe('development');
    expect(model.channels()).toEqual([
      expect.objectContaining({
        channel: 'prices',
        transport: 'sse',
        status: 'live',
        position: 'e2',
        received: 2,
        duplicates: 1,
        gaps: 0,
        reconnects: 0,
        handles: 1,
      }),
    ]);
    expect(model.events().map((e) => [e.id, e.dropped])).toEqual([
      ['e1', undefined],
      ['e1', 'duplicate'],
      ['e2', undefined],
    ]);
  });

  it('should mark events that arrive before the confirmation as dropped', () => {
    const records = liveChannel('prices');
    const confirmed = records.pop()!;
    const model = modelWith([
      ...records,
      event('prices', 'early'),
      confirmed,
      event('prices', 'e1'),
    ]);
    expect(model.events().map((e) => e.dropped)).toEqual(['unconfirmed', undefined]);
    expect(model.channels()[0]?.received).toBe(1);
  });

  it('should count reconnects and resume positions across a lost connection', () => {
    const model = modelWith([
      ...liveChannel('prices', 'sse'),
      event('prices', 'e1'),
      at({
        type: 'state',
        transport: 'sse',
        next: { status: 'waiting', attempt: 1, delay: 1500, error: new ConnectionError('network') },
        prev: { status: 'open' },
      }),
    ]);
    expect(model.channels()[0]?.status).toBe('reconnecting');
    const [sse] = model.connections();
    expect(sse?.state).toEqual({ status: 'waiting', attempt: 1, delay: 1500, error: 'network' });
    expect(sse?.history.at(-1)?.text).toBe('SSE lost (network), retry in 1.5 s, attempt 1');
    for (const r of [
      at({ type: 'join', channel: 'prices', transport: 'sse', since: 'e1' }),
      at({ type: 'state', transport: 'sse', next: { status: 'open' }, prev: { status: 'idle' } }),
      at({ type: 'frame', transport: 'sse', frame: { type: 'subscribed', channel: 'prices' } }),
    ])
      model.record(r);
    expect(model.channels()[0]).toMatchObject({ status: 'live', reconnects: 1, position: 'e1' });
    expect(model.connections()[0]?.opens).toBe(2);
  });

  it('should show a fallback: the transport avoided, why, until when, and the channel moved', () => {
    const until = Date.now() + 20_000;
    const model = modelWith([
      ...liveChannel('chat', 'websocket'),
      at({ type: 'fallback', transport: 'websocket', reason: 'http_status', until }),
      at({
        type: 'placement',
        channel: 'chat',
        from: 'websocket',
        to: 'sse',
        reason: 'websocket: http_status',
      }),
    ]);
    const ws = model.connections()[1];
    expect(ws?.avoided).toMatchObject({ reason: 'http_status', until });
    expect(model.channels()[0]).toMatchObject({
      transport: 'sse',
      // Confirmed before, on the other transport: as the client's snapshot says.
      status: 'reconnecting',
      moves: 1,
      lastMove: { from: 'websocket', to: 'sse', reason: 'websocket: http_status' },
    });
    const fallback = model.timeline().find((e) => e.kind === 'fallback');
    expect(fallback).toMatchObject({ transport: 'websocket', reason: 'http_status', until });
    expect(fallback?.text).toBe("WebSocket avoided (http_status): 'auto' channels move to SSE");
    expect(model.timeline().at(-1)?.text).toBe(
      'chat moved WebSocket → SSE (websocket: http_status)',
    );
    model.record(
      at({
        type: 'fallback',
        transport: 'websocket',
        reason: 'a connection stayed open',
        until: undefined,
      }),
    );
    expect(model.connections()[1]?.avoided).toBeUndefined();
  });

  it('should record gaps with their reason, and token asks without a token', () => {
    const model = modelWith([
      ...liveChannel('prices'),
      at({ type: 'gap', channel: 'prices', reason: 'epoch' }),
      at({ type: 'token', reason: 'reconnect', attempt: 1 }),
    ]);
    expect(model.channels()[0]).toMatchObject({ gaps: 1, lastGap: { reason: 'epoch' } });
    expect(model.timeline().find((e) => e.kind === 'gap')?.text).toBe(
      "prices gap (epoch): the server's history was replaced (a restart without it)",
    );
    expect(model.tokens()).toEqual([{ at: expect.any(Number), reason: 'reconnect', attempt: 1 }]);
  });

  it('should start a channel afresh when the client placed it again after dropping it', () => {
    const model = modelWith([...liveChannel('prices'), event('prices', 'e1')]);
    model.record(at({ type: 'unsubscribe', channel: 'prices' }));
    expect(model.channels()[0]?.status).toBe('released');
    for (const r of liveChannel('prices')) model.record(r);
    expect(model.channels()[0]).toMatchObject({ status: 'live', received: 0, reconnects: 0 });
  });

  it('should pick up channels that were live before it started', () => {
    const model = modelWith([event('metrics', 'e9', {}, { transport: 'websocket' })]);
    expect(model.channels()[0]).toMatchObject({
      channel: 'metrics',
      transport: 'websocket',
      status: 'live',
      received: 1,
      handles: undefined,
    });
  });

  it('should keep at most maxEvents events, and count every one', () => {
    const model = modelWith(liveChannel('prices'), { maxEvents: 100 });
    for (let i = 0; i < 250; i++) model.record(event('prices', `e${i}`));
    expect(model.counts()).toEqual({ held: 100, total: 250, missed: 0 });
    expect(model.events()[0]?.id).toBe('e150');
    expect(model.channels()[0]?.received).toBe(250);
  });

  it('should keep at most maxTimeline timeline entries', () => {
    const model = modelWith([], { maxTimeline: 10 });
    for (let i = 0; i < 30; i++) model.record(at({ type: 'token', reason: 'connect', attempt: i }));
    expect(model.timeline()).toHaveLength(10);
    expect(model.tokens()).toHaveLength(30);
  });

  it('should filter the log by channel and by type', () => {
    const model = modelWith([
      ...liveChannel('a'),
      ...liveChannel('b'),
      event('a', '1', {}, { type: 'x' }),
      event('b', '2', {}, { type: 'y' }),
      event('a', '3', {}, { type: 'y' }),
    ]);
    expect(model.eventKeys()).toEqual({ channels: ['a', 'b'], types: ['x', 'y'] });
    model.setFilter({ channel: 'a' });
    expect(model.events().map((e) => e.id)).toEqual(['1', '3']);
    model.setFilter({ type: 'y' });
    expect(model.events().map((e) => e.id)).toEqual(['3']);
    model.setFilter({ channel: undefined });
    expect(model.events().map((e) => e.id)).toEqual(['2', '3']);
  });

  it('should freeze the log while paused, count what arrives, and clear it', () => {
    const model = modelWith([...liveChannel('a'), event('a', '1')]);
    model.pause();
    model.record(event('a', '2'));
    model.record(event('a', '3'));
    expect(model.events().map((e) => e.id)).toEqual(['1']);
    expect(model.counts().missed).toBe(2);
    model.resume();
    expect(model.events().map((e) => e.id)).toEqual(['1', '2', '3']);
    model.clear();
    expect(model.events()).toEqual([]);
    expect(model.channels()[0]?.received).toBe(3);
  });

  it('should export what it shows as JSON', () => {
    const model = modelWith([
      ...liveChannel('a'),
      ...liveChannel('b'),
      event('a', '1', { n: 1 }),
      event('b', '2', { n: 2 }),
    ]);
    model.setFilter({ channel: 'b' });
    const exported = JSON.parse(JSON.stringify(model.export('leader')));
    expect(exported).toMatchObject({
      build: 'development',
      role: 'leader',
      filter: { channel: 'b' },
      events: [{ channel: 'b', id: '2', data: { n: 2 }, type: 'message', transport: 'sse' }],
    });
    expect(exported.connections.map((c: { state: unknown }) => c.state)).toEqual([
      { status: 'open' },
      { status: 'idle' },
    ]);
    expect(exported.channels).toHaveLength(2);
    expect(exported.timeline.length).toBeGreaterThan(5);
  });

  it('should measure latency from the time stamp in the data', () => {
    const model = modelWith([...liveChannel('a')]);
    const stamped = event('a', '1', { sentAt: 0 });
    model.record({ ...stamped, at: 250 } as typeof stamped);
    model.record(event('a', '2', { nothing: true }));
    expect(model.events().map((e) => e.latency)).toEqual([250, undefined]);
    const custom = createModel(idle, { sentAt: ({ data }) => (data as { at: number }).at });
    for (const r of liveChannel('a')) custom.record(r);
    const e = event('a', '1', { at: 1000 });
    custom.record({ ...e, at: 1040 } as typeof e);
    expect(custom.events()[0]?.latency).toBe(40);
  });

  it('should read sentAt or ts, as ms or ISO 8601', () => {
    const read = (data: unknown) => defaultSentAt({ channel: 'c', type: 't', data });
    expect(read({ sentAt: 5 })).toBe(5);
    expect(read({ ts: '1970-01-01T00:00:01.000Z' })).toBe(1000);
    expect(read({ ts: 'yesterday' })).toBeUndefined();
    expect(read('text')).toBeUndefined();
    expect(toTime(Number.NaN)).toBeUndefined();
  });

  it('should work from state and error events alone with a production build', () => {
    const model = createModel(idle, { now: () => 42 });
    model.state({
      transport: 'sse',
      next: { status: 'connecting', attempt: 0 },
      prev: { status: 'idle' },
    });
    model.error({ error: new ConnectionError('bad_message') });
    expect(model.build).toBe('production');
    expect(model.connections()[0]).toMatchObject({ state: { status: 'connecting' }, since: 42 });
    expect(model.timeline().map((e) => e.kind)).toEqual(['state', 'error']);
    expect(model.channels()).toEqual([]);
  });

  it('should not count a state change twice in the development build', () => {
    const model = modelWith();
    const before = model.timeline().length;
    model.state({ transport: 'sse', next: { status: 'open' }, prev: { status: 'idle' } });
    model.error({ error: new ConnectionError('bad_message') });
    expect(model.timeline()).toHaveLength(before);
  });

  it('should keep at most 200 channels, letting released ones go first', () => {
    const model = createModel(idle);
    model.record(at({ type: 'subscribe', channel: 'kept', options: {} }));
    for (let i = 0; i < 250; i++) {
      model.record(at({ type: 'subscribe', channel: `job/${i}`, options: {} }));
      model.record(at({ type: 'unsubscribe', channel: `job/${i}` }));
    }
    const names = model.channels().map((c) => c.channel);
    expect(names).toHaveLength(200);
    expect(names).toContain('kept');
    expect(names).toContain('job/249');
  });

  it('should tell listeners of every change and stop when asked', () => {
    const model = createModel(idle);
    let calls = 0;
    const off = model.subscribe(() => calls++);
    model.record(at({ type: 'token', reason: 'connect', attempt: 0 }));
    off();
    model.record(at({ type: 'token', reason: 'connect', attempt: 0 }));
    expect(calls).toBe(1);
  });
});
