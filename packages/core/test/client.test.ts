import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientOptions } from '../src/client';
import { type Client, createClient } from '../src/client';
import type { TidewireError } from '../src/errors';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { event, FakeSocket, fakeSseFetch, subscribed, welcome } from './fakes';
import { fakeEnvironment } from './helpers';

const tick = async (n = 6) => {
  for (let i = 0; i < n; i++) await vi.advanceTimersByTimeAsync(0);
};

let client: Client<{ prices: number; chat: { text: string } }> | undefined;
let net: ReturnType<typeof fakeSseFetch>;

function make(options: Partial<ClientOptions> = {}) {
  const f = fakeEnvironment();
  net = fakeSseFetch();
  const c = createClient<{ prices: number; chat: { text: string } }>({
    url: 'http://127.0.0.1:1/tw/',
    fetch: net.fetch,
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    getToken: () => 'tok',
    environment: f.env,
    retryDelay: () => 100,
    ...options,
  });
  client = c;
  return { client: c, ...f };
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => {
  client?.close();
  client = undefined;
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('createClient over SSE', () => {
  it('should open one stream for channels subscribed in one tick, token in a header only', async () => {
    const { client } = make();
    client.subscribe('prices', { since: 'e-5' });
    client.subscribe('chat', { transport: 'sse' });
    await tick();
    expect(net.streams).toHaveLength(1);
    const s = net.last();
    // Protocol version 2, batched; the channel set in the body, whatever its size.
    expect(s.url).toBe('http://127.0.0.1:1/tw/sse');
    expect(s.method).toBe('POST');
    expect(s.body).toBe('v=2&batch=1&channel=prices@e-5&channel=chat');
    expect(s.headers.authorization).toBe('Bearer tok');
    expect(s.headers['content-type']).toBeUndefined();
    expect(s.body).not.toContain('tok');
  });

  it('should deliver typed events, drop duplicates by id and count them', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const seen: number[] = [];
    sub.on('event', (e) => seen.push(e.data));
    await tick();
    const s = net.last();
    s.push(welcome);
    s.push(subscribed('prices'));
    s.push(event('prices', 'e-1', 1), 'e-1');
    s.push(event('prices', 'e-1', 1), 'e-1');
    s.push(event('prices', 'e-2', 2), 'e-2');
    await tick();
    expect(seen).toEqual([1, 2]);
    expect(sub.getSnapshot()).toMatchObject({
      status: 'live',
      transport: 'sse',
      lastEventId: 'e-2',
      received: 2,
      duplicates: 1,
    });
  });

  it('should keep the snapshot object until something changes', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const changes = vi.fn();
    sub.on('change', changes);
    const a = sub.getSnapshot();
    expect(sub.getSnapshot()).toBe(a);
    await tick();
    net.last().push(welcome);
    net.last().push(event('prices', 'e-1'), 'e-1');
    await tick();
    expect(changes).toHaveBeenCalled();
    expect(sub.getSnapshot()).not.toBe(a);
  });

  it('should resume every channel from its last id after the stream drops', async () => {
    const { client } = make();
    client.subscribe('prices');
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('prices'));
    net.last().push(event('prices', 'e-3'), 'e-3');
    net.last().end();
    await tick();
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    expect(net.streams).toHaveLength(2);
    expect(net.last().channels).toEqual(['prices@e-3']);
  });

  it('should resume a channel that saw no event from the position the server confirmed', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    await tick();
    net.last().push(welcome);
    net.last().push({ type: 'subscribed', channel: 'prices', position: 'e-7' });
    await tick();
    expect(sub.getSnapshot().lastEventId).toBe('e-7');
    net.last().end();
    await tick();
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    expect(net.last().channels).toEqual(['prices@e-7']);
  });

  it('should keep its own position over the one the server confirms', async () => {
    const { client } = make();
    const sub = client.subscribe('prices', { since: 'e-2' });
    await tick();
    net.last().push(welcome);
    net.last().push({ type: 'subscribed', channel: 'prices', position: 'e-7' });
    await tick();
    expect(sub.getSnapshot().lastEventId).toBe('e-2');
  });

  it('should raise gap and keep going', async () => {
    const { client } = make();
    const sub = client.subscribe('prices', { since: 'old-1' });
    const gaps = vi.fn();
    sub.on('gap', gaps);
    await tick();
    net.last().push(welcome);
    net.last().push({ type: 'gap', channel: 'prices', reason: 'epoch' });
    await tick();
    expect(gaps).toHaveBeenCalledWith({ channel: 'prices', reason: 'epoch' });
    expect(sub.getSnapshot().gaps).toBe(1);
  });

  it('should reopen the stream when the channel set changes, closing the old one first', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const ids: string[] = [];
    sub.on('event', (e) => ids.push(e.id));
    await tick();
    const old = net.last();
    old.push(welcome);
    old.push(subscribed('prices'));
    old.push(event('prices', 'e-1'), 'e-1');
    await tick();
    client.subscribe('chat', { transport: 'sse' });
    await tick();
    // Closed before the new request is built: its position is where delivery stopped.
    expect(old.aborted).toBe(true);
    expect(net.streams).toHaveLength(2);
    expect(net.last().channels).toEqual(['prices@e-1', 'chat']);
    net.last().block([welcome, subscribed('prices'), subscribed('chat')]);
    net.last().push(event('prices', 'e-2'), 'e-2');
    await tick();
    expect(ids).toEqual(['e-1', 'e-2']);
    expect(client.getState().sse.status).toBe('open');
  });

  it('should isolate a throwing listener and report it', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const errors: TidewireError[] = [];
    client.on('error', ({ error }) => errors.push(error));
    sub.on('event', () => {
      throw new Error('listener bug');
    });
    const good = vi.fn();
    sub.on('event', good);
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('prices'));
    net.last().push(event('prices', 'e-1'), 'e-1');
    await tick();
    expect(good).toHaveBeenCalledTimes(1);
    expect(errors[0]?.code).toBe('listener_failed');
  });

  it('should remove one registration per disposer, even of a listener registered twice', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const listener = vi.fn();
    const first = sub.on('event', listener);
    sub.on('event', listener);
    const change = vi.fn();
    sub.on('change', change);
    first();
    first();
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('prices'));
    net.last().push(event('prices', 'e-1'), 'e-1');
    await tick();
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith(expect.objectContaining({ id: 'e-1' }));
    // Each type hears its own events only.
    expect(change).toHaveBeenCalled();
    expect(change.mock.calls.every(([arg]) => arg === undefined)).toBe(true);
  });

  it('should report a malformed frame and keep the stream', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const errors: string[] = [];
    client.on('error', ({ error }) => errors.push(error.code));
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('prices'));
    // A control frame that is not JSON, data that is not JSON; the unknown ones change nothing.
    net.last().raw('event: @subscribed\ndata: {not json\n\n');
    net.last().raw('event: prices\ndata: e-1 {not json\n\n');
    net.last().raw('event: @mystery\ndata: {}\n\ndata: {"type":"event"}\n\n');
    net.last().push(event('prices', 'e-2'), 'e-2');
    await tick();
    expect(errors).toEqual(['bad_message', 'bad_message']);
    expect(sub.getSnapshot()).toMatchObject({ received: 1, lastEventId: 'e-2' });
  });

  it('should hand over data as the text it arrived as, with raw: true', async () => {
    const { client } = make();
    const sub = client.subscribe('prices', { raw: true });
    const seen: unknown[] = [];
    sub.on('event', (e) => seen.push(e.data));
    await tick();
    net.last().block([welcome, subscribed('prices'), event('prices', 'e-1', { p: 1 })]);
    net.last().raw('event: prices\ndata: e-2 {not json, but raw\n\n');
    await tick();
    expect(seen).toEqual(['{"p":1}', '{not json, but raw']);
  });

  it('should read event types and runs of several channels in one chunk', async () => {
    const { client } = make();
    const prices = client.subscribe('prices');
    const chat = client.subscribe('chat');
    const seen: string[] = [];
    prices.on('event', (e) =>
      seen.push(`${e.channel} ${e.type} ${e.id} ${JSON.stringify(e.data)}`),
    );
    chat.on('event', (e) => seen.push(`${e.channel} ${e.type} ${e.id} ${JSON.stringify(e.data)}`));
    await tick();
    net
      .last()
      .block([
        welcome,
        subscribed('prices'),
        subscribed('chat'),
        event('prices', 'e-1', 1, 'tick'),
        event('prices', 'e-2', 2, 'tick'),
        event('chat', 'e-3', { text: 'a b' }),
        event('prices', 'e-4', 4),
      ]);
    await tick();
    expect(seen).toEqual([
      'prices tick e-1 1',
      'prices tick e-2 2',
      'chat message e-3 {"text":"a b"}',
      'prices message e-4 4',
    ]);
  });

  it('should take every frame of a block that holds several, one per data line', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const seen: unknown[] = [];
    const errors: string[] = [];
    sub.on('event', (e) => seen.push(e.data));
    client.on('error', ({ error }) => errors.push(error.code));
    await tick();
    net.last().block([welcome, subscribed('prices'), event('prices', 'e-1', 1)], 'e-1');
    net.last().raw('event: prices\ndata: e-1 1\ndata: e-x {not json\ndata: e-2 2\nid: e-2\n\n');
    await tick();
    expect(seen).toEqual([1, 2]);
    expect(errors).toEqual(['bad_message']);
    expect(sub.getSnapshot()).toMatchObject({ status: 'live', lastEventId: 'e-2', duplicates: 1 });
  });

  it('should tell change listeners once per run of a channel, even when its last line is bad', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const changes: Array<string | undefined> = [];
    const seen: Array<string | undefined> = [];
    sub.on('change', () => changes.push(sub.getSnapshot().lastEventId));
    // Within the run, the snapshot already shows each event as it is delivered.
    sub.on('event', () => seen.push(sub.getSnapshot().lastEventId));
    await tick();
    net.last().block([welcome, subscribed('prices')]);
    await tick();
    changes.length = 0;
    net.last().raw('event: prices\ndata: e-1 1\ndata: e-2 2\ndata: e-3 3\n\n');
    await tick();
    expect(seen).toEqual(['e-1', 'e-2', 'e-3']);
    expect(changes).toEqual(['e-3']);
    net.last().raw('event: prices\ndata: e-4 4\ndata: e-5 {not json\n\n');
    await tick();
    expect(changes).toEqual(['e-3', 'e-4']);
    expect(sub.getSnapshot()).toMatchObject({ received: 4, lastEventId: 'e-4' });
  });

  it('should stop reading a block at an error that ends the stream', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    await tick();
    net.last().push(welcome);
    net
      .last()
      .block([
        { type: 'error', code: 'token_expired', message: 'expired' },
        event('prices', 'e-1', 1),
      ]);
    await tick();
    expect(sub.getSnapshot().received).toBe(0);
    expect(client.getState().sse.status).not.toBe('open');
  });

  it('should stop with a fatal error on 403 and tell the subscription', async () => {
    const { client } = make();
    net.responses.push(new Response('{}', { status: 403 }));
    const sub = client.subscribe('prices');
    const errors: string[] = [];
    sub.on('error', ({ error }) => errors.push(error.code));
    await tick();
    expect(errors).toEqual(['forbidden']);
    expect(sub.getSnapshot()).toMatchObject({ status: 'failed', error: { code: 'forbidden' } });
    expect(client.getState().sse.status).toBe('failed');
  });

  it('should keep the connection through a quick unsubscribe/subscribe (StrictMode)', async () => {
    const { client } = make();
    client.subscribe('prices').unsubscribe();
    const sub = client.subscribe('prices');
    await tick();
    expect(net.streams).toHaveLength(1);
    sub.unsubscribe();
    expect(sub.getSnapshot().status).toBe('closed');
    await vi.advanceTimersByTimeAsync(1000);
    await tick();
    expect(net.last().aborted).toBe(true);
    expect(client.getState().sse.status).toBe('idle');
  });
});

