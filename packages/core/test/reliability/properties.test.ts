import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Client, createClient } from '../../src/client';
import { type ConnectionEvent, type ConnectionState, transition } from '../../src/connection';
import type { TidewireError } from '../../src/errors';
import type { TransportChoice } from '../../src/routing';
import type { Subscription } from '../../src/subscription';
import type { WebSocketConstructor } from '../../src/transports/websocket';
import { FakeSocket, type FakeStream, fakeSseFetch } from '../fakes';
import { fakeEnvironment } from '../helpers';

// Random interleavings of everything an app, a network and a server can do, against a small
// in-memory model of a Tidewire server behind the core's own fakes, on fake timers.

const CHANNELS = ['a', 'b', 'c'] as const;
const MAX_QUEUE = 3;
const CLOSE_DELAY = 50;

/** A Tidewire server in memory: one history, WebSocket and SSE endpoints, HTTP publish. */
function createModel() {
  let seq = 0;
  const history: { channel: string; seq: number }[] = [];
  const sockets = new Set<ModelSocket>();
  const streams: { s: FakeStream; channels: Set<string> }[] = [];
  const held: (() => void)[] = [];
  const m = { holdAcks: false, pendingPublishFrames: 0 };
  const idOf = (n: number) => `e-${n}`;
  const seqOf = (id: string | undefined) => (id ? Number(id.slice(2)) : Number.NaN);
  const frame = (channel: string, n: number) => ({
    type: 'event' as const,
    channel,
    id: idOf(n),
    event: 'message',
    data: n,
  });
  const after = (channels: Map<string, number>) =>
    history.filter((e) => (channels.get(e.channel) ?? Infinity) < e.seq);

  const append = (channel: string) => {
    const n = ++seq;
    history.push({ channel, seq: n });
    for (const ws of sockets)
      if (ws.readyState === 1 && ws.subs.has(channel)) ws.reply(frame(channel, n));
    for (const { s, channels } of streams)
      if (!s.aborted && channels.has(channel)) s.push(frame(channel, n), idOf(n));
    return idOf(n);
  };

  class ModelSocket extends FakeSocket {
    subs = new Set<string>();
    constructor(url: string) {
      super(url);
      sockets.add(this);
      setTimeout(() => this.readyState === 0 && this.open(), 0);
    }
    /** Server frames arrive later, like a real socket's. */
    reply(f: object) {
      queueMicrotask(() => this.readyState === 1 && this.receive(f as never));
    }
    override send(data: string) {
      super.send(data);
      const f = JSON.parse(data);
      if (f.type === 'auth') this.reply({ type: 'welcome', epoch: 'e', heartbeat: 15_000 });
      else if (f.type === 'subscribe') {
        this.subs.add(f.channel);
        this.reply({ type: 'subscribed', channel: f.channel, position: idOf(seq) });
        const since = f.since === undefined ? seq : seqOf(f.since);
        for (const e of after(new Map([[f.channel, since]]))) this.reply(frame(e.channel, e.seq));
      } else if (f.type === 'unsubscribe') this.subs.delete(f.channel);
      else if (f.type === 'publish') {
        m.pendingPublishFrames++;
        const ack = () => {
          m.pendingPublishFrames--;
          if (this.readyState === 1) this.reply({ type: 'ack', ref: f.ref, id: append(f.channel) });
        };
        if (m.holdAcks) held.push(ack);
        else ack();
      }
    }
  }

  const net = fakeSseFetch();
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    if (String(input).endsWith('/publish')) {
      const body = JSON.parse(String(init.body));
      return Response.json({ id: append(body.channel) });
    }
    const res = await net.fetch(input, init);
    const s = net.last();
    const channels = new Map<string, number>();
    for (const c of s.channels) {
      const [name, pos] = c.split('@') as [string, string | undefined];
      channels.set(name, pos === undefined ? seq : seqOf(pos));
    }
    s.push({ type: 'welcome', epoch: 'e', heartbeat: 15_000 });
    for (const c of channels.keys())
      s.push({ type: 'subscribed', channel: c, position: idOf(seq) });
    for (const e of after(channels)) s.push(frame(e.channel, e.seq), idOf(e.seq));
    streams.push({ s, channels: new Set(channels.keys()) });
    return res;
  };

  return {
    ...m,
    state: m,
    WebSocket: ModelSocket as unknown as WebSocketConstructor,
    fetch: fetch as typeof globalThis.fetch,
    append,
    seqOf,
    releaseAcks: () => {
      for (const ack of held.splice(0)) ack();
    },
    kill() {
      for (const ws of sockets) if (ws.readyState < 3) ws.drop(1006);
      for (const { s } of streams) if (!s.aborted) s.end();
    },
    expire() {
      for (const ws of sockets) if (ws.readyState === 1) ws.drop(4401, 'token_expired');
      for (const { s } of streams)
        if (!s.aborted) {
          s.push({ type: 'error', code: 'token_expired', message: 'expired' });
          s.end();
        }
    },
    /** Server-side subscriptions still held by open sockets and streams. */
    subscriptions: () =>
      [...sockets].filter((ws) => ws.readyState === 1).reduce((n, ws) => n + ws.subs.size, 0) +
      streams.filter(({ s }) => !s.aborted).length,
  };
}

