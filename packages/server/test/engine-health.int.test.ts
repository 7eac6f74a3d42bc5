import { CloseCode } from '@tidewire/core/protocol';
import { describe, expect, it } from 'vitest';
import { createControlledEngine } from '../../../testing/controlled-engine.js';
import { isPublishError } from '../src/index.js';
import { startServer } from './utils/server.js';
import { errorBody, openSse } from './utils/sse-client.js';
import { subscribe, type Transport } from './utils/transport.js';
import { waitFor } from './utils/wait.js';
import { openAuthedWs, openWs } from './utils/ws-client.js';

const down = { ready: false, reason: 'the history store is unreachable' } as const;

describe('readiness', () => {
  it('should answer GET {path}/ready from the engine health', async () => {
    const engine = createControlledEngine();
    const server = await startServer({ engine });
    const ready = await fetch(`${server.base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    engine.setHealth(down);
    const notReady = await fetch(`${server.base}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual(down);
  });

  it('should report not ready while the server is closing', async () => {
    const server = await startServer();
    const sub = await subscribe('sse', server, [{ channel: 'a' }]);
    const closing = server.tw.close();
    const response = await fetch(`${server.base}/ready`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ ready: false, reason: 'the server is closing' });
    await sub.ended;
    await closing;
  });

  it('should refuse new streams and upgrades with 503 unavailable and Retry-After while the engine is not ready', async () => {
    const engine = createControlledEngine();
    const server = await startServer({ engine });
    engine.setHealth(down);
    const refused = await fetch(`${server.base}/sse?channel=a`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await errorBody(refused)).toMatchObject({ code: 'unavailable' });
    await expect(openWs(`${server.wsBase}/ws`)).rejects.toThrow('503');
    expect((await server.tw.stats()).connections).toEqual({ sse: 0, websocket: 0 });

    engine.setHealth({ ready: true });
    const sse = await openSse(`${server.base}/sse?channel=a`);
    expect(sse.status).toBe(200);
    await openAuthedWs(`${server.wsBase}/ws`);
  });
});

describe('a publish the engine cannot store', () => {
  const failing = async () => {
    const warnings: string[] = [];
    const published: string[] = [];
    const engine = createControlledEngine();
    const server = await startServer({
      engine,
      logger: { warn: (message) => warnings.push(message), error: () => {} },
      onPublish: ({ id }) => published.push(id),
    });
    engine.failAppends(new Error('connection lost'));
    return { server, engine, warnings, published };
  };

  it('should answer HTTP with 503 unavailable and Retry-After', async () => {
    const { server, warnings, published } = await failing();
    const response = await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"channel":"a","data":1}',
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await errorBody(response)).toMatchObject({ code: 'unavailable' });
    expect(published).toEqual([]);
    expect(warnings).toEqual(['publish failed: the engine could not store the event']);
  });

  it('should answer a WebSocket publish with an unavailable error carrying its ref, and keep the socket', async () => {
    const { server, engine } = await failing();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'publish', ref: 'p1', channel: 'a', data: 1 });
    expect(await ws.waitFor((f) => f.type === 'error')).toEqual({
      type: 'error',
      code: 'unavailable',
      message: expect.any(String),
      ref: 'p1',
    });
    engine.failAppends(undefined);
    ws.send({ type: 'publish', ref: 'p2', channel: 'a', data: 2 });
    expect(await ws.waitFor((f) => f.type === 'ack')).toMatchObject({ ref: 'p2' });
  });

  it('should reject publish() on the server object with PublishError unavailable', async () => {
    const { server } = await failing();
    const error: unknown = await server.tw.publish('a', 1).catch((e: unknown) => e);
    expect(isPublishError(error) && error.code).toBe('unavailable');
    expect((error as Error).cause).toEqual(new Error('connection lost'));
  });
});

describe.each<Transport>(['sse', 'websocket'])('an engine reset over %s', (transport) => {
  it('should end every connection retryably, and let clients resume without loss', async () => {
    const warnings: Array<{ message: string; details: unknown }> = [];
    const engine = createControlledEngine();
    const server = await startServer({
      engine,
      logger: { warn: (message, details) => warnings.push({ message, details }), error: () => {} },
    });
    const first = await subscribe(transport, server, [{ channel: 'a' }, { channel: 'b' }]);
    const before = [(await server.tw.publish('a', 1)).id, (await server.tw.publish('b', 2)).id];
    await waitFor(() => first.events().length === 2);

    engine.reset('the tail was trimmed past its cursor');
    await first.ended;
    expect(warnings).toEqual([
      {
        message: 'engine reset: ending every connection so that clients resume',
        details: { reason: 'the tail was trimmed past its cursor', connections: 1 },
      },
    ]);
    await waitFor(async () => (await server.tw.stats()).connections[transport] === 0);

    const during = [(await server.tw.publish('a', 3)).id, (await server.tw.publish('b', 4)).id];
    const again = await subscribe(transport, server, [
      { channel: 'a', since: before[0]! },
      { channel: 'b', since: before[1]! },
    ]);
    const after = (await server.tw.publish('a', 5)).id;
    await waitFor(() => again.events().some((e) => e.id === after));
    expect(again.events().map((e) => e.id)).toEqual([...during, after]);
    expect(again.frames().filter((f) => f.type === 'gap')).toEqual([]);
  });
});

describe.each<Transport>(['sse', 'websocket'])(
  'a replay the engine cannot read over %s',
  (transport) => {
    it('should end the connection retryably and log why', async () => {
      const errors: string[] = [];
      const engine = createControlledEngine();
      const server = await startServer({
        engine,
        logger: { warn: () => {}, error: (message) => errors.push(message) },
      });
      const { id } = await server.tw.publish('a', 1);
      engine.failReads(new Error('connection lost'));
      const sub = await subscribe(transport, server, [{ channel: 'a', since: id }]);
      await sub.ended;
      expect(errors).toEqual(['replay failed']);
      expect(sub.events()).toEqual([]);
    });
  },
);

describe('an engine reset over WebSocket', () => {
  it('should close with 1012', async () => {
    const engine = createControlledEngine();
    const server = await startServer({ engine });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    engine.reset('failover');
    expect(await ws.closed).toEqual({ code: CloseCode.ServiceRestart, reason: 'service restart' });
  });
});
