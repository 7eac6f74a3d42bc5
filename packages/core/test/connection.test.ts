import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRetrySchedule, exponentialBackoff, type RetrySchedule } from '../src/backoff';
import { type ConnectionState, createConnection, type Sink, transition } from '../src/connection';
import { AuthError, ConnectionError } from '../src/errors';
import { createTokenSource, type GetToken } from '../src/token';
import { fakeEnvironment, flush } from './helpers';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('transition', () => {
  const idle: ConnectionState = { status: 'idle' };
  it('should return the same object for events that do not apply', () => {
    expect(transition(idle, { type: 'opened' })).toBe(idle);
    expect(transition(idle, { type: 'retry' })).toBe(idle);
    const open = transition({ status: 'connecting', attempt: 0 }, { type: 'opened' });
    expect(transition(open, { type: 'start', online: true, attempt: 0 })).toBe(open);
  });

  it('should go to offline instead of waiting when a loss happens offline', () => {
    const error = new ConnectionError('network');
    const lost = { type: 'lost', error, attempt: 1, delay: 10 } as const;
    expect(transition({ status: 'open' }, { ...lost, online: true })).toMatchObject({
      status: 'waiting',
      delay: 10,
    });
    expect(transition({ status: 'open' }, { ...lost, online: false }).status).toBe('offline');
  });

  it('should stop from any state and restart from failed', () => {
    const failed: ConnectionState = { status: 'failed', error: new AuthError('forbidden') };
    expect(transition(failed, { type: 'stop' })).toEqual(idle);
    expect(transition(failed, { type: 'start', online: true, attempt: 0 })).toEqual({
      status: 'connecting',
      attempt: 0,
    });
  });
});

/** What a second connection shares with the first: the client's environment and retry schedule. */
interface Shared extends ReturnType<typeof fakeEnvironment> {
  schedule: RetrySchedule;
}

function setup(opts: { getToken?: GetToken; heartbeat?: number; shared?: Shared } = {}) {
  const f = opts.shared ?? fakeEnvironment();
  const sinks: Sink[] = [];
  const closed: number[] = [];
  const tokens = createTokenSource(opts.getToken ?? (() => 'tok'), f.env, 5000);
  const schedule =
    opts.shared?.schedule ?? createRetrySchedule(exponentialBackoff({ baseDelay: 1000 }), f.env);
  const sent: (string | undefined)[] = [];
  const states: ConnectionState[] = [];
  const messages: string[] = [];
  const conn = createConnection({
    env: f.env,
    tokens,
    schedule,
    connectTimeout: 3000,
    idleTimeout: 0,
    stableAfter: 5000,
    connect(token, sink) {
      const i = sinks.push(sink) - 1;
      sent.push(token);
      return { close: () => closed.push(i), send: (d) => messages.push(d) };
    },
    onState: (next) => states.push(next),
  });
  const last = () => sinks[sinks.length - 1]!;
  return { ...f, conn, sinks, closed, tokens: sent, schedule, states, messages, last };
}