type Command =
  | { t: 'sub'; ch: number; transport: TransportChoice; duplex: boolean }
  | { t: 'unsub'; i: number }
  | { t: 'resub'; i: number }
  | { t: 'serverPublish'; ch: number }
  | { t: 'publish'; ch: number }
  | { t: 'signal'; s: 'online' | 'offline' | 'visible' | 'hidden' }
  | { t: 'expire' }
  | { t: 'kill' }
  | { t: 'holdAcks'; on: boolean }
  | { t: 'advance'; ms: number }
  | { t: 'close' };

const ch = fc.integer({ min: 0, max: CHANNELS.length - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      t: fc.constant('sub' as const),
      ch,
      transport: fc.constantFrom<TransportChoice>('auto', 'sse', 'websocket'),
      duplex: fc.boolean(),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ t: fc.constant('unsub' as const), i: fc.nat(9) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('resub' as const), i: fc.nat(9) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('serverPublish' as const), ch }), weight: 8 },
  { arbitrary: fc.record({ t: fc.constant('publish' as const), ch }), weight: 3 },
  {
    arbitrary: fc.record({
      t: fc.constant('signal' as const),
      s: fc.constantFrom('online', 'offline', 'visible', 'hidden' as const),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant({ t: 'expire' as const }), weight: 1 },
  { arbitrary: fc.constant({ t: 'kill' as const }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('holdAcks' as const), on: fc.boolean() }), weight: 1 },
  {
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      ms: fc.constantFrom(0, 1, 10, 100, 1000, 5000),
    }),
    weight: 4,
  },
);

/** Every state `transition` can reach from `prev` in one step. */
function reachable(prev: ConnectionState): Set<string> {
  const error = { code: 'network', fatal: false } as TidewireError;
  const events: ConnectionEvent[] = [
    { type: 'start', online: true, attempt: 0 },
    { type: 'start', online: false, attempt: 0 },
    // Started while the client's other connection is failing: it waits its turn.
    { type: 'start', online: true, attempt: 1, wait: { delay: 1, error } },
    { type: 'stop' },
    { type: 'opened' },
    { type: 'lost', error, attempt: 1, delay: 1, online: true },
    { type: 'lost', error, attempt: 1, delay: 1, online: false },
    { type: 'failed', error },
    { type: 'retry' },
    { type: 'offline' },
  ];
  return new Set(events.map((e) => transition(prev, e).status));
}

const tick = async () => {
  for (let i = 0; i < 4; i++) await vi.advanceTimersByTimeAsync(0);
};

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => {
  vi.useRealTimers();
});

const stats = { runs: 0, delivered: 0 };

