import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createTidewireServer, isPublishError, type PublishContext } from '../src/index.js';
import { silentLogger, startServer } from './utils/server.js';
import { openSse } from './utils/sse-client.js';
import { openAuthedWs, openWs } from './utils/ws-client.js';

async function listen(handler?: (req: IncomingMessage, res: ServerResponse) => void) {
  const http = handler === undefined ? createServer() : createServer(handler);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  );
  return { http, origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

describe('createTidewireServer', () => {
  it('should leave other paths to the server own request listener when attached', async () => {
    const { http, origin } = await listen((_req, res) => res.end('app'));
    const tw = createTidewireServer({ logger: silentLogger });
    onTestFinished(() => tw.close());
    const detach = tw.attach(http);
    expect(await (await fetch(`${origin}/other`)).text()).toBe('app');
    expect((await fetch(`${origin}/tidewire/publish`)).status).toBe(405);
    detach();
    expect(await (await fetch(`${origin}/tidewire/publish`)).text()).toBe('app');
  });

  it('should answer upgrades outside its path with 404 when nobody else handles them', async () => {
    const { http, origin } = await listen();
    const tw = createTidewireServer({ logger: silentLogger });
    onTestFinished(() => tw.close());
    tw.attach(http);
    await expect(openWs(`${origin.replace('http', 'ws')}/elsewhere`)).rejects.toThrow('404');
  });

  it('should work as Connect-style middleware under a mount path', async () => {
    const tw = createTidewireServer({ path: '/rt', logger: silentLogger });
    onTestFinished(() => tw.close());
    const { origin } = await listen((req, res) =>
      tw.handleRequest(req, res, () => {
        res.statusCode = 418;
        res.end();
      }),
    );
    expect((await fetch(`${origin}/elsewhere`)).status).toBe(418);
    const sse = await openSse(`${origin}/rt/sse?channel=a`);
    expect(sse.status).toBe(200);
    sse.close();
  });

  it('should use the Express originalUrl when a router stripped the mount path', async () => {
    const tw = createTidewireServer({ logger: silentLogger });
    onTestFinished(() => tw.close());
    const { origin } = await listen((req, res) => {
      const stripped = Object.assign(req, {
        originalUrl: req.url,
        url: req.url?.replace('/tidewire', ''),
      });
      tw.handleRequest(stripped, res, () => res.writeHead(404).end());
    });
    const response = await fetch(`${origin}/tidewire/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"channel":"a","data":1}',
    });
    expect(response.status).toBe(200);
  });

  it('should validate server-side publishes with PublishError codes', async () => {
    const tw = createTidewireServer({ logger: silentLogger, limits: { maxDataBytes: 8 } });
    onTestFinished(() => tw.close());
    const codeOf = async (run: () => Promise<unknown>): Promise<string | undefined> => {
      try {
        await run();
      } catch (error) {
        return isPublishError(error) ? error.code : 'other';
      }
      return undefined;
    };
    expect(await codeOf(() => tw.publish('bad name', 1))).toBe('invalid_channel');
    expect(await codeOf(() => tw.publish('a', 1, { type: 'bad type' }))).toBe('bad_request');
    expect(await codeOf(() => tw.publish('a', undefined))).toBe('bad_request');
    expect(await codeOf(() => tw.publish('a', 'a long string'))).toBe('too_large');
    expect(await codeOf(() => tw.publish('a', 1))).toBeUndefined();
  });

  it('should give ids that increase across channels and carry the epoch', async () => {
    const tw = createTidewireServer({ logger: silentLogger });
    onTestFinished(() => tw.close());
    const ids = [
      (await tw.publish('a', 1)).id,
      (await tw.publish('b', 2)).id,
      (await tw.publish('a', 3)).id,
    ];
    const [epoch] = ids[0]!.split('-');
    expect(ids).toEqual([`${epoch}-1`, `${epoch}-2`, `${epoch}-3`]);
  });

  it('should call onPublish for every accepted event, whatever its path', async () => {
    const seen: Array<Pick<PublishContext<unknown>, 'channel' | 'source' | 'data'>> = [];
    const server = await startServer({
      onPublish: ({ channel, source, data }) => seen.push({ channel, source, data }),
    });
    server.tw.publish('a', 1);
    await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"channel":"b","data":2}',
    });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'publish', ref: '1', channel: 'c', data: 3 });
    await ws.waitFor((f) => f.type === 'ack');
    expect(seen).toEqual([
      { channel: 'a', source: 'server', data: 1 },
      { channel: 'b', source: 'http', data: 2 },
      { channel: 'c', source: 'websocket', data: 3 },
    ]);
  });

  it('should report connections, subscriptions and channels in stats', async () => {
    const server = await startServer();
    const { id } = await server.tw.publish('a', 1);
    const sse = await openSse(`${server.base}/sse?channel=a&channel=b`);
    await sse.waitFor((f) => f.type === 'subscribed' && f.channel === 'b');
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'a' });
    await ws.waitFor((f) => f.type === 'subscribed');
    expect(await server.tw.stats()).toEqual({
      connections: { sse: 1, websocket: 1 },
      subscriptions: 3,
      channels: {
        a: { subscribers: 2, history: 1, lastId: id },
        b: { subscribers: 1, history: 0 },
      },
      engine: { epoch: id.split('-')[0], position: id, health: { ready: true } },
    });
  });

  it('should close WebSockets with 1001 on close, and refuse publishes after it', async () => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    const closing = server.tw.close();
    expect(server.tw.close()).toBe(closing);
    await closing;
    expect((await ws.closed).code).toBe(1001);
    await expect(server.tw.publish('a', 1)).rejects.toThrow(/closing/);
  });
});
