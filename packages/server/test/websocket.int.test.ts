import { CloseCode } from '@tidewire/core/protocol';
import { describe, expect, it, vi } from 'vitest';
import { AuthError, type TidewireServerOptions } from '../src/index.js';
import { startServer } from './utils/server.js';
import { openAuthedWs, openWs } from './utils/ws-client.js';

const tokens: TidewireServerOptions<string>['authenticate'] = (token) => {
  if (token === 'sekrit-ok') return { principal: 'user' };
  if (token === 'sekrit-old') return { principal: 'user', expiresAt: Date.now() - 1 };
  if (token === 'sekrit-banned') throw new AuthError('forbidden');
  if (token?.startsWith('sekrit-short-')) {
    return { principal: 'user', expiresAt: Date.now() + Number(token.slice(13)) };
  }
  return undefined;
};

describe('WebSocket handshake', () => {
  it('should answer auth with welcome', async () => {
    const server = await startServer({ authenticate: tokens, heartbeatMs: 5000 });
    const ws = await openAuthedWs(`${server.wsBase}/ws`, 'sekrit-ok');
    expect(ws.frames[0]).toEqual({ type: 'welcome', epoch: expect.any(String), heartbeat: 5000 });
  });

  it.each([
    ['no token', undefined, CloseCode.Unauthorized],
    ['a rejected token', 'sekrit-bad', CloseCode.Unauthorized],
    ['an expired token', 'sekrit-old', CloseCode.Unauthorized],
    ['a forbidden principal', 'sekrit-banned', CloseCode.Forbidden],
  ])('should close after auth with %s with the right code', async (_name, token, code) => {
    const server = await startServer({ authenticate: tokens });
    const ws = await openWs(`${server.wsBase}/ws`);
    ws.send(token === undefined ? { type: 'auth' } : { type: 'auth', token });
    const closed = await ws.closed;
    expect(closed.code).toBe(code);
    if (token !== undefined) expect(closed.reason).not.toContain(token);
    expect(ws.frames).toEqual([]);
  });

  it('should close with 4408 when no auth arrives in time', async () => {
    const server = await startServer({ authTimeoutMs: 50 });
    const ws = await openWs(`${server.wsBase}/ws`);
    expect((await ws.closed).code).toBe(CloseCode.AuthTimeout);
    await vi.waitFor(async () => expect((await server.tw.stats()).connections.websocket).toBe(0));
  });

  it.each([
    ['a subscribe', JSON.stringify({ type: 'subscribe', channel: 'a' })],
    ['malformed JSON', '{"type":'],
    ['a binary frame', Buffer.from('{"type":"auth"}')],
  ])('should close with 4400 when the first frame is %s', async (_name, data) => {
    const server = await startServer();
    const ws = await openWs(`${server.wsBase}/ws`);
    ws.sendRaw(data, Buffer.isBuffer(data));
    expect((await ws.closed).code).toBe(CloseCode.BadRequest);
  });

  it('should handle frames sent right behind auth, in order', async () => {
    const server = await startServer({
      authenticate: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { principal: 'u' };
      },
    });
    const ws = await openWs(`${server.wsBase}/ws`);
    ws.send({ type: 'auth' });
    ws.send({ type: 'subscribe', channel: 'a' });
    await ws.waitFor((f) => f.type === 'subscribed');
    expect(ws.frames.map((f) => f.type)).toEqual(['welcome', 'subscribed']);
  });

  it('should refuse upgrades with 503 while WebSocket is disabled', async () => {
    const server = await startServer();
    server.tw.setWebSocketEnabled(false);
    await expect(openWs(`${server.wsBase}/ws`)).rejects.toThrow('503');
    server.tw.setWebSocketEnabled(true);
    await openAuthedWs(`${server.wsBase}/ws`);
  });

  it('should refuse upgrades outside the ws endpoint with 404', async () => {
    const server = await startServer();
    await expect(openWs(`${server.wsBase}/sse`)).rejects.toThrow('404');
  });
});

