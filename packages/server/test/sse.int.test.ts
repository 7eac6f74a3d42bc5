import { describe, expect, it, vi } from 'vitest';
import { AuthError } from '../src/index.js';
import { idsOf, startServer, type TestServer } from './utils/server.js';
import { errorBody, openSse, type SseClient } from './utils/sse-client.js';

describe('SSE endpoint', () => {
  it('should answer with the protocol headers, retry first and a ping right away', async () => {
    const server = await startServer({ retryMs: 2500 });
    const sse = await openSse(`${server.base}/sse?channel=a`);
    await sse.waitFor((f) => f.type === 'subscribed');
    expect(sse.status).toBe(200);
    expect(sse.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(sse.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(sse.headers.get('x-accel-buffering')).toBe('no');
    expect(sse.lines.slice(0, 2)).toEqual(['retry: 2500', ': ping']);
    expect(sse.frames()[0]).toMatchObject({
      type: 'welcome',
      epoch: expect.any(String),
      heartbeat: 15000,
    });
  });

  it('should send a ping comment every heartbeat', async () => {
    const server = await startServer({ heartbeatMs: 30 });
    const sse = await openSse(`${server.base}/sse?channel=a`);
    await vi.waitFor(() =>
      expect(sse.lines.filter((l) => l === ': ping').length).toBeGreaterThanOrEqual(3),
    );
  });

  it('should put the id of every event in an id line', async () => {
    const server = await startServer();
    const sse = await openSse(`${server.base}/sse?channel=a`);
    await sse.waitFor((f) => f.type === 'subscribed');
    const { id } = await server.tw.publish('a', 1);
    await sse.waitFor((f) => f.type === 'event');
    expect(sse.messages.at(-1)?.id).toBe(id);
    expect(sse.lastEventId()).toBe(id);
  });

  it('should resume every listed channel from Last-Event-ID', async () => {
    const server = await startServer();
    const { id } = await server.tw.publish('a', 'a1');
    server.tw.publish('b', 'b1');
    server.tw.publish('a', 'a2');
    const sse = await openSse(`${server.base}/sse?channel=a&channel=b`, {
      headers: { 'last-event-id': id },
    });
    await sse.waitFor((f) => f.type === 'event' && f.data === 'a2');
    expect(
      sse
        .frames()
        .filter((f) => f.type === 'event')
        .map((f) => 'data' in f && f.data),
    ).toEqual(['b1', 'a2']);
  });

  it('should prefer a channel position in the query over Last-Event-ID', async () => {
    const server = await startServer();
    const a1 = await server.tw.publish('a', 'a1');
    const a2 = await server.tw.publish('a', 'a2');
    server.tw.publish('a', 'a3');
    const sse = await openSse(`${server.base}/sse?channel=a@${a2.id}`, {
      headers: { 'last-event-id': a1.id },
    });
    await sse.waitFor((f) => f.type === 'event' && f.data === 'a3');
    expect(sse.frames().filter((f) => f.type === 'event')).toHaveLength(1);
  });

  it('should merge the replays of several channels in id order', async () => {
    const server = await startServer();
    const a0 = await server.tw.publish('a', 0);
    const b0 = await server.tw.publish('b', 0);
    const order = await idsOf(
      Array.from({ length: 6 }, (_, n) => server.tw.publish(n % 2 ? 'b' : 'a', n + 1)),
    );
    const sse = await openSse(`${server.base}/sse?channel=b@${b0.id}&channel=a@${a0.id}`);
    await sse.waitFor((f) => f.type === 'event' && f.data === 6);
    expect(sse.frames().flatMap((f) => (f.type === 'event' ? [f.id] : []))).toEqual(order);
    expect(sse.lastEventId()).toBe(order.at(-1));
  });

  it('should include expiresIn in welcome and end the stream with token_expired at expiry', async () => {
    const server = await startServer({
      authenticate: () => ({ principal: 'u', expiresAt: Date.now() + 150 }),
    });
    const sse = await openSse(`${server.base}/sse?channel=a`, {
      headers: { authorization: 'Bearer t' },
    });
    const welcome = await sse.waitFor((f) => f.type === 'welcome');
    expect(welcome).toMatchObject({ expiresIn: expect.any(Number) });
    await sse.ended;
    expect(sse.frames().at(-1)).toMatchObject({ type: 'error', code: 'token_expired' });
    expect((await server.tw.stats()).connections.sse).toBe(0);
  });

  it.each([
    ['no channel', '', 'bad_request'],
    ['an invalid channel name', '?channel=bad%20name', 'invalid_channel'],
    ['a channel name over 128 characters', `?channel=${'x'.repeat(129)}`, 'invalid_channel'],
    ['an empty position', '?channel=a@', 'bad_request'],
    ['too many channels', '?channel=a&channel=b&channel=c', 'too_many_channels'],
  ])('should refuse %s with 400', async (_name, query, code) => {
    const server = await startServer({ limits: { maxChannelsPerConnection: 2 } });
    const response = await fetch(`${server.base}/sse${query}`);
    expect(response.status).toBe(400);
    expect(await errorBody(response)).toMatchObject({ code });
    expect((await server.tw.stats()).connections.sse).toBe(0);
  });

  it('should answer a wrong method with 405 and an unknown endpoint with 404', async () => {
    const server = await startServer();
    const put = await fetch(`${server.base}/sse?channel=a`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, OPTIONS');
    expect(await errorBody(put)).toMatchObject({ code: 'method_not_allowed' });
    const missing = await fetch(`${server.base}/nope`);
    expect(missing.status).toBe(404);
    expect(await errorBody(missing)).toMatchObject({ code: 'not_found' });
  });
});

/** The ids of the `event` frames received so far, in order. */
const eventIds = (sse: SseClient): string[] =>
  sse.frames().flatMap((f) => (f.type === 'event' ? [f.id] : []));

/**
 * Reopens `url` as a plain EventSource reconnects (the same URL, with
 * `Last-Event-ID` when the stream had an id), then publishes a last event on
 * `channel` and waits for it, so that anything sent twice would have arrived by then.
 */
async function reconnect(
  server: TestServer,
  url: string,
  lastEventId: string | undefined,
  channel: string,
): Promise<SseClient> {
  const headers: Record<string, string> =
    lastEventId === undefined ? {} : { 'last-event-id': lastEventId };
  const sse = await openSse(url, { headers });
  await sse.waitFor((f) => f.type === 'subscribed' && f.channel === channel);
  const { id } = await server.tw.publish(channel, 'last');
  await sse.waitFor((f) => f.type === 'event' && f.id === id);
  return sse;
}

describe('SSE stream ids', () => {
  it('should give a stream its start position as an id before any event, so that a cut loses nothing', async () => {
    const server = await startServer();
    const before = await server.tw.publish('elsewhere', 'x');
    const url = `${server.base}/sse?channel=a`;
    const first = await openSse(url);
    await first.waitFor((f) => f.type === 'subscribed');
    const start = first.lastEventId();
    first.close();
    await first.ended;

    const published = await idsOf(Array.from({ length: 10 }, (_, n) => server.tw.publish('a', n)));
    const second = await reconnect(server, url, start, 'a');
    expect(eventIds(second).slice(0, -1)).toEqual(published);
    expect(start).toBe(before.id);
    expect(first.blocks[0]?.id).toBe(before.id);
  });

  it('should resume every channel of a stream cut before its first event from its id', async () => {
    const server = await startServer();
    const url = `${server.base}/sse?channel=a&channel=b`;
    const first = await openSse(url);
    await first.waitFor((f) => f.type === 'subscribed' && f.channel === 'b');
    const start = first.lastEventId();
    first.close();
    await first.ended;

    const published = await idsOf(
      Array.from({ length: 10 }, (_, n) => server.tw.publish(n % 2 ? 'b' : 'a', n)),
    );
    const second = await reconnect(server, url, start, 'b');
    expect(eventIds(second).slice(0, -1)).toEqual(published);
  });

  it('should resume a channel that started live next to one with its own position', async () => {
    const server = await startServer();
    const a1 = await server.tw.publish('a', 'a1');
    const url = `${server.base}/sse?channel=a@${a1.id}&channel=b`;
    const first = await openSse(url);
    await first.waitFor((f) => f.type === 'subscribed' && f.channel === 'b');
    const start = first.lastEventId();
    first.close();
    await first.ended;

    const published = await idsOf(Array.from({ length: 10 }, (_, n) => server.tw.publish('b', n)));
    const second = await reconnect(server, url, start, 'b');
    expect(eventIds(second).slice(0, -1)).toEqual(published);
  });

  it('should end the opening at the head position, so that a reconnect does not report a gap again', async () => {
    const server = await startServer();
    server.tw.publish('elsewhere', 'x');
    const head = await server.tw.publish('elsewhere', 'y');
    const url = `${server.base}/sse?channel=a`;
    const first = await openSse(url, { headers: { 'last-event-id': 'not-a-position' } });
    await first.waitFor((f) => f.type === 'gap');
    // Without an id of the stream's own, an EventSource keeps the one it sent.
    const start = first.lastEventId() ?? 'not-a-position';
    first.close();
    await first.ended;

    const second = await reconnect(server, url, start, 'a');
    expect(second.frames().filter((f) => f.type === 'gap')).toEqual([]);
    expect(eventIds(second)).toHaveLength(1);
    expect(start).toBe(head.id);
  });
});

describe.each([
  ['no token', undefined, 401, 'unauthorized'],
  ['a rejected token', 'sekrit-bad', 401, 'unauthorized'],
  ['an expired token', 'sekrit-old', 401, 'token_expired'],
  ['a forbidden principal', 'sekrit-banned', 403, 'forbidden'],
])('SSE authentication with %s', (_name, token, status, code) => {
  it(`should answer ${status} ${code} without leaking the token`, async () => {
    const server = await startServer({
      authenticate: (t) => {
        if (t === 'sekrit-old') return { principal: 'u', expiresAt: Date.now() - 1 };
        if (t === 'sekrit-banned') throw new AuthError('forbidden');
        return null;
      },
    });
    const headers: Record<string, string> =
      token === undefined ? {} : { authorization: `Bearer ${token}` };
    const response = await fetch(`${server.base}/sse?channel=a`, { headers });
    expect(response.status).toBe(status);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ code });
    if (token !== undefined) expect(text).not.toContain(token);
    if (status === 401)
      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });
});
