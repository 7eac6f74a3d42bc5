import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { exponentialBackoff } from '../../src/backoff';
import type { Client } from '../../src/client';
import { isTidewireError, type TidewireError } from '../../src/errors';
import type { ServerFrame } from '../../src/protocol';
import type { TokenReason } from '../../src/token';
import { sseBlocks, wsLine } from '../fakes';
import {
  authenticate,
  closeClients,
  connect,
  type Node,
  sleep,
  startNode,
  TOKEN_PREFIX,
  until,
} from './harness';

// Bad input from the server side of the wire, and bad input from the app. Each test checks
// the typed error the app sees and that nothing is lost, duplicated or crashed.
// (Covered elsewhere, not repeated here: malformed SSE frames and a throwing event listener
// in client.test.ts; the parser's size limit, split CR/LF and wpt format cases in
// transports/sse*.test.ts; getToken's own timeout, throw and empty in token.test.ts.)

const servers: Server[] = [];
let node: Node | undefined;
afterEach(async () => {
  closeClients();
  await node?.stop();
  node = undefined;
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A hand-written WebSocket server; `close()` drops its clients first. */
async function rawWs(onConnection: (ws: import('ws').WebSocket) => void) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', onConnection);
  await new Promise((r) => wss.once('listening', r));
  const { port } = wss.address() as AddressInfo;
  wsServers.push(wss);
  return `http://127.0.0.1:${port}/tw`;
}
const wsServers: WebSocketServer[] = [];
afterEach(async () => {
  for (const wss of wsServers.splice(0)) {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  }
});

type Handler = (
  req: IncomingMessage & { params: URLSearchParams },
  res: ServerResponse,
  n: number,
) => void;

/**
 * A hand-written server: `handler` gets each request with its number (0 for the first), and its
 * parameters (the client sends a stream's channel set in the body).
 */
async function raw(handler: Handler) {
  let n = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params = new URLSearchParams(Buffer.concat(chunks).toString());
    handler(Object.assign(req, { params }), res, n++);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}/tw`, requests: () => n };
}

/** A frame in version 2 SSE (a control frame `@<type>`, or an event in a run of its own). */
const frame = (f: ServerFrame, id?: string) => sseBlocks([f], id);
const ev = (channel: string, id: string, data: unknown) =>
  frame({ type: 'event', channel, id, event: 'message', data });
/** A version 2 WebSocket message (a JSON frame, or an event line). */
const line = (f: ServerFrame) => wsLine(f);

/** Opens a Tidewire SSE response: headers, welcome, subscribed for every channel asked. */
function stream(req: { params: URLSearchParams }, res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(frame({ type: 'welcome', epoch: 'e', heartbeat: 60_000 }));
  const channels = req.params.getAll('channel');
  for (const c of channels) res.write(frame({ type: 'subscribed', channel: c.split('@')[0] ?? c }));
  return channels;
}

function errorsOf(client: Client) {
  const errors: TidewireError[] = [];
  client.on('error', ({ error }) => errors.push(error));
  return errors;
}

describe('bad frames from the server', () => {
  it('should report malformed frames and event data on WebSocket as bad_message, ignore unknown types and keep the connection', async () => {
    const url = await rawWs((ws) => {
      ws.once('message', () => {
        ws.send(line({ type: 'welcome', epoch: 'e', heartbeat: 60_000 }));
        ws.send(line({ type: 'subscribed', channel: 'a' }));
        ws.send('{"type":"subscribed","channel":"a",'); // cut JSON
        ws.send(JSON.stringify({ type: 'teleport', channel: 'a' })); // unknown type: ignored
        ws.send('a  e-0 {"cut'); // event data that is not JSON
        ws.send(line({ type: 'event', channel: 'a', id: 'e-1', event: 'message', data: 1 }));
      });
    });
    const client = connect(url);
    const errors = errorsOf(client);
    const sub = client.subscribe('a', { transport: 'websocket' });
    const got: unknown[] = [];
    sub.on('event', (e) => got.push(e.data));
    await until(() => got.length === 1);
    expect(errors.map((e) => [e.name, e.code, e.fatal])).toEqual([
      ['ConnectionError', 'bad_message', false],
      ['ConnectionError', 'bad_message', false],
    ]);
    expect(client.getState().websocket.status).toBe('open');
  });

  it('should report malformed frames on SSE, ignore unknown ones and deliver the events around them', async () => {
    const { url } = await raw((req, res) => {
      stream(req, res);
      res.write(ev('a', 'e-1', 1));
      res.write('event: @teleport\ndata: {}\n\n'); // unknown type: ignored
      res.write('data: [1,2\n\n'); // not a channel's run: ignored
      res.write('event: @gap\ndata: {"channel":\n\n'); // not JSON
      res.write('event: a\ndata: e-x [1,2\n\n'); // data that is not JSON
      res.write(ev('a', 'e-2', 2));
    });
    const client = connect(url);
    const errors = errorsOf(client);
    const got: unknown[] = [];
    client.subscribe('a', { transport: 'sse' }).on('event', (e) => got.push(e.data));
    await until(() => got.length === 2);
    expect(got).toEqual([1, 2]);
    expect(errors.map((e) => e.code)).toEqual(['bad_message', 'bad_message']);
  });

  it('should put split multi-byte characters back together and replace invalid UTF-8, losing no event', async () => {
    const { url } = await raw((req, res) => {
      stream(req, res);
      const bytes = Buffer.from(ev('a', 'e-1', 'π≈3.14 🌊'));
      // Cut inside the 4-byte wave and inside the 2-byte pi, with pauses between the pieces.
      const cuts = [bytes.indexOf(0xf0) + 2, bytes.indexOf(0xcf) + 1];
      cuts.sort((x, y) => x - y);
      res.write(bytes.subarray(0, cuts[0]));
      setTimeout(() => res.write(bytes.subarray(cuts[0], cuts[1])), 20);
      setTimeout(() => {
        res.write(bytes.subarray(cuts[1]));
        // A lone continuation byte and a truncated sequence inside a JSON string.
        res.write(
          Buffer.concat([
            Buffer.from('event: a\ndata: e-2 "x'),
            Buffer.from([0x80, 0xe2, 0x82]),
            Buffer.from('y"\n\n'),
          ]),
        );
        res.write(ev('a', 'e-3', 'after'));
      }, 40);
    });
    const client = connect(url);
    const errors = errorsOf(client);
    const got: unknown[] = [];
    client.subscribe('a', { transport: 'sse' }).on('event', (e) => got.push(e.data));
    await until(() => got.length === 3);
    expect(got).toEqual(['π≈3.14 🌊', 'x\uFFFD\uFFFDy', 'after']);
    expect(errors).toEqual([]);
  });

  it('should reconnect and resume when a WebSocket text frame is not valid UTF-8 (close 1007)', async () => {
    let connections = 0;
    const since: unknown[] = [];
    const url = await rawWs((ws) => {
      const n = connections++;
      ws.on('message', (m) => {
        const f = JSON.parse(String(m));
        if (f.type === 'auth') ws.send(line({ type: 'welcome', epoch: 'e', heartbeat: 60_000 }));
        if (f.type !== 'subscribe') return;
        since.push(f.since);
        ws.send(line({ type: 'subscribed', channel: 'a' }));
        if (n === 0) {
          ws.send('a  e-1 1');
          ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
        } else ws.send('a  e-2 2');
      });
    });
    const client = connect(url);
    const closes: TidewireError[] = [];
    client.on('state', ({ next }) => {
      if (next.status === 'waiting') closes.push(next.error);
    });
    const got: unknown[] = [];
    client.subscribe('a', { transport: 'websocket' }).on('event', (e) => got.push(e.data));
    await until(() => got.length === 2);
    expect(got).toEqual([1, 2]);
    expect(since).toEqual([undefined, 'e-1']);
    // `ws` fails the connection itself (1006 on the client's side) and the client retries.
    expect(closes[0]).toMatchObject({ code: 'network', fatal: false });
  });

  it('should drop an event cut off by a clean end of the stream and get it whole on resume', async () => {
    const asked: (string | null)[] = [];
    const { url } = await raw((req, res, n) => {
      asked.push(req.params.get('channel'));
      stream(req, res);
      if (n === 0) {
        res.write(ev('a', 'e-1', 1));
        res.end(ev('a', 'e-2', 2).slice(0, -1)); // ends cleanly, before the blank line
      } else res.write(ev('a', 'e-2', 2));
    });
    const client = connect(url);
    const got: unknown[] = [];
    const sub = client.subscribe('a', { transport: 'sse' });
    sub.on('event', (e) => got.push(e.data));
    await until(() => got.length === 2);
    await sleep(30);
    expect(got).toEqual([1, 2]);
    expect(asked).toEqual(['a', 'a@e-1']);
    expect(sub.getSnapshot().duplicates).toBe(0);
  });

  it('should fail the connection with too_large when a message is over maxMessageBytes, and say so', async () => {
    const { url } = await raw((req, res) => {
      stream(req, res);
      res.write(ev('a', 'e-1', 'x'.repeat(70_000)));
    });
    const client = connect(url, { maxMessageBytes: 1000 });
    const sub = client.subscribe('a', { transport: 'sse' });
    await until(() => sub.getSnapshot().status === 'failed');
    expect(sub.getSnapshot().error).toMatchObject({ code: 'too_large', fatal: true });
    expect(sub.getSnapshot().received).toBe(0);
  });
});

describe('oversized messages from the server', () => {
  it('should fail with too_large when a WebSocket message is over maxMessageBytes, and say so', async () => {
    const url = await rawWs((ws) => {
      ws.once('message', () => {
        ws.send(line({ type: 'welcome', epoch: 'e', heartbeat: 60_000 }));
        ws.send(line({ type: 'subscribed', channel: 'a' }));
        ws.send(`a  e-1 "${'x'.repeat(70_000)}"`);
      });
    });
    const client = connect(url, { maxMessageBytes: 1000 });
    const sub = client.subscribe('a', { transport: 'websocket' });
    await until(() => sub.getSnapshot().status === 'failed');
    expect(sub.getSnapshot().error).toMatchObject({
      name: 'ConnectionError',
      code: 'too_large',
      fatal: true,
    });
    expect(sub.getSnapshot().received).toBe(0);
  });
});

describe('SSE responses that are not a stream', () => {
  const cases: {
    status: number;
    headers?: Record<string, string>;
    body?: string;
    code: string;
    fatal: boolean;
    retryAfter?: number;
  }[] = [
    { status: 204, code: 'no_content', fatal: true },
    {
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<h1>hi',
      code: 'bad_content_type',
      fatal: true,
    },
    { status: 401, code: 'unauthorized', fatal: false },
    { status: 403, code: 'forbidden', fatal: true },
    { status: 404, code: 'not_found', fatal: true },
    {
      status: 429,
      headers: { 'retry-after': '1' },
      code: 'rate_limited',
      fatal: false,
      retryAfter: 1000,
    },
    { status: 500, code: 'http_status', fatal: false },
    {
      status: 503,
      headers: { 'retry-after': '0' },
      code: 'http_status',
      fatal: false,
      retryAfter: 0,
    },
  ];
  it.each(cases)(
    'should turn a $status into $code (fatal: $fatal) and recover when it is not fatal',
    async ({
      status,
      headers = {},
      body = '{"code":"x","message":"m"}',
      code,
      fatal,
      retryAfter,
    }) => {
      const { url, requests } = await raw((req, res, n) => {
        if (n > 0) {
          stream(req, res);
          res.write(ev('a', 'e-1', 'ok'));
          return;
        }
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(status === 204 ? undefined : body);
      });
      const reasons: TokenReason[] = [];
      const client = connect(url, {
        getToken: ({ reason }) => {
          reasons.push(reason);
          return `${TOKEN_PREFIX}x`;
        },
      });
      const seen: TidewireError[] = [];
      client.on('state', ({ next }) => {
        if ('error' in next && next.error) seen.push(next.error);
      });
      const sub = client.subscribe('a', { transport: 'sse' });
      const got: unknown[] = [];
      sub.on('event', (e) => got.push(e.data));
      if (fatal) {
        await until(() => sub.getSnapshot().status === 'failed');
        await sleep(50);
        expect(requests()).toBe(1);
      } else await until(() => got.length === 1, 3000);
      const error = seen[0];
      expect(isTidewireError(error)).toBe(true);
      expect(error).toMatchObject({ code, fatal, ...(status === 200 ? {} : { status }) });
      expect(error?.message).not.toContain(TOKEN_PREFIX);
      if (retryAfter !== undefined) expect(error?.retryAfter).toBe(retryAfter);
      if (status === 401) expect(reasons).toEqual(['connect', 'expired']);
    },
  );

  it('should wait at least Retry-After after a 429 before trying again', async () => {
    const at: number[] = [];
    const { url } = await raw((req, res, n) => {
      at.push(Date.now());
      if (n === 0) res.writeHead(429, { 'retry-after': '1' }).end();
      else stream(req, res);
    });
    // The default policy honours Retry-After as a floor (a custom retryDelay gets it in `error`).
    const client = connect(url, { retryDelay: exponentialBackoff({ baseDelay: 10 }) });
    const sub = client.subscribe('a', { transport: 'sse' });
    await until(() => sub.getSnapshot().status === 'live', 4000);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
  });
});

describe('getToken misbehaving against a real server', () => {
  it('should fail with token_failed when getToken throws, keeping the thrown text out of the message', async () => {
    node = await startNode({ authenticate });
    const client = connect(node.url, {
      getToken: () => {
        throw new Error(`vault down for ${TOKEN_PREFIX}leak`);
      },
    });
    const sub = client.subscribe('a', { transport: 'websocket' });
    await until(() => sub.getSnapshot().status === 'failed');
    const error = sub.getSnapshot().error!;
    expect(error).toMatchObject({ name: 'AuthError', code: 'token_failed', fatal: true });
    expect(error.message).not.toContain(TOKEN_PREFIX);
    expect((await node.tw.stats()).connections.websocket).toBe(0);
  });

  it('should fail with token_empty when getToken returns an empty string, without connecting', async () => {
    node = await startNode({ authenticate });
    const client = connect(node.url, { getToken: () => '' });
    const sub = client.subscribe('a', { transport: 'sse' });
    await until(() => sub.getSnapshot().status === 'failed');
    expect(sub.getSnapshot().error).toMatchObject({ code: 'token_empty', fatal: true });
    expect(node.log).toEqual([]);
  });

  it('should time out a getToken that hangs, retry, and go live once it answers', async () => {
    node = await startNode({ authenticate });
    let calls = 0;
    const client = connect(node.url, {
      connectTimeout: 150,
      getToken: () => (calls++ === 0 ? new Promise<string>(() => {}) : `${TOKEN_PREFIX}late`),
    });
    const codes: string[] = [];
    client.on('state', ({ next }) => {
      if (next.status === 'waiting') codes.push(`${next.error.name} ${next.error.code}`);
    });
    const sub = client.subscribe('a', { transport: 'websocket' });
    await until(() => sub.getSnapshot().status === 'live');
    // Not connect_timeout: the server was never asked.
    expect(codes).toEqual(['AuthError token_timeout']);
    expect(node.log).toHaveLength(1);
    const got: unknown[] = [];
    sub.on('event', (e) => got.push(e.data));
    node.tw.publish('a', 1);
    await until(() => got.length === 1);
  });
});

describe('listeners that throw', () => {
  it('should run the other listeners and handles, report listener_failed and keep delivering', async () => {
    node = await startNode({ authenticate });
    const client = connect(node.url);
    const errors = errorsOf(client);
    client.on('state', () => {
      throw new Error('state listener');
    });
    client.on('error', () => {
      throw new Error('error listener'); // must not loop
    });
    const a = client.subscribe('a', { transport: 'websocket' });
    const b = client.subscribe('a');
    a.on('change', () => {
      throw new Error('change listener');
    });
    a.on('event', () => {
      throw new Error('event listener');
    });
    const got: unknown[] = [];
    b.on('event', (e) => got.push(e.data));
    await until(() => b.getSnapshot().status === 'live');
    for (let i = 0; i < 3; i++) node.tw.publish('a', i);
    await until(() => got.length === 3);
    expect(got).toEqual([0, 1, 2]);
    expect(errors.length).toBeGreaterThan(3);
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['listener_failed']));
    expect(errors.map((e) => (e.cause as Error).message)).toContain('event listener');
  });
});

describe('channel names', () => {
  // `open`, `error` and `message` are names a plain EventSource gives meanings of its own (v2).
  const bad = [
    '',
    'x'.repeat(129),
    'a\nb',
    'a\u0000b',
    'tab\there',
    'a b',
    'ü',
    'a@b',
    'open',
    'error',
    'message',
  ];
  it.each(bad.map((name) => [JSON.stringify(name).slice(0, 20), name]))(
    'should refuse %s at subscribe with invalid_channel, and the server should too',
    async (_, name) => {
      node = await startNode({ authenticate });
      const client = connect(node.url);
      const ok = client.subscribe('fine', { transport: 'sse' });
      expect(() => client.subscribe(name)).toThrow(
        expect.objectContaining({ code: 'invalid_channel', fatal: true }),
      );
      await expect(client.publish(name, 1)).rejects.toMatchObject({
        name: 'PublishError',
        code: 'invalid_channel',
        status: 400,
      });
      const res = await fetch(`${node.url}/sse?channel=${encodeURIComponent(name)}`, {
        headers: { authorization: `Bearer ${TOKEN_PREFIX}x` },
      });
      // The server reads `a@b` as channel `a` from position `b`: only the client can refuse it.
      if (name !== 'a@b') {
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ code: 'invalid_channel' });
      } else await res.body?.cancel();
      // The good channel is unaffected.
      await until(() => ok.getSnapshot().status === 'live');
    },
  );

  it('should accept a name of exactly 128 characters', async () => {
    node = await startNode({ authenticate });
    const client = connect(node.url);
    const name = 'x'.repeat(128);
    const sub = client.subscribe(name);
    await until(() => sub.getSnapshot().status === 'live');
    await expect(client.publish(name, 1)).resolves.toMatchObject({ id: expect.any(String) });
  });
});

describe('oversized publishes', () => {
  it.each(['websocket', 'sse'] as const)(
    'should reject an event over the server limit with too_large over %s and keep the channel flowing',
    async (transport) => {
      node = await startNode({ authenticate, limits: { maxDataBytes: 1000, maxBodyBytes: 2000 } });
      const client = connect(node.url);
      const sub = client.subscribe('a', { transport, duplex: transport === 'websocket' });
      const got: unknown[] = [];
      sub.on('event', (e) => got.push(e.data));
      await until(() => sub.getSnapshot().status === 'live');
      await expect(client.publish('a', 'x'.repeat(1500))).rejects.toMatchObject({
        name: 'PublishError',
        code: 'too_large',
      });
      await expect(client.publish('a', 'y'.repeat(5000))).rejects.toMatchObject({
        code: 'too_large',
      });
      await client.publish('a', 'small');
      await until(() => got.length === 1);
      expect(got).toEqual(['small']);
      expect(sub.getSnapshot().status).toBe('live');
    },
  );

  it('should survive a WebSocket frame over the server limit (close 1009): the publish is unconfirmed, the subscription resumes', async () => {
    node = await startNode({
      authenticate,
      limits: { maxFrameBytes: 4096, maxDataBytes: 65_536 },
    });
    const client = connect(node.url);
    const sub = client.subscribe('a', { transport: 'websocket', duplex: true });
    const got: unknown[] = [];
    sub.on('event', (e) => got.push(e.data));
    await until(() => sub.getSnapshot().status === 'live');
    node.tw.publish('a', 'before');
    await until(() => got.length === 1);
    const codes: unknown[] = [];
    client.on('state', ({ next }) => {
      if (next.status === 'waiting') codes.push([next.error.code, next.error.status]);
    });
    // The server cannot answer a frame it refused to read: the app learns only that the
    // publish is unconfirmed, and must not simply retry it (see RELIABILITY.md).
    await expect(client.publish('a', 'x'.repeat(10_000))).rejects.toMatchObject({
      code: 'unconfirmed',
    });
    node.tw.publish('a', 'during');
    await until(() => sub.getSnapshot().status === 'live' && got.length === 2);
    node.tw.publish('a', 'after');
    await until(() => got.length === 3);
    expect(got).toEqual(['before', 'during', 'after']);
    expect(codes).toEqual([['closed', 1009]]);
  });
});