describe('WebSocket frames', () => {
  it.each([
    ['malformed JSON', '{nope', 'bad_json'],
    ['a JSON array', '[1]', 'bad_frame'],
    ['a frame without type', '{"channel":"a"}', 'bad_frame'],
    ['an unknown type', '{"type":"hello"}', 'unknown_type'],
    ['a subscribe without channel', '{"type":"subscribe"}', 'bad_frame'],
    [
      'a subscribe with a numeric since',
      '{"type":"subscribe","channel":"a","since":5}',
      'bad_frame',
    ],
    ['an unsubscribe without channel', '{"type":"unsubscribe"}', 'bad_frame'],
    ['a publish without ref', '{"type":"publish","channel":"a","data":1}', 'bad_frame'],
    ['an auth with a numeric token', '{"type":"auth","token":5}', 'bad_frame'],
  ])('should answer %s with %s and stay open', async (_name, text, code) => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.sendRaw(text);
    await ws.waitFor((f) => f.type === 'error');
    expect(ws.frames.at(-1)).toMatchObject({ type: 'error', code });
    ws.send({ type: 'subscribe', channel: 'a' });
    await ws.waitFor((f) => f.type === 'subscribed');
  });

  it('should answer a binary frame with bad_frame', async () => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.sendRaw(Buffer.from([1, 2, 3]), true);
    expect(await ws.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'bad_frame' });
  });

  it('should close with 1009 on an oversized frame without affecting other connections', async () => {
    const server = await startServer({ limits: { maxFrameBytes: 1024 } });
    const bystander = await openAuthedWs(`${server.wsBase}/ws`);
    bystander.send({ type: 'subscribe', channel: 'a' });
    await bystander.waitFor((f) => f.type === 'subscribed');
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'publish', ref: '1', channel: 'a', data: 'x'.repeat(2000) });
    expect((await ws.closed).code).toBe(CloseCode.TooBig);
    server.tw.publish('a', 'still here');
    await bystander.waitFor((f) => f.type === 'event' && f.data === 'still here');
  });

  it('should answer an invalid channel name and too many channels per channel', async () => {
    const server = await startServer({ limits: { maxChannelsPerConnection: 1 } });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'bad name' });
    ws.send({ type: 'subscribe', channel: 'a' });
    ws.send({ type: 'subscribe', channel: 'b' });
    ws.send({ type: 'subscribe', channel: 'a' });
    await ws.waitFor((f) => f.type === 'error' && f.code === 'too_many_channels');
    await vi.waitFor(() =>
      expect(ws.frames.filter((f) => f.type === 'subscribed')).toHaveLength(2),
    );
    expect(ws.frames.filter((f) => f.type !== 'welcome')).toEqual([
      { type: 'error', code: 'invalid_channel', message: expect.any(String), channel: 'bad name' },
      { type: 'subscribed', channel: 'a', position: expect.any(String) },
      { type: 'error', code: 'too_many_channels', message: expect.any(String), channel: 'b' },
      { type: 'subscribed', channel: 'a', position: expect.any(String) },
    ]);
    expect((await server.tw.stats()).subscriptions).toBe(1);
  });

  it('should let a client subscribe to every allowed channel at once behind a slow authorize', async () => {
    const server = await startServer({
      limits: { maxChannelsPerConnection: 300 },
      authorize: () => new Promise((resolve) => setTimeout(() => resolve(true), 1)),
    });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    for (let i = 0; i < 300; i++) ws.send({ type: 'subscribe', channel: `c${i}` });
    await vi.waitFor(
      () => expect(ws.frames.filter((f) => f.type === 'subscribed')).toHaveLength(300),
      { timeout: 5000 },
    );
    expect((await server.tw.stats()).subscriptions).toBe(300);
  });

  it('should stop delivering a channel after unsubscribe', async () => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'a' });
    ws.send({ type: 'subscribe', channel: 'b' });
    await ws.waitFor((f) => f.type === 'subscribed' && f.channel === 'b');
    ws.send({ type: 'unsubscribe', channel: 'a' });
    await vi.waitFor(async () => expect((await server.tw.stats()).subscriptions).toBe(1));
    server.tw.publish('a', 1);
    server.tw.publish('b', 2);
    await ws.waitFor((f) => f.type === 'event' && f.channel === 'b');
    expect(ws.frames.filter((f) => f.type === 'event')).toHaveLength(1);
  });

  it('should send ping frames every heartbeat', async () => {
    const server = await startServer({ heartbeatMs: 30 });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    await vi.waitFor(() =>
      expect(ws.frames.filter((f) => f.type === 'ping').length).toBeGreaterThanOrEqual(2),
    );
  });

  it('should terminate a socket that stops answering protocol pings', async () => {
    const server = await startServer({ heartbeatMs: 30 });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    // Pausing stops the client from reading, so it never answers a ping.
    ws.pause();
    await vi.waitFor(async () => expect((await server.tw.stats()).connections.websocket).toBe(0), {
      timeout: 2000,
    });
  });

  it('should close with 4429 when frames pile up behind a slow hook', async () => {
    let release = (): void => {};
    const server = await startServer({
      authorize: () => new Promise<boolean>((resolve) => (release = () => resolve(true))),
    });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    for (let i = 0; i < 400; i++) ws.send({ type: 'subscribe', channel: 'a' });
    expect((await ws.closed).code).toBe(CloseCode.TooManyRequests);
    release();
  });
});

