import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { TidewireError } from '../../src/errors';
import type { WebSocketConstructor } from '../../src/transports/websocket';
import {
  authenticate,
  closeClients,
  connect,
  createRig,
  logLines,
  type Node,
  type Rig,
  sleep,
  startNode,
  TOKEN_PREFIX,
  until,
} from './harness';

let rig: Rig | undefined;
let node: Node | undefined;
afterEach(async () => {
  closeClients();
  await rig?.stop();
  await node?.stop();
  rig = node = undefined;
});

const token = (who: string) => `${TOKEN_PREFIX}${who}`;

describe('tokens', () => {
  it('should never put a token in a URL: SSE, WebSocket, HTTP publish and after a fallback', async () => {
    rig = await createRig({ authenticate });
    const tokens = new Set<string>();
    const getToken = () => {
      const t = token(`u${tokens.size}`);
      tokens.add(t);
      return t;
    };
    const client = connect(rig.url, { getToken, connectTimeout: 500 });
    const sse = client.subscribe('listen', { transport: 'sse' });
    const ws = client.subscribe('talk', { transport: 'websocket' });
    await until(() => sse.getSnapshot().status === 'live' && ws.getSnapshot().status === 'live');
    await client.publish('talk', 'over ws');
    await client.publish('elsewhere', 'over http');
    // Now a proxy refuses upgrades: a duplex 'auto' channel falls back to SSE + POST.
    rig.proxy.setUpgrades('refuse');
    rig.proxy.killAll();
    const auto = client.subscribe('chat', { duplex: true });
    await until(
      () => auto.getSnapshot().transport === 'sse' && auto.getSnapshot().status === 'live',
      8000,
    );
    await client.publish('chat', 'after fallback');
    const kinds = new Set(rig.log.map((r) => `${r.kind} ${new URL(r.url, 'http://x').pathname}`));
    expect(kinds).toEqual(
      new Set(['request /tidewire/sse', 'upgrade /tidewire/ws', 'request /tidewire/publish']),
    );
    for (const r of rig.log) {
      for (const t of tokens) expect(decodeURIComponent(r.url)).not.toContain(t);
      expect(r.url).not.toMatch(/token|auth|bearer/i);
      // On HTTP the token travels in the Authorization header only.
      if (r.kind === 'request') expect(r.headers.authorization).toMatch(/^Bearer tok-/);
      else expect(r.headers.authorization).toBeUndefined();
    }
  });

  it('should keep tokens out of error messages, state, the client logger and the server logger', async () => {
    const refused = token('refused');
    node = await startNode({
      authenticate: (t) => (t === refused ? null : authenticate(t)),
      authorize: (_p, channel) => channel !== 'secret',
    });
    const debug: string[] = [];
    const seen: unknown[] = [];
    const logger = (message: string, details?: unknown) => {
      debug.push(message, JSON.stringify(details), String((details as Error)?.stack ?? ''));
    };
    // One client whose token is always refused, one that is refused a channel.
    const bad = connect(node.url, { getToken: () => refused, logger });
    const good = connect(node.url, { getToken: () => token('good'), logger });
    for (const c of [bad, good]) {
      c.on('error', ({ error }) => seen.push(error));
      c.on('state', ({ next }) => seen.push(next));
    }
    const subs = [
      bad.subscribe('a', { transport: 'sse' }),
      bad.subscribe('b', { transport: 'websocket' }),
      good.subscribe('secret', { transport: 'websocket' }),
      good.subscribe('secret2', { transport: 'sse' }),
    ];
    const errors: TidewireError[] = [];
    for (const s of subs) s.on('error', ({ error }) => errors.push(error));
    const failed = bad.publish('a', 1).catch((e: TidewireError) => e);
    const forbidden = good.publish('secret', 1).catch((e: TidewireError) => e);
    await until(() => subs.slice(0, 3).every((s) => s.getSnapshot().status === 'failed'), 8000);
    expect(await failed).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(await forbidden).toMatchObject({ code: 'forbidden' });
    expect(subs.map((s) => s.getSnapshot().error?.code)).toEqual([
      'auth_rejected',
      'auth_rejected',
      'forbidden',
      undefined,
    ]);
    const everything = [
      ...debug,
      ...logLines,
      ...[...errors, ...seen, await failed, await forbidden].map(
        (e) => `${JSON.stringify(e)} ${(e as Error).message} ${(e as Error).stack}`,
      ),
      ...subs.map((s) => JSON.stringify(s.getSnapshot())),
    ].join('\n');
    expect(debug.length).toBeGreaterThan(5);
    expect(everything).not.toContain(TOKEN_PREFIX);
  });
});

