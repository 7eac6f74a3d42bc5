import { CloseCode } from '@tidewire/core/protocol';
import { describe, expect, it } from 'vitest';
import { createControlledEngine } from '../../../testing/controlled-engine.js';
import {
  createTidewireServer,
  type Engine,
  isPublishError,
  type TimerHandle,
  type Timers,
} from '../src/index.js';
import { startServer } from './utils/server.js';
import { errorBody, openSse } from './utils/sse-client.js';
import { subscribe, type Transport } from './utils/transport.js';
import { waitFor } from './utils/wait.js';
import { openAuthedWs, openWs } from './utils/ws-client.js';

const down = { ready: false, reason: 'the history store is unreachable' } as const;

/**
 * Timers and a clock that move only when the test says: the server's readiness probe (and
 * heartbeats, which these tests never reach) run at exact times. Due timers run in time order.
 */
function manualClock() {
  let time = 0;
  let next = 0;
  const pending = new Map<number, { at: number; every?: number; run: () => void }>();
  const add = (run: () => void, ms: number, every?: number): TimerHandle => {
    next += 1;
    pending.set(next, { at: time + Math.max(0, ms), run, ...(every ? { every } : {}) });
    return next;
  };
  const timers: Timers = {
    setTimeout: (run, ms) => add(run, ms),
    clearTimeout: (handle) => pending.delete(handle as number),
    setInterval: (run, ms) => add(run, ms, Math.max(1, ms)),
    clearInterval: (handle) => pending.delete(handle as number),
  };
  return {
    timers,
    now: () => time,
    /** Moves the clock by `ms`, running every timer that falls due on the way. */
    advance(ms: number) {
      const end = time + ms;
      for (;;) {
        let due: [number, { at: number; every?: number; run: () => void }] | undefined;
        for (const entry of pending)
          if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
        if (!due) break;
        const [handle, timer] = due;
        time = timer.at;
        if (timer.every === undefined) pending.delete(handle);
        else timer.at += timer.every;
        timer.run();
      }
      time = end;
    },
  };
}

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

describe.each<Transport>(['sse', 'websocket'])(
  'a node whose engine stays not ready over %s',
  (transport) => {
    it('should end every connection retryably after staleAfterMs of not ready, and let clients resume elsewhere', async () => {
      const clock = manualClock();
      const warnings: Array<{ message: string; details: unknown }> = [];
      const engine = createControlledEngine();
      const server = await startServer({
        engine,
        timers: clock.timers,
        now: clock.now,
        logger: {
          warn: (message, details) => warnings.push({ message, details }),
          error: () => {},
        },
      });
      const sub = await subscribe(transport, server, [{ channel: 'a' }]);
      const { id } = await server.tw.publish('a', 1);
      await waitFor(() => sub.events().length === 1);

      engine.setHealth(down);
      clock.advance(1000); // the probe sees it
      expect((await server.tw.stats()).engine).toEqual({
        epoch: engine.epoch,
        position: id,
        health: down,
        notReadyForMs: 0,
      });
      clock.advance(30_000 - 1);
      expect((await server.tw.stats()).connections[transport]).toBe(1);
      expect(warnings).toEqual([]);
      clock.advance(1);
      await sub.ended;
      expect(warnings).toEqual([
        {
          message: 'engine not ready for too long: ending every connection so that clients move',
          details: { reason: down.reason, notReadyForMs: 30_000, connections: 1 },
        },
      ]);
      await waitFor(async () => (await server.tw.stats()).connections[transport] === 0);
      // Still refusing, still live.
      expect((await fetch(`${server.base}/ready`)).status).toBe(503);
      expect((await fetch(`${server.base}/live`)).status).toBe(200);
      clock.advance(5000);
      expect(warnings).toHaveLength(1); // nothing left to end: said once

      // Back: the client resumes from its position and misses nothing.
      engine.setHealth({ ready: true });
      const during = (await server.tw.publish('a', 2)).id;
      const again = await subscribe(transport, server, [{ channel: 'a', since: id }]);
      await waitFor(() => again.events().some((e) => e.id === during));
      expect(again.frames().filter((f) => f.type === 'gap')).toEqual([]);
      expect((await server.tw.stats()).engine).toEqual({
        epoch: engine.epoch,
        position: during,
        health: { ready: true },
      });
    });

    it('should count staleAfterMs from when the engine says it lost its store, not from noticing', async () => {
      const clock = manualClock();
      const engine = createControlledEngine();
      const server = await startServer({ engine, timers: clock.timers, now: clock.now });
      const sub = await subscribe(transport, server, [{ channel: 'a' }]);
      clock.advance(60_000);
      // A networked engine notices a silent store late: here 10.5 s after its last answer.
      engine.setHealth({ ...down, since: clock.now() - 10_500 });
      clock.advance(1000); // the probe sees it
      expect((await server.tw.stats()).engine).toMatchObject({ notReadyForMs: 11_500 });
      // Ended 30 s after the last answer, on time: not at the probe that follows.
      clock.advance(18_500 - 1);
      expect((await server.tw.stats()).connections[transport]).toBe(1);
      clock.advance(1);
      await sub.ended;
    });

    it('should keep connections whose engine recovers within staleAfterMs', async () => {
      const clock = manualClock();
      const engine = createControlledEngine();
      const server = await startServer({
        engine,
        timers: clock.timers,
        now: clock.now,
        staleAfterMs: 5000,
      });
      const sub = await subscribe(transport, server, [{ channel: 'a' }]);
      engine.setHealth(down);
      clock.advance(4000);
      engine.setHealth({ ready: true });
      clock.advance(1000); // a probe sees it ready: the count starts over
      engine.setHealth(down);
      clock.advance(5000);
      expect((await server.tw.stats()).connections[transport]).toBe(1);
      clock.advance(1000);
      await sub.ended;
    });
  },
);