describe('WebSocket publish', () => {
  it('should ack a publish and deliver it to subscribers, the publisher included', async () => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'chat' });
    await ws.waitFor((f) => f.type === 'subscribed');
    ws.send({ type: 'publish', ref: '7', channel: 'chat', event: 'said', data: { text: 'hi' } });
    const ack = await ws.waitFor((f) => f.type === 'ack');
    const event = await ws.waitFor((f) => f.type === 'event');
    expect(ack).toEqual({ type: 'ack', ref: '7', id: expect.any(String) });
    expect(event).toEqual({
      type: 'event',
      channel: 'chat',
      id: 'id' in ack ? ack.id : '',
      event: 'said',
      data: { text: 'hi' },
    });
  });

  it.each([
    ['an invalid channel', { channel: 'no spaces', data: 1 }, 'invalid_channel'],
    ['an invalid event type', { channel: 'a', event: 'x'.repeat(65), data: 1 }, 'bad_frame'],
    ['no data', { channel: 'a' }, 'bad_frame'],
    ['a forbidden channel', { channel: 'admin', data: 1 }, 'forbidden'],
    ['data over the limit', { channel: 'a', data: 'x'.repeat(300) }, 'too_large'],
  ])(
    'should answer a publish with %s by an error carrying its ref',
    async (_name, fields, code) => {
      const server = await startServer({
        authorize: (_p, channel, action) => !(channel === 'admin' && action === 'publish'),
        limits: { maxDataBytes: 256 },
      });
      const ws = await openAuthedWs(`${server.wsBase}/ws`);
      ws.send({ type: 'publish', ref: 'r1', ...fields });
      const error = await ws.waitFor((f) => f.type === 'error');
      expect(error).toEqual({ type: 'error', code, message: expect.any(String), ref: 'r1' });
      expect(Object.keys((await server.tw.stats()).channels)).toEqual([]);
    },
  );

  it('should rate-limit publishes per publisher, across its connections', async () => {
    const server = await startServer({ limits: { publishRate: { perSecond: 1, burst: 3 } } });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    for (let i = 1; i <= 5; i++)
      ws.send({ type: 'publish', ref: String(i), channel: 'a', data: i });
    await vi.waitFor(() => expect(ws.frames.filter((f) => f.type !== 'welcome')).toHaveLength(5));
    const answers = ws.frames.filter((f) => f.type === 'ack' || f.type === 'error');
    expect(answers.map((f) => (f.type === 'error' ? f.code : f.type))).toEqual([
      'ack',
      'ack',
      'ack',
      'rate_limited',
      'rate_limited',
    ]);
    expect(answers[3]).toMatchObject({ ref: '4' });
    // A new connection of the same (anonymous) publisher from the same address gets no new burst.
    const other = await openAuthedWs(`${server.wsBase}/ws`);
    other.send({ type: 'publish', ref: 'x', channel: 'a', data: 0 });
    expect(await other.waitFor((f) => f.type === 'error')).toMatchObject({
      code: 'rate_limited',
      ref: 'x',
    });
  });

  it('should answer data nested 5,000 levels deep with bad_json and keep the socket', async () => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    ws.sendRaw(`{"type":"publish","ref":"deep","channel":"a","data":${deep}}`);
    expect(await ws.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'bad_json' });
    ws.send({ type: 'publish', ref: 'ok', channel: 'a', data: 1 });
    await ws.waitFor((f) => f.type === 'ack');
  });
});

