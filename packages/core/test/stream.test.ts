import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  openSseStream,
  openStream,
  openWebSocketStream,
  type Stream,
  type StreamOptions,
} from '../src/stream';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { FakeSocket, fakeSseFetch } from './fakes';
import { fakeEnvironment } from './helpers';

const tick = async (n = 6) => {
  for (let i = 0; i < n; i++) await vi.advanceTimersByTimeAsync(0);
};

let stream: Stream | undefined;
let net: ReturnType<typeof fakeSseFetch>;

function open(options: StreamOptions = {}) {
  net = fakeSseFetch();
  stream = openStream('http://127.0.0.1:1/events', {
    fetch: net.fetch,
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    environment: fakeEnvironment().env,
    retryDelay: () => 100,
    ...options,
  });
  return stream;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => {
  stream?.close();
  stream = undefined;
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('openStream over SSE', () => {
  it('should deliver messages and resume with Last-Event-ID and a fresh token', async () => {
    let n = 0;
    const s = open({ getToken: () => `t${++n}` });
    const got: unknown[] = [];
    s.on('message', (m) => got.push([m.event, m.data, m.id]));
    await tick();
    net.last().push('hello', '7');
    net.last().end();
    await tick();
    expect(got).toEqual([['message', 'hello', '7']]);
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    expect(net.streams).toHaveLength(2);
    expect(net.last().headers).toMatchObject({ 'last-event-id': '7', authorization: 'Bearer t2' });
    expect(s.lastEventId()).toBe('7');
  });

  it('should resume with Last-Event-ID from a block with only an id', async () => {
    const s = open();
    await tick();
    net.last().push('first', '1');
    net.last().block([], '2');
    net.last().end();
    await tick();
    expect(s.lastEventId()).toBe('2');
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    expect(net.streams).toHaveLength(2);
    expect(net.last().headers).toMatchObject({ 'last-event-id': '2' });
  });

  it('should resume without Last-Event-ID after a block with an empty id', async () => {
    const s = open({ lastEventId: '0' });
    const body = 'id: 1\ndata: first\n\nid\n\n';
    net.responses.push(new Response(body, { headers: { 'content-type': 'text/event-stream' } }));
    const got: unknown[] = [];
    s.on('message', (m) => got.push([m.data, m.id]));
    await tick();
    expect(got).toEqual([['first', '1']]);
    expect(s.lastEventId()).toBe('');
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    // The queued first response left no stream behind: this one is the reconnection.
    expect(net.streams).toHaveLength(1);
    expect(net.last().headers).not.toHaveProperty('last-event-id');
  });

  it('should stop on 204 and on a 404, and retry a 503', async () => {
    const s = open();
    net.responses.push(new Response(null, { status: 503 }));
    await tick();
    expect(s.getState()).toMatchObject({ status: 'waiting', error: { code: 'http_status' } });
    net.responses.push(new Response(null, { status: 204 }));
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    expect(s.getState()).toMatchObject({ status: 'failed', error: { code: 'no_content' } });
  });

  it('should stop with a clear error on a wrong content type', async () => {
    const errors: string[] = [];
    const s = open();
    s.on('error', ({ error }) => errors.push(error.code));
    net.responses.push(new Response('<html>', { headers: { 'content-type': 'text/html' } }));
    await tick();
    expect(s.getState().status).toBe('failed');
    expect(errors).toEqual(['bad_content_type']);
  });

  it('should reconnect when idle longer than idleTimeout', async () => {
    const s = open({ idleTimeout: 1000 });
    await tick();
    expect(s.getState().status).toBe('open');
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.getState()).toMatchObject({ status: 'waiting', error: { code: 'heartbeat_timeout' } });
  });
});

describe('openStream over WebSocket', () => {
  it('should send the auth message first and deliver raw messages', async () => {
    const s = open({
      transport: 'websocket',
      getToken: () => 'tok',
      authMessage: (token) => `AUTH ${token}`,
    });
    const got: unknown[] = [];
    s.on('message', (m) => got.push(m.data));
    await tick();
    const ws = FakeSocket.last();
    ws.send = function (this: FakeSocket, data: string) {
      this.sent.push(data);
    };
    ws.open();
    ws.receive('plain text');
    expect(ws.sent).toEqual(['AUTH tok']);
    expect(got).toEqual(['plain text']);
    expect(s.send('hi')).toBe(true);
    expect(ws.url).toBe('http://127.0.0.1:1/events');
  });

  it('should reconnect after the socket drops', async () => {
    const s = open({ transport: 'websocket' });
    await tick();
    FakeSocket.last().open();
    FakeSocket.last().drop(1011);
    expect(s.getState()).toMatchObject({
      status: 'waiting',
      error: { code: 'closed', status: 1011 },
    });
    await vi.advanceTimersByTimeAsync(100);
    await tick();
    expect(FakeSocket.all).toHaveLength(2);
  });
});

describe('openSseStream and openWebSocketStream', () => {
  const common = () => ({
    fetch: net.fetch,
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    environment: fakeEnvironment().env,
    retryDelay: () => 100,
  });

  it('should open an SSE stream, and never a socket', async () => {
    net = fakeSseFetch();
    stream = openSseStream('http://127.0.0.1:1/events', common());
    const got: unknown[] = [];
    stream.on('message', (m) => got.push([m.data, m.id]));
    await tick();
    net.last().push('hello', '7');
    await tick();
    expect(got).toEqual([['hello', '7']]);
    expect(stream.lastEventId()).toBe('7');
    expect(FakeSocket.all).toHaveLength(0);
  });

  it('should open a WebSocket, and never a stream', async () => {
    net = fakeSseFetch();
    stream = openWebSocketStream('ws://127.0.0.1:1/socket', common());
    const got: unknown[] = [];
    stream.on('message', (m) => got.push(m.data));
    await tick();
    FakeSocket.last().open();
    FakeSocket.last().receive('plain text');
    expect(got).toEqual(['plain text']);
    expect(net.streams).toHaveLength(0);
  });
});
