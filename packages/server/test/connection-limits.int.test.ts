import { CloseCode } from '@tidewire/core/protocol';
import { describe, expect, it, vi } from 'vitest';
import { startServer } from './utils/server.js';
import { openSse } from './utils/sse-client.js';
import { openAuthedWs, openWs } from './utils/ws-client.js';

const asPrincipal = (token: string | undefined) => (token ? { principal: token } : undefined);
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
/** One stream request read whole: for answers that are not a stream. */
const request = async (url: string, init: { headers?: Record<string, string> } = {}) => {
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...init.headers } });
  if (response.status === 200) {
    await response.body?.cancel();
    return { status: 200, retryAfter: null, code: undefined };
  }
  const { code } = (await response.json()) as { code: string };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), code };
};

describe('maxConnections', () => {
  it('should refuse streams and upgrades beyond it with 503 and Retry-After, and admit again once one closes', async () => {
    const server = await startServer({ limits: { maxConnections: 2 } });
    const first = await openSse(`${server.base}/sse?channel=a`);
    await first.waitFor((f) => f.type === 'welcome');
    await openAuthedWs(`${server.wsBase}/ws`);

    expect(await request(`${server.base}/sse?channel=a`)).toEqual({
      status: 503,
      retryAfter: '5',
      code: 'unavailable',
    });
    await expect(openWs(`${server.wsBase}/ws`)).rejects.toThrow('503');

    first.close();
    await vi.waitFor(async () => expect((await server.tw.stats()).connections.sse).toBe(0));
    expect((await request(`${server.base}/sse?channel=a`)).status).toBe(200);
  });
});

describe('maxConnectionsPerPrincipal', () => {
  it('should hold each principal to its slots on both transports, and leave the others alone', async () => {
    const server = await startServer({
      authenticate: asPrincipal,
      limits: { maxConnectionsPerPrincipal: 2 },
    });
    const streams = [];
    for (let i = 0; i < 2; i++) {
      const stream = await openSse(`${server.base}/sse?channel=a`, bearer('alice'));
      await stream.waitFor((f) => f.type === 'welcome');
      streams.push(stream);
    }
    expect(await request(`${server.base}/sse?channel=a`, bearer('alice'))).toMatchObject({
      status: 429,
      code: 'rate_limited',
    });

    const socket = await openWs(`${server.wsBase}/ws`);
    socket.send({ type: 'auth', token: 'alice' });
    expect((await socket.closed).code).toBe(CloseCode.TooManyRequests);

    expect((await request(`${server.base}/sse?channel=a`, bearer('bob'))).status).toBe(200);

    // A slot is given back when its stream ends.
    streams[0]?.close();
    await vi.waitFor(async () => {
      expect((await request(`${server.base}/sse?channel=a`, bearer('alice'))).status).toBe(200);
    });
  });

  it('should move a WebSocket to the slots of the principal it authenticates as in-band', async () => {
    const server = await startServer({
      authenticate: asPrincipal,
      limits: { maxConnectionsPerPrincipal: 1 },
    });
    const socket = await openAuthedWs(`${server.wsBase}/ws`, 'alice');
    socket.send({ type: 'auth', token: 'bob' });
    await vi.waitFor(() =>
      expect(socket.frames.filter((f) => f.type === 'welcome')).toHaveLength(2),
    );
    // Alice's slot was given back: she may connect again, and Bob's one slot is taken.
    expect((await request(`${server.base}/sse?channel=a`, bearer('alice'))).status).toBe(200);
    expect((await request(`${server.base}/sse?channel=a`, bearer('bob'))).status).toBe(429);
  });
});