describe('createConnection', () => {
  it('should connect with a token, open, and send', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    expect(t.tokens).toEqual(['tok']);
    t.last().onOpen(1000);
    expect(t.conn.state().status).toBe('open');
    expect(t.conn.send('x')).toBe(true);
    expect(t.messages).toEqual(['x']);
  });

  it('should wait a jittered delay after a loss, then reconnect', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    t.last().onOpen();
    t.last().onEnd(new ConnectionError('network'));
    expect(t.conn.state()).toMatchObject({ status: 'waiting', attempt: 1, delay: 500 });
    await vi.advanceTimersByTimeAsync(499);
    expect(t.sinks).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sinks).toHaveLength(2);
  });

  it('should stop with a failed state on a fatal error and not retry', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    t.last().onEnd(new AuthError('forbidden'));
    expect(t.conn.state()).toMatchObject({ status: 'failed', error: { code: 'forbidden' } });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.sinks).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should refresh the token and retry at once after one auth rejection, then back off, then fail', async () => {
    const getToken = vi.fn<GetToken>(({ reason }) => reason);
    const t = setup({ getToken });
    t.conn.start();
    await flush();
    t.last().onEnd(new AuthError('token_expired'));
    await flush();
    expect(t.tokens).toEqual(['connect', 'expired']);
    t.last().onEnd(new AuthError('unauthorized'));
    expect(t.conn.state()).toMatchObject({ status: 'waiting', delay: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    t.last().onEnd(new AuthError('unauthorized'));
    expect(t.conn.state()).toMatchObject({ status: 'failed', error: { code: 'auth_rejected' } });
  });

  it('should end in failed when getToken throws, with no token in the message', async () => {
    const t = setup({
      getToken: () => {
        throw new Error('secret-token-value');
      },
    });
    t.conn.start();
    await flush();
    const state = t.conn.state();
    expect(state).toMatchObject({ status: 'failed', error: { code: 'token_failed' } });
    expect(state.status === 'failed' && state.error.message).not.toContain('secret');
  });

  it('should time out a connection that never opens', async () => {
    const t = setup();
    t.conn.start();
    await vi.advanceTimersByTimeAsync(3000);
    expect(t.conn.state()).toMatchObject({ status: 'waiting', error: { code: 'connect_timeout' } });
    expect(t.closed).toEqual([0]);
  });

  it('should end as buffered when a stream request gets no opening within 4 s', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    t.last().onRequest();
    await vi.advanceTimersByTimeAsync(3999);
    expect(t.conn.state().status).toBe('connecting');
    await vi.advanceTimersByTimeAsync(1);
    expect(t.conn.state()).toMatchObject({ status: 'waiting', error: { code: 'buffered' } });
    // An opening in time ends the wait.
    await vi.advanceTimersByTimeAsync(1000);
    await flush();
    t.last().onRequest();
    await vi.advanceTimersByTimeAsync(1000);
    t.last().onOpen(15_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.conn.state().status).toBe('open');
  });

  it('should detect a silent open connection by its heartbeat', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    t.last().onOpen(1000);
    await vi.advanceTimersByTimeAsync(2000);
    t.last().onActivity();
    await vi.advanceTimersByTimeAsync(2000);
    expect(t.conn.state().status).toBe('open');
    await vi.advanceTimersByTimeAsync(500);
    expect(t.conn.state()).toMatchObject({ error: { code: 'heartbeat_timeout' } });
  });

  it('should cap the announced heartbeat, so a huge one cannot spin the watchdog', async () => {
    const t = setup();
    const setTimeout = vi.spyOn(t.env, 'setTimeout');
    t.conn.start();
    await flush();
    t.last().onOpen(1e9);
    await vi.advanceTimersByTimeAsync(60_000);
    // Uncapped, 2.5e9 ms overflows the timer, which then fires at once, again and again.
    expect(setTimeout.mock.calls.length).toBeLessThan(5);
    expect(t.conn.state().status).toBe('open');
    await vi.advanceTimersByTimeAsync(690_000);
    expect(t.states.map((s) => 'error' in s && s.error?.code)).toContain('heartbeat_timeout');
  });

  it('should pause while offline and retry at once when online', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    t.last().onOpen();
    t.signal('offline');
    expect(t.conn.state().status).toBe('open');
    t.last().onEnd(new ConnectionError('network'));
    expect(t.conn.state().status).toBe('offline');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.sinks).toHaveLength(1);
    t.signal('online');
    await flush();
    expect(t.sinks).toHaveLength(2);
  });

  it('should check a stale connection when the page becomes visible', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    t.last().onOpen(1000);
    t.signal('hidden');
    vi.setSystemTime(Date.now() + 10_000);
    t.signal('visible');
    expect(t.conn.state()).toMatchObject({
      status: 'waiting',
      error: { code: 'heartbeat_timeout' },
    });
  });

  it('should reset the attempt count only after a stable open', async () => {
    const t = setup();
    t.state.random = 0.999;
    t.conn.start();
    await flush();
    for (const attempt of [1, 2, 3]) {
      t.last().onOpen();
      t.last().onEnd(new ConnectionError('network'));
      const state = t.conn.state();
      expect(state).toMatchObject({ attempt });
      await vi.advanceTimersByTimeAsync(state.status === 'waiting' ? state.delay : 0);
    }
    t.last().onOpen();
    await vi.advanceTimersByTimeAsync(5000);
    t.last().onEnd(new ConnectionError('network'));
    expect(t.conn.state()).toMatchObject({ attempt: 1 });
  });

  it('should close the old link before a restart connects, and stay open meanwhile', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    t.last().onOpen();
    t.conn.restart();
    expect(t.closed).toEqual([0]);
    await flush();
    expect(t.sinks).toHaveLength(2);
    // The old link's calls change nothing: it ending does not end the new one.
    t.sinks[0]!.onEnd(new ConnectionError('network'));
    t.sinks[1]!.onOpen();
    expect(t.conn.state().status).toBe('open');
    expect(t.states.map((s) => s.status)).toEqual(['connecting', 'open']);
  });

  it('should count token refusals after a welcome until a connection was stable', async () => {
    const getToken = vi.fn<GetToken>(() => 'tok');
    const t = setup({ getToken });
    t.conn.start();
    await flush();
    // A server that welcomes and then refuses every token: once at once, once after backoff, then stop.
    t.last().onOpen();
    t.last().onEnd(new AuthError('unauthorized'));
    expect(t.conn.state()).toMatchObject({ status: 'waiting', delay: 0 });
    await flush();
    t.last().onOpen();
    t.last().onEnd(new AuthError('unauthorized'));
    const state = t.conn.state();
    expect(state).toMatchObject({ status: 'waiting', attempt: 2 });
    await vi.advanceTimersByTimeAsync(state.status === 'waiting' ? state.delay : 0);
    t.last().onOpen();
    t.last().onEnd(new AuthError('unauthorized'));
    expect(t.conn.state()).toMatchObject({ status: 'failed', error: { code: 'auth_rejected' } });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(getToken).toHaveBeenCalledTimes(3);
  });

  it('should forget token refusals once a connection stayed open for stableAfter', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    for (let i = 0; i < 4; i++) {
      t.last().onOpen();
      await vi.advanceTimersByTimeAsync(5000);
      t.last().onEnd(new AuthError('token_expired'));
      expect(t.conn.state()).toMatchObject({ status: 'waiting', delay: 0 });
      await flush();
    }
  });

  it('should share one schedule: a connection started while another fails waits the current delay', async () => {
    const sse = setup();
    sse.conn.start();
    await flush();
    sse.last().onEnd(new ConnectionError('network'));
    sse.last();
    expect(sse.conn.state()).toMatchObject({ status: 'waiting', attempt: 1, delay: 500 });
    await vi.advanceTimersByTimeAsync(200);
    sse.conn.stop();
    const websocket = setup({ shared: sse });
    websocket.conn.start();
    expect(websocket.conn.state()).toMatchObject({ status: 'waiting', attempt: 1, delay: 300 });
    await vi.advanceTimersByTimeAsync(299);
    expect(websocket.sinks).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(websocket.sinks).toHaveLength(1);
    websocket.last().onEnd(new ConnectionError('network'));
    expect(websocket.conn.state()).toMatchObject({ status: 'waiting', attempt: 2 });
  });

  it('should hold a tiny announced heartbeat to 100 ms, so the watchdog cannot fire at once', async () => {
    const t = setup();
    t.conn.start();
    await flush();
    t.last().onOpen(1);
    await vi.advanceTimersByTimeAsync(249);
    expect(t.conn.state().status).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(t.conn.state()).toMatchObject({ error: { code: 'heartbeat_timeout' } });
  });

  it('should leave no timer or listener after stop', async () => {
    const t = setup({ heartbeat: 1000 });
    t.conn.start();
    await flush();
    t.last().onOpen(1000);
    t.conn.stop();
    expect(t.closed).toEqual([0]);
    expect(vi.getTimerCount()).toBe(0);
    expect(t.listeners.size).toBe(0);
  });
});