describe('authorization per channel', () => {
  // Everyone may read public/*; only the owner reads or writes user/<name>/*.
  const authorize = (principal: unknown, channel: string, action: string) =>
    channel.startsWith(`user/${principal}/`) ||
    (action === 'subscribe' && channel.startsWith('public/'));

  it.each(['sse', 'websocket'] as const)(
    'should refuse subscribe and publish on channels the principal may not use, over %s, and keep the others',
    async (transport) => {
      node = await startNode({ authenticate, authorize });
      const alice = connect(node.url, { getToken: () => token('alice') });
      const bob = connect(node.url, { getToken: () => token('bob') });
      const mine = alice.subscribe('user/alice/inbox', { transport });
      const news = alice.subscribe('public/news', { transport });
      const spy = alice.subscribe('user/bob/inbox', { transport });
      const bobs = bob.subscribe('user/bob/inbox', { transport });
      const got: string[] = [];
      for (const s of [mine, news, spy]) s.on('event', (e) => got.push(`${e.channel} ${e.data}`));
      await until(() => spy.getSnapshot().status === 'failed');
      expect(spy.getSnapshot().error).toMatchObject({
        name: 'AuthError',
        code: 'forbidden',
        channel: 'user/bob/inbox',
        fatal: true,
      });
      await until(() => [mine, news, bobs].every((s) => s.getSnapshot().status === 'live'));
      // Publishing: own channel yes; public and someone else's no, on either path.
      await expect(alice.publish('user/alice/inbox', 'note')).resolves.toHaveProperty('id');
      await expect(alice.publish('public/news', 'fake')).rejects.toMatchObject({
        name: 'PublishError',
        code: 'forbidden',
      });
      await expect(alice.publish('user/bob/inbox', 'spam')).rejects.toMatchObject({
        code: 'forbidden',
      });
      await expect(bob.publish('user/bob/inbox', 'private')).resolves.toHaveProperty('id');
      node.tw.publish('public/news', 'headline');
      await until(() => got.length === 2);
      await sleep(50);
      expect(got.sort()).toEqual(['public/news headline', 'user/alice/inbox note']);
    },
  );
});

describe('origin allow-list', () => {
  /** The `ws` constructor with a browser's Origin header. */
  const withOrigin = (origin: string) =>
    class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { origin });
      }
    } as unknown as WebSocketConstructor;
  const fetchFrom =
    (origin: string): typeof fetch =>
    (input, init) =>
      fetch(input, { ...init, headers: { ...(init?.headers as object), origin } });

  it('should serve an allowed origin on both transports and refuse another one on both', async () => {
    node = await startNode({ authenticate, cors: { origins: ['http://app.example'] } });
    const ok = connect(node.url, {
      WebSocket: withOrigin('http://app.example'),
      fetch: fetchFrom('http://app.example'),
    });
    const evil = connect(node.url, {
      WebSocket: withOrigin('http://evil.example'),
      fetch: fetchFrom('http://evil.example'),
    });
    const subs = (['sse', 'websocket'] as const).map((t) =>
      ok.subscribe(`ok-${t}`, { transport: t }),
    );
    const refused = evil.subscribe('x', { transport: 'sse' });
    const wsCodes: string[] = [];
    evil.on('state', ({ transport, next }) => {
      if (transport === 'websocket' && next.status === 'waiting') wsCodes.push(next.error.code);
    });
    evil.subscribe('y', { transport: 'websocket' });
    await until(() => subs.every((s) => s.getSnapshot().status === 'live'));
    await until(() => refused.getSnapshot().status === 'failed' && wsCodes.length >= 2);
    // SSE: 403 is fatal. WebSocket: a refused upgrade looks like a network failure, retried.
    expect(refused.getSnapshot().error).toMatchObject({ code: 'forbidden', status: 403 });
    expect(wsCodes[0]).toBe('network');
    await expect(evil.publish('x', 1)).rejects.toMatchObject({ status: 403 });
    expect((await node.tw.stats()).connections).toEqual({ sse: 1, websocket: 1 });
  });
});