describe('a node whose engine stays not ready, over WebSocket', () => {
  it('should close with 1012 so that the client resumes', async () => {
    const clock = manualClock();
    const engine = createControlledEngine();
    const server = await startServer({
      engine,
      timers: clock.timers,
      now: clock.now,
      staleAfterMs: 2000,
    });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    engine.setHealth(down);
    clock.advance(3000);
    expect(await ws.closed).toEqual({ code: CloseCode.ServiceRestart, reason: 'service restart' });
  });
});

describe('staleAfterMs', () => {
  it('should refuse a value that is not positive', () => {
    for (const staleAfterMs of [0, -1, Number.NaN]) {
      expect(() => createTidewireServer({ staleAfterMs })).toThrow(/staleAfterMs must be positive/);
    }
  });
});

describe('liveness', () => {
  it('should answer GET {path}/live with 200 whatever the engine and while closing', async () => {
    const engine = createControlledEngine();
    const server = await startServer({ engine });
    const live = await fetch(`${server.base}/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ live: true });
    engine.setHealth(down);
    expect((await fetch(`${server.base}/live`)).status).toBe(200);
    expect((await fetch(`${server.base}/live`, { method: 'POST' })).status).toBe(405);
    const sub = await subscribe('sse', server, [{ channel: 'a' }]).catch(() => undefined);
    expect(sub).toBeUndefined(); // refused: not ready
    engine.setHealth({ ready: true });
    const open = await subscribe('sse', server, [{ channel: 'a' }]);
    const closing = server.tw.close();
    expect((await fetch(`${server.base}/live`)).status).toBe(200);
    await open.ended;
    await closing;
  });

  it('should report the engine in stats() and list subscribed channels when the engine cannot answer', async () => {
    const engine = createControlledEngine();
    let lost = false;
    // The same engine, with info() failing once `lost` is set, as across a lost connection.
    const server = await startServer({
      engine: Object.assign(Object.create(engine) as Engine, {
        info: (channel: string) =>
          lost ? Promise.reject(new Error('connection lost')) : engine.info(channel),
      }),
    });
    await subscribe('websocket', server, [{ channel: 'a' }]);
    const { id } = await server.tw.publish('b', 1);
    lost = true;
    engine.setHealth(down);
    const stats = await server.tw.stats();
    expect(stats.channels).toEqual({ a: { subscribers: 1 } });
    expect(stats.engine).toEqual({
      epoch: id.split('-')[0],
      position: id,
      health: down,
      notReadyForMs: expect.any(Number),
    });
  });
});