describe('createClient over WebSocket', () => {
  it('should send auth first, then subscribe with positions after the welcome', async () => {
    const { client } = make();
    client.subscribe('prices', { transport: 'websocket', since: 'e-2' });
    client.subscribe('chat', { transport: 'websocket' });
    await tick();
    expect(FakeSocket.all).toHaveLength(1);
    const ws = FakeSocket.last();
    // Protocol version 2: events as lines.
    expect(ws.url).toBe('ws://127.0.0.1:1/tw/ws?v=2');
    ws.welcome();
    expect(ws.sent).toEqual([
      { type: 'auth', token: 'tok' },
      { type: 'subscribe', channel: 'prices', since: 'e-2' },
      { type: 'subscribe', channel: 'chat' },
    ]);
  });

  it('should take every frame of a message that holds several, one per line', async () => {
    const { client } = make();
    const sub = client.subscribe('prices', { transport: 'websocket' });
    const seen: unknown[] = [];
    sub.on('event', (e) => seen.push(e.data));
    await tick();
    const ws = FakeSocket.last();
    ws.welcome();
    ws.receiveAll([subscribed('prices'), event('prices', 'e-1', 1), event('prices', 'e-2', 2)]);
    const sent = client.publish('prices', 3);
    await tick();
    const ref = (ws.sent.at(-1) as { ref: string }).ref;
    ws.receive(`prices  e-3 3\n{"type":"ack","ref":"${ref}","id":"e-3"}`);
    await expect(sent).resolves.toEqual({ id: 'e-3' });
    expect(seen).toEqual([1, 2, 3]);
    expect(sub.getSnapshot()).toMatchObject({ status: 'live', lastEventId: 'e-3' });
  });

  it('should tell change listeners once per run of a channel in a message', async () => {
    const { client } = make();
    const prices = client.subscribe('prices', { transport: 'websocket' });
    const chat = client.subscribe('chat', { transport: 'websocket' });
    const changes: string[] = [];
    const seen: Array<string | undefined> = [];
    prices.on('change', () => changes.push(`prices ${prices.getSnapshot().lastEventId}`));
    chat.on('change', () => changes.push(`chat ${chat.getSnapshot().lastEventId}`));
    // Within the run, the snapshot already shows each event as it is delivered.
    prices.on('event', () => seen.push(prices.getSnapshot().lastEventId));
    await tick();
    const ws = FakeSocket.last();
    ws.welcome();
    ws.receiveAll([subscribed('prices'), subscribed('chat')]);
    changes.length = 0;
    ws.receiveAll([
      event('prices', 'e-1', 1),
      event('prices', 'e-2', 2),
      event('chat', 'e-3', 3),
      event('prices', 'e-4', 4),
      event('prices', 'e-5', 5),
    ]);
    await tick();
    expect(seen).toEqual(['e-1', 'e-2', 'e-4', 'e-5']);
    expect(changes).toEqual(['prices e-2', 'chat e-3', 'prices e-5']);
    expect(prices.getSnapshot()).toMatchObject({
      received: 4,
      lastEventId: 'e-5',
      lastEvent: { id: 'e-5', data: 5 },
    });
  });

  it('should deliver nothing of a channel before the server confirms its subscription', async () => {
    const { client } = make();
    const sub = client.subscribe('prices', { transport: 'websocket', since: 'e-1' });
    const ids: string[] = [];
    sub.on('event', (e) => ids.push(e.id));
    await tick();
    const ws = FakeSocket.last();
    ws.welcome();
    // Left over from a subscription being replaced: the replay after `subscribed` has it.
    ws.receive(event('prices', 'e-2'));
    ws.receive(subscribed('prices'));
    ws.receive(event('prices', 'e-2'));
    ws.receive(event('prices', 'e-3'));
    await tick();
    expect(ids).toEqual(['e-2', 'e-3']);
    expect(sub.getSnapshot()).toMatchObject({ received: 2, duplicates: 0, lastEventId: 'e-3' });
  });

  it('should publish with acknowledgement, and reject by ref on error', async () => {
    const { client } = make();
    client.subscribe('chat', { transport: 'websocket' });
    await tick();
    const ws = FakeSocket.last();
    const queued = client.publish('chat', { text: 'early' });
    ws.welcome();
    const refused = client.publish('chat', { text: 'no' }, { event: 'note' });
    const sent = ws.sent.filter((f) => (f as { type: string }).type === 'publish');
    expect(sent).toEqual([
      { type: 'publish', ref: '1', channel: 'chat', data: { text: 'early' } },
      { type: 'publish', ref: '2', channel: 'chat', event: 'note', data: { text: 'no' } },
    ]);
    ws.receive({ type: 'ack', ref: '1', id: 'e-7' });
    ws.receive({ type: 'error', code: 'rate_limited', message: 'slow down', ref: '2' });
    expect(await queued).toEqual({ id: 'e-7' });
    await expect(refused).rejects.toMatchObject({ name: 'PublishError', code: 'rate_limited' });
  });

  it('should bound the outgoing queue and reject unconfirmed publishes on loss', async () => {
    const { client } = make({ maxQueue: 1 });
    client.subscribe('chat', { transport: 'websocket' });
    await tick();
    const ws = FakeSocket.last();
    ws.welcome();
    const first = client.publish('chat', { text: 'a' });
    await expect(client.publish('chat', { text: 'b' })).rejects.toMatchObject({
      code: 'queue_full',
    });
    ws.drop(1006);
    await expect(first).rejects.toMatchObject({ code: 'unconfirmed' });
  });

  it('should refresh the token in-band without reconnecting', async () => {
    let n = 0;
    const { client } = make({ getToken: () => `tok${++n}` });
    client.subscribe('chat', { transport: 'websocket' });
    await tick();
    const ws = FakeSocket.last();
    ws.welcome();
    ws.receive({ type: 'refresh', expiresIn: 30000 });
    await tick();
    expect(ws.sent).toContainEqual({ type: 'auth', token: 'tok2' });
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('should retry at once with a fresh token after 4401', async () => {
    const reasons: string[] = [];
    const { client } = make({
      getToken: ({ reason }) => {
        reasons.push(reason);
        return 'tok';
      },
    });
    client.subscribe('chat', { transport: 'websocket' });
    await tick();
    FakeSocket.last().open();
    FakeSocket.last().drop(4401, 'expired');
    await tick();
    expect(reasons).toEqual(['connect', 'expired']);
    expect(FakeSocket.all).toHaveLength(2);
  });
});

describe('routing', () => {
  it('should move an auto channel to WebSocket when the app publishes on it, resuming and dropping the old route', async () => {
    const { client } = make();
    const sub = client.subscribe('chat');
    const ids: string[] = [];
    sub.on('event', (e) => ids.push(e.id));
    await tick();
    const s = net.last();
    s.push(welcome);
    s.push(subscribed('chat'));
    s.push(event('chat', 'e-1'), 'e-1');
    await tick();
    const published = client.publish('chat', { text: 'hi' });
    await tick();
    expect(sub.getSnapshot().transport).toBe('websocket');
    s.push(event('chat', 'e-2'), 'e-2');
    const ws = FakeSocket.last();
    ws.welcome();
    expect(ws.sent).toContainEqual({ type: 'subscribe', channel: 'chat', since: 'e-1' });
    ws.receive(subscribed('chat'));
    ws.receive(event('chat', 'e-2'));
    ws.receive({ type: 'ack', ref: '1', id: 'e-3' });
    ws.receive(event('chat', 'e-3'));
    await tick();
    expect(ids).toEqual(['e-1', 'e-2', 'e-3']);
    expect(await published).toEqual({ id: 'e-3' });
    expect(s.aborted).toBe(true);
  });

  it('should fall back to SSE + POST when WebSocket fails twice before its welcome', async () => {
    const { client } = make();
    const sub = client.subscribe('chat', { duplex: true });
    await tick();
    FakeSocket.last().drop(1006);
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    FakeSocket.last().drop(1006);
    await tick();
    expect(sub.getSnapshot().transport).toBe('sse');
    // The move continues the client's schedule: SSE waits the current delay before its first attempt.
    expect(client.getState().sse).toMatchObject({ status: 'waiting', attempt: 2, delay: 100 });
    expect(net.streams).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    expect(net.streams).toHaveLength(1);
    expect(client.getState().websocket.status).toBe('idle');
    expect(await client.publish('chat', { text: 'x' })).toEqual({ id: 'p1' });
    expect(net.posts[0]).toMatchObject({
      url: 'http://127.0.0.1:1/tw/publish',
      headers: { authorization: 'Bearer tok' },
      body: { channel: 'chat', data: { text: 'x' } },
    });
  });
});

describe('fallback and deliberate server closes', () => {
  it.each([
    ['going away', 1001],
    ['slow consumer', 4409],
    ['token expiry', 4401],
  ])('should stay on WebSocket when the server closes it on purpose (%s)', async (_why, code) => {
    const { client } = make();
    const sub = client.subscribe('chat', { duplex: true });
    await tick();
    for (let i = 0; i < 3; i++) {
      FakeSocket.last().welcome();
      FakeSocket.last().drop(code);
      await vi.advanceTimersByTimeAsync(100);
      await tick();
    }
    expect(sub.getSnapshot().transport).toBe('websocket');
    expect(net.streams).toHaveLength(0);
  });
});

describe('a stream held back by a buffering proxy', () => {
  it('should end as buffered 4 s after its request without a welcome, and move auto channels to WebSocket', async () => {
    const { client } = make();
    const sub = client.subscribe('prices');
    const states: string[] = [];
    client.on('state', ({ transport, next }) => {
      if (transport === 'sse')
        states.push('error' in next ? `${next.status} ${next.error?.code}` : next.status);
    });
    await tick();
    await vi.advanceTimersByTimeAsync(3999);
    expect(net.last().aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await tick();
    expect(states).toContain('waiting buffered');
    expect(sub.getSnapshot().transport).toBe('websocket');
    expect(net.streams.every((s) => s.aborted)).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    FakeSocket.last().welcome();
    expect(FakeSocket.last().sent).toContainEqual({ type: 'subscribe', channel: 'prices' });
  });

  it('should poll a channel that stays on SSE: a request per batch, at once, losing nothing', async () => {
    const { client } = make();
    const sub = client.subscribe('prices', { transport: 'sse' });
    const ids: string[] = [];
    sub.on('event', (e) => ids.push(e.id));
    await tick();
    await vi.advanceTimersByTimeAsync(4000);
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    // The first poll of a connection asks to be answered at once, so that it opens in time.
    const first = net.last();
    expect(first.params.get('mode')).toBe('poll');
    expect(first.params.get('wait')).toBe('0');
    first.block([welcome, { type: 'subscribed', channel: 'prices', position: 'e-0' }]);
    first.end();
    await tick();
    expect(client.getState().sse.status).toBe('open');
    expect(sub.getSnapshot().status).toBe('live');
    // The next poll goes out at once, from the position it has, and may be held.
    const second = net.last();
    expect(second).not.toBe(first);
    expect(second.channels).toEqual(['prices@e-0']);
    expect(second.params.get('wait')).toBeNull();
    second.block([welcome, subscribed('prices'), event('prices', 'e-1'), event('prices', 'e-2')]);
    second.end();
    await tick();
    const third = net.last();
    expect(third.channels).toEqual(['prices@e-2']);
    third.block([welcome, subscribed('prices'), event('prices', 'e-3')]);
    third.end();
    await tick();
    expect(ids).toEqual(['e-1', 'e-2', 'e-3']);
    expect(sub.getSnapshot()).toMatchObject({ status: 'live', reconnects: 0 });
    expect(client.getState().sse.status).toBe('open');
  });

  it('should poll when WebSocket is blocked too, and stream again once the memory expires', async () => {
    const { client } = make({ fallback: { ttl: 60_000 } });
    const sub = client.subscribe('prices');
    await tick();
    await vi.advanceTimersByTimeAsync(4000);
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    for (let i = 0; i < 2; i++) {
      FakeSocket.last().drop(1006);
      await vi.advanceTimersByTimeAsync(100);
      await tick();
    }
    expect(sub.getSnapshot().transport).toBe('sse');
    expect(net.last().params.get('mode')).toBe('poll');
    net.last().block([welcome, subscribed('prices')]);
    await tick();
    expect(sub.getSnapshot().status).toBe('live');
    // A stable poll lifts nothing: SSE keeps polling (each held 10 s, as a server does when
    // nothing happens), WebSocket stays avoided, until the memory of buffering expires.
    const modes: (string | null)[] = [];
    for (let t = 0; t < 70_000; t += 10_000) {
      await vi.advanceTimersByTimeAsync(10_000);
      net.last().raw(': ping\n\n');
      net.last().end();
      await tick();
      modes.push(net.last().params.get('mode'));
    }
    expect(modes.slice(0, 5)).toEqual(['poll', 'poll', 'poll', 'poll', 'poll']);
    expect(modes.at(-1)).toBeNull();
    expect(sub.getSnapshot().transport).toBe('sse');
  });
});

describe('close', () => {
  it('should leave no timer, environment listener, socket or request behind', async () => {
    const logs: string[] = [];
    const { client, listeners } = make({
      getToken: () => 'secret-token',
      logger: (message, details) => logs.push(message, JSON.stringify(details)),
    });
    client.subscribe('prices');
    client.subscribe('chat', { transport: 'websocket' });
    await tick();
    FakeSocket.last().welcome();
    net.last().push(welcome);
    const pending = client.publish('chat', { text: 'x' });
    net.responses.push('hang');
    const posted = (client as unknown as Client<Record<string, unknown>>).publish('other', 1);
    await tick();
    client.close();
    await expect(pending).rejects.toMatchObject({ code: 'client_closed' });
    await expect(posted).rejects.toMatchObject({ code: 'client_closed' });
    expect(listeners.size).toBe(0);
    expect(FakeSocket.last().readyState).toBe(3);
    expect(net.streams.every((s) => s.aborted)).toBe(true);
    expect(client.getState()).toMatchObject({
      sse: { status: 'idle' },
      websocket: { status: 'idle' },
    });
    expect(logs.join(' ')).not.toContain('secret-token');
    expect(logs.length).toBeGreaterThan(0);
  });
});

describe('after close', () => {
  it('should open nothing when handles are released later', async () => {
    const { client } = make();
    const a = client.subscribe('chat', { transport: 'websocket' });
    const b = client.subscribe('chat', { transport: 'sse' });
    await tick();
    client.close();
    const sockets = FakeSocket.all.length;
    b.unsubscribe();
    a.unsubscribe();
    await tick();
    expect(FakeSocket.all).toHaveLength(sockets);
    expect(client.getState().websocket.status).toBe('idle');
    expect(() => client.subscribe('chat')).toThrow(
      expect.objectContaining({ code: 'client_closed' }),
    );
  });
});

describe('HTTP publish', () => {
  it('should refresh the token once after a 401 and report other statuses as typed errors', async () => {
    let n = 0;
    const { client } = make({ getToken: () => `t${++n}` });
    net.responses.push(new Response('{"code":"token_expired"}', { status: 401 }));
    expect(await client.publish('chat', { text: 'a' })).toEqual({ id: 'p2' });
    expect(net.posts.map((p) => p.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
    net.responses.push(new Response('{"code":"too_large","message":"big"}', { status: 413 }));
    await expect(client.publish('chat', { text: 'b' })).rejects.toMatchObject({
      name: 'PublishError',
      code: 'too_large',
      status: 413,
    });
  });

  it('should reject after close without a request', async () => {
    const { client } = make();
    client.close();
    await expect(client.publish('chat', { text: 'a' })).rejects.toMatchObject({
      code: 'client_closed',
    });
    expect(net.posts).toHaveLength(0);
  });
});
