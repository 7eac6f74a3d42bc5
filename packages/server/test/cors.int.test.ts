import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type CorsOptions, createTidewireServer, type Logger } from '../src/index.js';
import { startServer, type TestServer } from './utils/server.js';
import { errorBody, openSse } from './utils/sse-client.js';
import { openWs } from './utils/ws-client.js';

const app = 'http://localhost:5173';
const evil = 'http://evil.example';

const publishFrom = (server: TestServer, origin: string, headers: Record<string, string> = {}) =>
  fetch(`${server.base}/publish`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json', ...headers },
    body: '{"channel":"a","data":1}',
  });

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: Array<Record<string, unknown> | undefined> } {
  const warnings: Array<Record<string, unknown> | undefined> = [];
  return { warnings, warn: (_message, details) => warnings.push(details), error: () => {} };
}

/**
 * A GET with a `Host` header of our choosing (fetch does not allow one), as a browser sends it
 * after DNS rebinding: the attacker's name in both `Host` and `Origin`.
 */
function getWithHost(server: TestServer, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${server.base}${path}`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      // An SSE stream does not end: its status is enough.
      if (res.statusCode === 200) {
        resolve({ status: 200, body: '' });
        res.destroy();
      }
    });
    req.on('error', reject);
    req.end();
  });
}

describe('CORS', () => {
  it('should answer a preflight from an allowed origin with 204 and the protocol headers', async () => {
    const server = await startServer({ cors: { origins: [app] } });
    const response = await fetch(`${server.base}/sse?channel=a`, {
      method: 'OPTIONS',
      headers: {
        origin: app,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization, last-event-id',
      },
    });
    expect(response.status).toBe(204);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'access-control-allow-origin': app,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type, last-event-id',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });

  it('should add the CORS headers to streams and publishes from an allowed origin', async () => {
    const server = await startServer({ cors: { origins: [app] } });
    const sse = await openSse(`${server.base}/sse?channel=a`, { headers: { origin: app } });
    expect(sse.status).toBe(200);
    expect(sse.headers.get('access-control-allow-origin')).toBe(app);
    expect(sse.headers.get('access-control-allow-credentials')).toBe('true');
    const publish = await publishFrom(server, app);
    expect(publish.status).toBe(200);
    expect(publish.headers.get('access-control-allow-origin')).toBe(app);
    expect(publish.headers.get('access-control-expose-headers')).toBe('Retry-After');
  });

  it('should let a cross-origin page read Retry-After of a 429', async () => {
    const server = await startServer({
      cors: { origins: [app] },
      limits: { publishRate: { perSecond: 1, burst: 1 } },
    });
    expect((await publishFrom(server, app)).status).toBe(200);
    const limited = await publishFrom(server, app);
    expect(limited.status).toBe(429);
    expect(Object.fromEntries(limited.headers)).toMatchObject({
      'access-control-allow-origin': app,
      'access-control-expose-headers': 'Retry-After',
      'retry-after': '1',
    });
  });

  it.each<[string, CorsOptions | undefined]>([
    ['no CORS option (same-origin only)', undefined],
    ['an allow-list', { origins: [app] }],
    ['a predicate', { origins: (origin) => origin.endsWith(':5173') }],
  ])('should refuse a foreign origin with %s on every endpoint, readably', async (_name, cors) => {
    const server = await startServer(cors === undefined ? {} : { cors });
    for (const [path, method] of [
      ['/sse?channel=a', 'GET'],
      ['/publish', 'POST'],
    ] as const) {
      const response = await fetch(`${server.base}${path}`, { method, headers: { origin: evil } });
      expect(response.status).toBe(403);
      // Readable by the page: its origin, no credentials, and nothing but the code.
      expect(response.headers.get('access-control-allow-origin')).toBe(evil);
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      expect(await response.text()).toBe('{"code":"origin_not_allowed"}');
    }
    await expect(openWs(`${server.wsBase}/ws`, { origin: evil })).rejects.toThrow('403');
    expect((await server.tw.stats()).connections).toEqual({ sse: 0, websocket: 0 });
    expect((await server.tw.stats()).channels).toEqual({});
  });

  it('should answer the preflight of a refused origin so that its request can read the 403', async () => {
    const server = await startServer({ cors: { origins: [app] } });
    const preflight = await fetch(`${server.base}/publish`, {
      method: 'OPTIONS',
      headers: { origin: evil, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(evil);
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    const publish = await publishFrom(server, evil);
    expect([publish.status, await errorBody(publish)]).toEqual([
      403,
      { code: 'origin_not_allowed' },
    ]);
  });

  it('should log each refused origin once', async () => {
    const logger = recordingLogger();
    const server = await startServer({ cors: { origins: [app] }, logger });
    for (let i = 0; i < 5; i++) {
      for (const origin of [evil, 'http://other.example']) {
        expect((await publishFrom(server, origin)).status).toBe(403);
      }
    }
    await expect(openWs(`${server.wsBase}/ws`, { origin: evil })).rejects.toThrow('403');
    expect(logger.warnings).toEqual([{ origin: evil }, { origin: 'http://other.example' }]);
  });

  it('should accept a same-origin request without CORS options', async () => {
    const server = await startServer();
    const sse = await openSse(`${server.base}/sse?channel=a`, {
      headers: { origin: server.origin },
    });
    expect(sse.status).toBe(200);
    expect(sse.headers.get('access-control-allow-origin')).toBeNull();
    const ws = new WebSocket(`${server.wsBase}/ws`, { origin: server.origin });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.terminate();
  });

  it('should accept a same-origin stream over HTTP/2, whose host is in :authority', async () => {
    // Browsers send Origin on every POST, same-origin ones included, and the client opens its
    // streams by POST; HTTP/2 has no Host header.
    const tls = new URL('../../../testing/tls/', import.meta.url);
    const tw = createTidewireServer({ logger: { warn() {}, error() {} } });
    const server = createSecureServer({
      allowHTTP1: true,
      key: readFileSync(new URL('localhost-key.pem', tls)),
      cert: readFileSync(new URL('localhost.pem', tls)),
    });
    tw.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const session = connect(origin, { rejectUnauthorized: false });
    const statusFrom = (from: string) =>
      new Promise<number>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/tidewire/sse',
          origin: from,
        });
        stream.on('response', (headers) => {
          resolve(Number(headers[':status']));
          stream.close();
        });
        stream.on('error', reject);
        stream.end('v=2&channel=a');
      });
    try {
      expect(await statusFrom(origin)).toBe(200);
      expect(await statusFrom(evil)).toBe(403);
    } finally {
      session.close();
      await tw.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('should judge the origin by the allow-list alone, not by Host (DNS rebinding)', async () => {
    let ownOrigin = '';
    const server: TestServer = await startServer({
      cors: { origins: (origin) => origin === app || origin === ownOrigin },
    });
    const { port } = new URL(server.origin);
    const rebound = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` };
    for (const path of ['/sse?channel=a', '/publish']) {
      expect(await getWithHost(server, path, rebound)).toMatchObject({ status: 403 });
    }
    await expect(openWs(`${server.wsBase}/ws`, rebound)).rejects.toThrow('403');
    // The server's own origin, with a matching Host, is refused too until it is listed.
    const own = { origin: server.origin };
    expect(await getWithHost(server, '/sse?channel=a', own)).toMatchObject({ status: 403 });
    ownOrigin = server.origin;
    expect(await getWithHost(server, '/sse?channel=a', own)).toMatchObject({ status: 200 });
  });

  it('should allow any origin with "*" without credentials', async () => {
    const cookies: Array<string | undefined> = [];
    const server = await startServer({
      cors: { origins: '*' },
      authenticate: (_token, req) => {
        cookies.push(req.headers.cookie);
        return { principal: 'anyone' };
      },
    });
    for (const origin of [evil, 'null']) {
      const response = await publishFrom(server, origin, { cookie: 'session=sekrit' });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      expect(response.headers.get('access-control-expose-headers')).toBe('Retry-After');
    }
    const preflight = await fetch(`${server.base}/publish`, {
      method: 'OPTIONS',
      headers: { origin: evil, 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    // A WebSocket handshake carries cookies whatever CORS says: they are not used either.
    const ws = await openWs(`${server.wsBase}/ws`, { origin: evil, cookie: 'session=sekrit' });
    ws.send({ type: 'auth' });
    await ws.waitFor((frame) => frame.type === 'welcome');
    expect(cookies).toEqual([undefined, undefined, undefined]);
    // Without an Origin (not a cross-origin page) cookies are left alone.
    await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'session=sekrit' },
      body: '{"channel":"a","data":1}',
    });
    expect(cookies.at(-1)).toBe('session=sekrit');
  });
});