describe('random interleavings of app, network and server actions', () => {
  it('should keep every invariant of the client', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 15, maxLength: 60 }),
        fc.option(fc.nat(60), { freq: 3 }),
        async (list, closeAt) => {
          // close() at a random point in about a third of the runs.
          const commands: Command[] =
            closeAt === null
              ? list
              : [...list.slice(0, closeAt), { t: 'close' }, ...list.slice(closeAt)];
          const model = createModel();
          const { env, signal } = fakeEnvironment();
          const client: Client = createClient({
            url: 'http://127.0.0.1:1/tw',
            fetch: model.fetch,
            WebSocket: model.WebSocket,
            getToken: () => 'tok',
            environment: env,
            retryDelay: () => 100,
            closeDelay: CLOSE_DELAY,
            maxQueue: MAX_QUEUE,
            publishTimeout: 2000,
          });
          const problems: string[] = [];
          client.on('state', ({ transport, next, prev }) => {
            if (!reachable(prev).has(next.status))
              problems.push(`${transport}: illegal ${prev.status} → ${next.status}`);
          });
          const handles: { sub: Subscription; seqs: number[]; ch: string }[] = [];
          const handlesEver: typeof handles = [];
          let unsettled = 0;
          let closed = false;
          const subscribe = (name: string, transport: TransportChoice, duplex: boolean) => {
            if (closed) {
              expect(() => client.subscribe(name)).toThrow(
                expect.objectContaining({ code: 'client_closed' }),
              );
              return;
            }
            const sub = client.subscribe(name, { transport, duplex });
            const h = { sub, seqs: [] as number[], ch: name };
            sub.on('event', (e) => {
              const n = model.seqOf(e.id);
              const last = h.seqs[h.seqs.length - 1] ?? -1;
              if (e.channel !== name) problems.push(`${name} got ${e.channel}`);
              if (n <= last) problems.push(`${name}: ${e.id} after e-${last}`);
              h.seqs.push(n);
            });
            handles.push(h);
            handlesEver.push(h);
          };
          const release = (i: number) => {
            const [h] = handles.splice(i % handles.length, 1);
            h?.sub.unsubscribe();
            return h;
          };

          for (const c of commands) {
            switch (c.t) {
              case 'sub':
                subscribe(CHANNELS[c.ch]!, c.transport, c.duplex);
                break;
              case 'unsub':
                if (handles.length) release(c.i);
                break;
              case 'resub': {
                const h = handles.length ? release(c.i) : undefined;
                if (h) subscribe(h.ch, 'auto', false);
                break;
              }
              case 'serverPublish':
                model.append(CHANNELS[c.ch]!);
                break;
              case 'publish':
                unsettled++;
                client
                  .publish(CHANNELS[c.ch]!, 1)
                  .catch((e: TidewireError) => {
                    if (closed && e.code !== 'client_closed' && e.code !== 'queue_full')
                      problems.push(`publish after close: ${e.code}`);
                  })
                  .finally(() => unsettled--);
                break;
              case 'signal':
                signal(c.s);
                break;
              case 'expire':
                model.expire();
                break;
              case 'kill':
                model.kill();
                break;
              case 'holdAcks':
                model.state.holdAcks = c.on;
                if (!c.on) model.releaseAcks();
                break;
              case 'advance':
                await vi.advanceTimersByTimeAsync(c.ms);
                break;
              case 'close':
                client.close();
                closed = true;
                break;
            }
            await tick();
            // The outgoing queue stays within its bound (HTTP publishes settle within the tick).
            if (unsettled > MAX_QUEUE) problems.push(`${unsettled} publishes unsettled`);
            if (problems.length) break;
          }

          // Settle: back online and visible, acks flowing, time passing.
          signal('online');
          signal('visible');
          model.state.holdAcks = false;
          model.releaseAcks();
          await vi.advanceTimersByTimeAsync(5000);
          await tick();
          // Liveness: every handle still wanted gets a new event on its channel.
          if (!closed) {
            const expected = new Map<string, number>();
            for (const name of CHANNELS) expected.set(name, model.seqOf(model.append(name)));
            await vi.advanceTimersByTimeAsync(1000);
            await tick();
            for (const h of handles)
              if (h.sub.getSnapshot().status !== 'failed' && !h.seqs.includes(expected.get(h.ch)!))
                problems.push(
                  `${h.ch}: final event missing (${JSON.stringify(h.sub.getSnapshot())})`,
                );
          }
          // Ref counts return to zero: releasing every handle stops everything.
          for (const h of handles.splice(0)) h.sub.unsubscribe();
          await vi.advanceTimersByTimeAsync(CLOSE_DELAY + 1);
          await tick();
          const state = client.getState();
          if (state.sse.status !== 'idle' && state.sse.status !== 'failed')
            problems.push(`sse still ${state.sse.status}`);
          if (state.websocket.status !== 'idle' && state.websocket.status !== 'failed')
            problems.push(`websocket still ${state.websocket.status}`);
          if (model.subscriptions() !== 0)
            problems.push(`${model.subscriptions()} left on the server`);
          client.close();
          await vi.advanceTimersByTimeAsync(3000);
          await tick();
          if (unsettled !== 0) problems.push(`${unsettled} publishes never settled`);
          if (vi.getTimerCount() !== 0) problems.push(`${vi.getTimerCount()} timers left`);
          stats.runs++;
          stats.delivered += handlesEver.reduce((a, h) => a + h.seqs.length, 0);
          expect(problems).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
    expect(stats.delivered).toBeGreaterThan(stats.runs);
  }, 60_000);
});