describe('limits per connection', () => {
  it('should refuse the channel over the limit on WebSocket and keep the others', async () => {
    node = await startNode({ authenticate, limits: { maxChannelsPerConnection: 3 } });
    const client = connect(node.url);
    const subs = ['a', 'b', 'c', 'd'].map((c) => client.subscribe(c, { transport: 'websocket' }));
    await until(() => subs[3]!.getSnapshot().status === 'failed');
    expect(subs[3]!.getSnapshot().error).toMatchObject({ code: 'too_many_channels', fatal: true });
    await until(() => subs.slice(0, 3).every((s) => s.getSnapshot().status === 'live'));
    expect((await node.tw.stats()).subscriptions).toBe(3);
  });

  it('should refuse an SSE stream over the limit as a whole (400 too_many_channels)', async () => {
    node = await startNode({ authenticate, limits: { maxChannelsPerConnection: 3 } });
    const client = connect(node.url);
    const subs = ['a', 'b', 'c', 'd'].map((c) => client.subscribe(c, { transport: 'sse' }));
    await until(() => subs.every((s) => s.getSnapshot().status === 'failed'));
    // The status carries no code on SSE (the body is not read): the app sees bad_request 400.
    expect(subs[0]!.getSnapshot().error).toMatchObject({ fatal: true, status: 400 });
    expect((await node.tw.stats()).subscriptions).toBe(0);
  });
});

describe('one client cannot starve the others', () => {
  it('should rate-limit a flooding WebSocket publisher while another client keeps publishing and receiving', async () => {
    node = await startNode({ authenticate, limits: { publishRate: { perSecond: 50, burst: 20 } } });
    const flooder = connect(node.url, { maxQueue: 5000, getToken: () => token('flood') });
    const calm = connect(node.url, { getToken: () => token('calm') });
    const reader = connect(node.url, { getToken: () => token('reader') });
    const fsub = flooder.subscribe('flood', { transport: 'websocket' });
    const csub = calm.subscribe('calm', { transport: 'websocket' });
    const latencies: number[] = [];
    const rsub = reader.subscribe('calm', { transport: 'sse' });
    rsub.on('event', (e) => latencies.push(Date.now() - (e.data as number)));
    await until(() => [fsub, csub, rsub].every((s) => s.getSnapshot().status === 'live'));
    const outcomes: Promise<string>[] = [];
    for (let i = 0; i < 2000; i++)
      outcomes.push(
        flooder.publish('flood', 'x'.repeat(500)).then(
          () => 'ok',
          (e: TidewireError) => e.code,
        ),
      );
    for (let i = 0; i < 10; i++) {
      await calm.publish('calm', Date.now());
      await sleep(20);
    }
    const results = await Promise.all(outcomes);
    await until(() => latencies.length === 10);
    const accepted = results.filter((r) => r === 'ok').length;
    expect(results.filter((r) => r === 'rate_limited').length).toBeGreaterThan(1500);
    expect(accepted).toBeLessThan(100);
    expect(Math.max(...latencies)).toBeLessThan(1000);
    expect(flooder.getState().websocket.status).toBe('open');
  });

  it('should answer a flood of HTTP publishes with 429 and give the app Retry-After', async () => {
    node = await startNode({ authenticate, limits: { publishRate: { perSecond: 10, burst: 5 } } });
    let sockets = 0;
    node.http.on('connection', () => sockets++);
    const client = connect(node.url);
    const codes: string[] = [];
    for (let i = 0; i < 20; i++)
      codes.push(
        await client.publish('p', i).then(
          () => 'ok',
          (e: TidewireError) => `${e.name} ${e.code} ${e.status} ${e.retryAfter}`,
        ),
      );
    // The bucket is per TCP connection (PROTOCOL.md): fetch may use more than one.
    expect(codes.filter((c) => c === 'ok').length).toBeLessThanOrEqual(5 * sockets + 1);
    expect(codes).toContain('PublishError rate_limited 429 1000');
  });
});
