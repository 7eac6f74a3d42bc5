import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { CorsOptions } from '../src/index.js';
import { startServer } from './utils/server.js';
import { errorBody, openSse } from './utils/sse-client.js';
import { openWs } from './utils/ws-client.js';

const app = 'http://localhost:5173';
const evil = 'http://evil.example';

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
    const publish = await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { origin: app, 'content-type': 'application/json' },
      body: '{"channel":"a","data":1}',
    });
    expect(publish.status).toBe(200);
    expect(publish.headers.get('access-control-allow-origin')).toBe(app);
  });

  it.each<[string, CorsOptions | undefined]>([
    ['no CORS option (same-origin only)', undefined],
    ['an allow-list', { origins: [app] }],
    ['a predicate', { origins: (origin) => origin.endsWith(':5173') }],
  ])('should refuse a foreign origin with %s on every endpoint', async (_name, cors) => {
    const server = await startServer(cors === undefined ? {} : { cors });
    for (const [path, method] of [
      ['/sse?channel=a', 'GET'],
      ['/publish', 'POST'],
      ['/sse', 'OPTIONS'],
    ] as const) {
      const response = await fetch(`${server.base}${path}`, { method, headers: { origin: evil } });
      expect(response.status).toBe(403);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect(await errorBody(response)).toMatchObject({ code: 'origin_not_allowed' });
    }
    await expect(openWs(`${server.wsBase}/ws`, { origin: evil })).rejects.toThrow('403');
    expect(server.tw.stats().connections).toEqual({ sse: 0, websocket: 0 });
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

  it('should echo any origin with "*" so that credentials still work', async () => {
    const server = await startServer({ cors: { origins: '*' } });
    const response = await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { origin: evil, 'content-type': 'application/json' },
      body: '{"channel":"a","data":1}',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(evil);
  });
});
