import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { openStream, type Stream } from '../src/stream';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { until } from './int-server';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A plain SSE endpoint: event n has id n; it honours Last-Event-ID and counts requests. */
async function plainSse(total: number) {
  const seen: { lastEventId: string | undefined; auth: string | undefined }[] = [];
  const open = new Set<ServerResponse>();
  const http = createServer((req, res) => {
    seen.push({
      lastEventId: req.headers['last-event-id'] as string | undefined,
      auth: req.headers.authorization,
    });
    if (Number(req.headers['last-event-id'] ?? 0) >= total) {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('retry: 10\n\n');
    open.add(res);
    let n = Number(req.headers['last-event-id'] ?? 0);
    const timer = setInterval(() => {
      if (++n > total) res.end();
      else res.write(`id: ${n}\ndata: event ${n}\n\n`);
    }, 2);
    res.on('close', () => {
      clearInterval(timer);
      open.delete(res);
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  closers.push(() => {
    http.closeAllConnections();
    http.close();
  });
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/events`;
  const kill = () => {
    for (const res of open) res.socket?.destroy();
  };
  return { url, seen, kill };
}

describe('openStream against plain endpoints', () => {
  it('should resume a plain SSE endpoint with Last-Event-ID after the connection is killed, then stop on 204', async () => {
    const server = await plainSse(60);
    let n = 0;
    const s: Stream = openStream(server.url, {
      getToken: () => `t${++n}`,
      retryDelay: () => 5,
    });
    closers.push(() => s.close());
    const got: unknown[] = [];
    s.on('message', (m) => got.push(m.data));
    await until(() => got.length >= 10);
    server.kill();
    await until(() => s.getState().status === 'failed', 8000);
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => `event ${i + 1}`));
    expect(s.getState()).toMatchObject({ error: { code: 'no_content' } });
    expect(server.seen[1]?.lastEventId).toMatch(/^\d+$/);
    expect(server.seen.map((r) => r.auth)).toEqual(server.seen.map((_, i) => `Bearer t${i + 1}`));
  });

  it('should reconnect a plain WebSocket endpoint and send the auth message first', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    closers.push(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    });
    const firsts: string[] = [];
    wss.on('connection', (socket) => {
      socket.once('message', (data) => {
        firsts.push(String(data));
        socket.send(`hello ${firsts.length}`);
        if (firsts.length === 1) setTimeout(() => socket.terminate(), 5);
      });
    });
    const s = openStream(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
      transport: 'websocket',
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      getToken: () => 'tok',
      authMessage: (token) => JSON.stringify({ token }),
      retryDelay: () => 5,
    });
    closers.push(() => s.close());
    const got: unknown[] = [];
    s.on('message', (m) => got.push(String(m.data)));
    await until(() => got.length === 2);
    expect(got).toEqual(['hello 1', 'hello 2']);
    expect(firsts).toEqual(['{"token":"tok"}', '{"token":"tok"}']);
  });

  it('should end a WebSocket stream with too_large on a binary message over maxMessageBytes', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    closers.push(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    });
    wss.on('connection', (socket) => {
      socket.send(Buffer.alloc(1024));
      socket.send(Buffer.alloc(1025));
    });
    const s = openStream(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
      transport: 'websocket',
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      maxMessageBytes: 1024,
    });
    closers.push(() => s.close());
    const sizes: number[] = [];
    s.on('message', (m) => sizes.push((m.data as Buffer).byteLength));
    await until(() => s.getState().status === 'failed');
    expect(s.getState()).toMatchObject({ error: { code: 'too_large' } });
    expect(sizes).toEqual([1024]);
  });
});