describe('WebSocket token refresh', () => {
  it('should send refresh before expiry and close with 4401 at expiry', async () => {
    const server = await startServer({ authenticate: tokens, tokenRefreshLeadMs: 100 });
    const ws = await openAuthedWs(`${server.wsBase}/ws`, 'sekrit-short-250');
    expect(ws.frames[0]).toMatchObject({ type: 'welcome', expiresIn: expect.any(Number) });
    const refresh = await ws.waitFor((f) => f.type === 'refresh');
    expect(refresh).toMatchObject({ expiresIn: expect.any(Number) });
    expect((await ws.closed).code).toBe(CloseCode.Unauthorized);
  });

  it('should keep the connection and its subscriptions after a new auth', async () => {
    const server = await startServer({ authenticate: tokens, tokenRefreshLeadMs: 150 });
    const ws = await openAuthedWs(`${server.wsBase}/ws`, 'sekrit-short-200');
    ws.send({ type: 'subscribe', channel: 'a' });
    await ws.waitFor((f) => f.type === 'refresh');
    ws.send({ type: 'auth', token: 'sekrit-short-60000' });
    await vi.waitFor(() => expect(ws.frames.filter((f) => f.type === 'welcome')).toHaveLength(2));
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.tw.publish('a', 'after');
    await ws.waitFor((f) => f.type === 'event' && f.data === 'after');
    expect((await server.tw.stats()).connections.websocket).toBe(1);
  });

  it('should close with 4403 when a re-auth is refused', async () => {
    const server = await startServer({ authenticate: tokens });
    const ws = await openAuthedWs(`${server.wsBase}/ws`, 'sekrit-ok');
    ws.send({ type: 'auth', token: 'sekrit-banned' });
    expect((await ws.closed).code).toBe(CloseCode.Forbidden);
  });

  it('should send one refresh per credential, halfway through a token shorter than the lead', async () => {
    const server = await startServer({ authenticate: tokens, tokenRefreshLeadMs: 30_000 });
    const ws = await openAuthedWs(`${server.wsBase}/ws`, 'sekrit-short-400');
    const opened = Date.now();
    // Not at once (that answered every auth of a short-lived token with another refresh)…
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ws.frames.filter((f) => f.type === 'refresh')).toHaveLength(0);
    // …but halfway through its life.
    await ws.waitFor((f) => f.type === 'refresh');
    expect(Date.now() - opened).toBeGreaterThanOrEqual(150);
    // The same credential again (a client that caches its token): no second refresh.
    ws.send({ type: 'auth', token: 'sekrit-short-400' });
    await vi.waitFor(() => expect(ws.frames.filter((f) => f.type === 'welcome')).toHaveLength(2));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ws.frames.filter((f) => f.type === 'refresh')).toHaveLength(1);
  });

  it('should authorize every subscription again when another principal authenticates in-band', async () => {
    const server = await startServer<string>({
      authenticate: (token) => (token ? { principal: token } : undefined),
      authorize: (principal, channel) => channel.startsWith(`user/${principal}/`),
    });
    const ws = await openAuthedWs(`${server.wsBase}/ws`, 'alice');
    ws.send({ type: 'subscribe', channel: 'user/alice/inbox' });
    await ws.waitFor((f) => f.type === 'subscribed');
    ws.send({ type: 'auth', token: 'bob' });
    const refused = await ws.waitFor((f) => f.type === 'error');
    expect(refused).toMatchObject({ code: 'forbidden', channel: 'user/alice/inbox' });
    server.tw.publish('user/alice/inbox', 'for alice only');
    ws.send({ type: 'subscribe', channel: 'user/bob/inbox' });
    await ws.waitFor((f) => f.type === 'subscribed' && f.channel === 'user/bob/inbox');
    expect(ws.frames.filter((f) => f.type === 'event')).toEqual([]);
    expect((await server.tw.stats()).subscriptions).toBe(1);
  });

  it('should close a socket that floods auth frames with 4429, after a handful of authenticate calls', async () => {
    let calls = 0;
    const server = await startServer({
      authenticate: () => {
        calls += 1;
        return { principal: 'u' };
      },
    });
    const ws = await openAuthedWs(`${server.wsBase}/ws`, 't');
    for (let i = 0; i < 2000; i++) ws.send({ type: 'auth', token: 't' });
    expect((await ws.closed).code).toBe(CloseCode.TooManyRequests);
    // The first auth, the burst of five, and none of the other 1,995.
    expect(calls).toBeLessThanOrEqual(6);
  });
});
