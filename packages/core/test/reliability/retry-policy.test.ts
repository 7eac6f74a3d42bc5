import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { exponentialBackoff, type RetryContext } from '../../src/backoff';
import { type Client, createClient } from '../../src/client';
import { ConnectionError, type TidewireError } from '../../src/errors';
import type { Transport, TransportChoice } from '../../src/routing';
import type { Subscription } from '../../src/subscription';
import type { TokenReason } from '../../src/token';
import { fakeEnvironment } from '../helpers';
import {
  type Attempt,
  type Behaviour,
  createFaultServer,
  down,
  type FaultServer,
  healthy,
  type ServerSocket,
  welcome,
} from './fault-server';

// The fault matrix of the client's retry policy: each server fault, for each transport choice,
// over ten simulated minutes on fake timers with a seeded random. Nothing is passed for
// `retryDelay`, `stableAfter` or `fallback`: the defaults are what is under test.
//
// The policy: one retry schedule per client across both transports (attempt numbers only reset
// after a connection stayed open `stableAfter`; a fallback move continues the schedule); full
// jitter capped at 30 s; `Retry-After` honoured as a floor capped at 300 s; the SSE `retry:`
// field clamped to [500 ms, 30 s]; three refused tokens in a row stop the connection; in-band
// refreshes are single-flight and rate-limited; the welcome's heartbeat is clamped.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const TEN_MINUTES = 10 * MINUTE;
/** The defaults under test. */
const STABLE_AFTER = 5 * SECOND;
const MAX_DELAY = 30 * SECOND;
const MAX_RETRY_AFTER = 300 * SECOND;
/** The longest delay a timer holds; a longer one fires at once. */
const MAX_TIMER = 2 ** 31 - 1;
const CHANNELS = ['prices', 'news'] as const;

/** How the app asks for its channels. */
interface Choice {
  name: string;
  transport: TransportChoice;
  duplex: boolean;
  /** The transports its channels may travel on. */
  uses: readonly Transport[];
}

const CHOICES: readonly Choice[] = [
  { name: 'auto, listen-only', transport: 'auto', duplex: false, uses: ['sse', 'websocket'] },
  { name: 'auto, duplex', transport: 'auto', duplex: true, uses: ['websocket', 'sse'] },
  { name: 'sse', transport: 'sse', duplex: false, uses: ['sse'] },
  { name: 'websocket', transport: 'websocket', duplex: false, uses: ['websocket'] },
];
const EXPLICIT = CHOICES.filter((choice) => choice.transport !== 'auto');

/** mulberry32: a tiny seeded PRNG, so every run jitters the same way. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A `waiting` state the client entered. */
interface Wait {
  at: number;
  transport: Transport;
  attempt: number;
  delay: number;
}

/** One call of `getToken`. */
interface TokenCall {
  at: number;
  reason: TokenReason;
}

/** A client under test, its server and everything recorded about it. */
interface Run {
  client: Client;
  server: FaultServer;
  subscriptions: Subscription[];
  waits: Wait[];
  tokens: TokenCall[];
  /** Calls of the environment's setTimeout so far. */
  timeouts: () => number;
  /** Fake clock time when the client was created. */
  origin: number;
}

let run: Run | undefined;

/** Creates a client with default policies in front of a server that behaves as `behaviour`, and subscribes. */
function start(choice: Choice, behaviour: Behaviour): Run {
  const server = createFaultServer(behaviour);
  let timeouts = 0;
  const { env } = fakeEnvironment({
    random: seededRandom(20_240_601),
    setTimeout: (callback, ms) => {
      timeouts++;
      return setTimeout(callback, ms);
    },
  });
  const tokens: TokenCall[] = [];
  const client = createClient({
    url: 'https://tidewire.test/tw',
    transport: choice.transport,
    fetch: server.fetch,
    WebSocket: server.WebSocket,
    environment: env,
    getToken: ({ reason }) => {
      tokens.push({ at: Date.now(), reason });
      return `token-${tokens.length}`;
    },
  });
  const waits: Wait[] = [];
  client.on('state', ({ transport, next }) => {
    if (next.status === 'waiting')
      waits.push({ at: Date.now(), transport, attempt: next.attempt, delay: next.delay });
  });
  const subscriptions = CHANNELS.map((channel) =>
    client.subscribe(channel, choice.duplex ? { duplex: true } : {}),
  );
  run = {
    client,
    server,
    subscriptions,
    waits,
    tokens,
    timeouts: () => timeouts,
    origin: Date.now(),
  };
  return run;
}

const STEP = 250;
/** Far above what ten minutes of any sane policy arm. */
const RUNAWAY_TIMEOUTS = 5000;

/**
 * Advances the fake clock by `ms` in small steps and returns the time simulated. It stops early
 * when the client arms timers without end (or `stopWhen` says so), so a broken policy fails in a
 * fraction of a second instead of spinning for minutes of real time. (A client that hammers the
 * server is cheap to simulate: the server goes silent once its answering budget is spent.)
 */
async function simulate(r: Run, ms: number, stopWhen = () => false): Promise<number> {
  let elapsed = 0;
  while (elapsed < ms) {
    const step = Math.min(STEP, ms - elapsed);
    await vi.advanceTimersByTimeAsync(step);
    elapsed += step;
    if (r.timeouts() > RUNAWAY_TIMEOUTS || stopWhen()) break;
  }
  return elapsed;
}

/** How many of `times` fall in each minute since `origin`. */
function perMinute(times: readonly number[], origin: number, minutes = 10): number[] {
  const counts = new Array<number>(minutes).fill(0);
  for (const at of times) {
    const minute = Math.floor((at - origin) / MINUTE);
    if (minute >= 0 && minute < minutes) counts[minute] = (counts[minute] ?? 0) + 1;
  }
  return counts;
}

/** The index of the first value smaller than the one before it; -1 when they never go down. */
const firstDecrease = (values: readonly number[]): number =>
  values.findIndex((value, i) => i > 0 && value < values[i - 1]!);

/** Attempt times that repeat the one before (attempts are logged in time order). */
const sameMillisecond = (r: Run): number[] =>
  r.server.attempts.map((a) => a.at).filter((at, i, all) => i > 0 && at === all[i - 1]);

const attemptsPerMinute = (r: Run): number[] =>
  perMinute(
    r.server.attempts.map((a) => a.at),
    r.origin,
  );

const statuses = (r: Run) => r.subscriptions.map((s) => s.getSnapshot().status);
const routes = (r: Run) => r.subscriptions.map((s) => s.getSnapshot().transport);

/** Checks that every wait's delay is a finite number in [low, high], naming the first few that are not. */
function expectDelaysWithin(r: Run, low: number, high: number): void {
  const outside = r.waits.filter(
    (w) => !(Number.isFinite(w.delay) && w.delay >= low && w.delay <= high),
  );
  expect(
    outside.length,
    `${outside.length} of ${r.waits.length} delays outside [${low}, ${high}], first: ${JSON.stringify(outside.slice(0, 3))}`,
  ).toBe(0);
}

/** The waits as `transport:attempt`, the first 40 of them. */
const attemptNumbers = (r: Run): string =>
  r.waits
    .slice(0, 40)
    .map((w) => `${w.transport}:${w.attempt}`)
    .join(' ');

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
});

afterEach(() => {
  try {
    run?.client.close();
    run = undefined;
    expect(vi.getTimerCount()).toBe(0);
  } finally {
    vi.useRealTimers();
  }
});

describe('a. server down for ten minutes, then back', () => {
  it.for(CHOICES)(
    'should make at most 12 attempts in the first minute and 10 in each later one, waiting finite delays up to 30 s ($name)',
    async (choice) => {
      const r = start(choice, down);
      const simulated = await simulate(r, TEN_MINUTES);
      const counts = attemptsPerMinute(r);
      expect(counts[0], `attempts per minute: ${counts}`).toBeLessThanOrEqual(12);
      expect(Math.max(...counts.slice(1)), `attempts per minute: ${counts}`).toBeLessThanOrEqual(
        10,
      );
      expect(r.tokens.length).toBeLessThanOrEqual(r.server.attempts.length);
      expectDelaysWithin(r, 0, MAX_DELAY);
      for (const attempt of r.server.attempts) expect(choice.uses).toContain(attempt.transport);
      expect(simulated, 'a runaway cut the simulation short').toBe(TEN_MINUTES);
    },
  );

  it.for(CHOICES)(
    'should keep one schedule across transports: attempt numbers never go down, no two attempts in one millisecond ($name)',
    async (choice) => {
      const r = start(choice, down);
      const simulated = await simulate(r, TEN_MINUTES);
      const numbers = attemptNumbers(r);
      expect(
        firstDecrease(r.waits.map((w) => w.attempt)),
        `attempt numbers of the waits: ${numbers}`,
      ).toBe(-1);
      // One more per failed attempt of either transport: the last wait counts them all.
      expect(r.waits.at(-1)?.attempt, `attempt numbers of the waits: ${numbers}`).toBe(
        r.server.attempts.length,
      );
      // A connection started by a fallback move waits out the current delay: it never connects
      // in the millisecond the other transport's attempt failed.
      expect(sameMillisecond(r)).toEqual([]);
      expect(simulated, 'a runaway cut the simulation short').toBe(TEN_MINUTES);
    },
  );

  it.for(CHOICES)(
    'should have every channel live within 30 s + stableAfter + 5 s of the server coming back, listen-only auto ones on SSE ($name)',
    async (choice) => {
      const r = start(choice, down);
      await simulate(r, TEN_MINUTES);
      if (choice.transport === 'auto') {
        // The server comes back while the outage has the channels waiting on their fallback
        // transport: the case where they could stay there for the fallback TTL.
        const fallback = choice.duplex ? 'sse' : 'websocket';
        const onFallback = () =>
          routes(r).every((route) => route === fallback) &&
          r.client.getState()[fallback].status === 'waiting';
        await simulate(r, 5 * MINUTE, onFallback);
        expect(onFallback(), `the outage left the channels waiting on ${fallback}`).toBe(true);
      }
      r.server.restart(healthy());
      // A wait of up to 30 s may be under way when the server returns.
      const simulated = await simulate(r, MAX_DELAY + STABLE_AFTER + 5 * SECOND);
      expect(statuses(r)).toEqual(['live', 'live']);
      if (choice.transport !== 'auto')
        expect(routes(r)).toEqual([choice.transport, choice.transport]);
      // Not stuck on WebSocket for the 5-minute fallback TTL.
      else if (!choice.duplex) expect(routes(r)).toEqual(['sse', 'sse']);
      expect(simulated, 'a runaway cut the simulation short').toBe(
        MAX_DELAY + STABLE_AFTER + 5 * SECOND,
      );
    },
  );
});

/** SSE: a stream that welcomes, then says `token_expired` and ends. WebSocket: welcome, then 4401. */
const rejectAfterWelcome: Behaviour = {
  sse(x) {
    x.open();
    x.frame(welcome());
    x.frame({ type: 'error', code: 'token_expired', message: 'token expired' });
    x.end();
  },
  connect: (socket) => socket.accept(),
  frame(socket, frame) {
    if (frame.type !== 'auth') return;
    socket.send(welcome());
    socket.close(4401, 'token_expired');
  },
};

/** SSE: HTTP 401. WebSocket: 4401 in answer to the auth frame. */
const rejectBeforeWelcome: Behaviour = {
  sse: (x) => x.refuse(401, 'unauthorized', { 'www-authenticate': 'Bearer error="invalid_token"' }),
  connect: (socket) => socket.accept(),
  frame(socket, frame) {
    if (frame.type === 'auth') socket.close(4401, 'unauthorized');
  },
};

describe.for([
  { name: 'after a welcome', behaviour: rejectAfterWelcome },
  { name: 'before any welcome', behaviour: rejectBeforeWelcome },
])('b. every token rejected $name', ({ behaviour }) => {
  it.for(CHOICES)(
    'should stop in failed with auth_rejected after at most 5 attempts per transport ($name)',
    async (choice) => {
      const r = start(choice, behaviour);
      const simulated = await simulate(r, TEN_MINUTES);
      const bound = 5 * choice.uses.length;
      expect(
        r.server.attempts.length,
        `attempts per minute: ${attemptsPerMinute(r)}`,
      ).toBeLessThanOrEqual(bound);
      expect(r.tokens.length).toBeLessThanOrEqual(bound);
      for (const subscription of r.subscriptions)
        expect(subscription.getSnapshot()).toMatchObject({
          status: 'failed',
          error: { code: 'auth_rejected', fatal: true },
        });
      const state = r.client.getState();
      const route = r.subscriptions[0]!.getSnapshot().transport;
      expect(state[route]).toMatchObject({ status: 'failed', error: { code: 'auth_rejected' } });
      // Nothing is still trying.
      expect(['idle', 'failed']).toContain(state.sse.status);
      expect(['idle', 'failed']).toContain(state.websocket.status);
      expect(simulated, 'a runaway cut the simulation short').toBe(TEN_MINUTES);
    },
  );

  it.for(EXPLICIT)(
    'should retry the first rejection at once with a fresh token, the second after the schedule, and stop at the third ($name)',
    async (choice) => {
      const r = start(choice, behaviour);
      await simulate(r, TEN_MINUTES);
      expect(r.server.attempts).toHaveLength(3);
      const [first, second, third] = r.server.attempts as [Attempt, Attempt, Attempt];
      expect(second.at - first.at).toBeLessThan(100);
      expect(second.token).not.toBe(first.token);
      const wait = r.waits.find((w) => w.at >= second.at && w.at <= third.at && w.delay > 0);
      expect(wait, 'a scheduled wait before the third attempt').toBeDefined();
      expect(third.at - wait!.at).toBeGreaterThanOrEqual(wait!.delay);
      expect(r.client.getState()[choice.uses[0]!]).toMatchObject({
        status: 'failed',
        error: { code: 'auth_rejected' },
      });
    },
  );
});

describe('c. SSE retry: 0 on streams that end at once', () => {
  /** Every stream says `retry: 0` and ends; the WebSocket endpoint is down. */
  const retryZero: Behaviour = {
    ...down,
    sse(x) {
      x.open();
      x.write('retry: 0\n\n');
      x.end();
    },
  };

  it.for(CHOICES)(
    'should still back off: at most 10 attempts in each minute after the first, finite delays ($name)',
    async (choice, context) => {
      context.skip(
        !choice.uses.includes('sse'),
        'does not apply: a WebSocket-only client never reads an SSE retry field',
      );
      const r = start(choice, retryZero);
      const simulated = await simulate(r, TEN_MINUTES);
      const counts = attemptsPerMinute(r);
      expect(counts[0], `attempts per minute: ${counts}`).toBeLessThanOrEqual(20);
      expect(Math.max(...counts.slice(1)), `attempts per minute: ${counts}`).toBeLessThanOrEqual(
        10,
      );
      expectDelaysWithin(r, 0, MAX_DELAY);
      expect(simulated, 'a runaway cut the simulation short').toBe(TEN_MINUTES);
    },
  );
});

describe.for([
  { name: 'Retry-After: 100000000 (seconds)', retryAfter: '100000000' },
  { name: 'Retry-After: an HTTP date in year 9999', retryAfter: 'Fri, 31 Dec 9999 23:59:59 GMT' },
])('d. SSE answers 503 with $name', ({ retryAfter }) => {
  it.for(CHOICES)(
    'should wait more than 0 and at most 300 s + 30 s, a handful of attempts in ten minutes ($name)',
    async (choice, context) => {
      context.skip(
        choice.uses[0] !== 'sse',
        'does not apply: the channels start on WebSocket, and a browser WebSocket cannot see response headers',
      );
      const r = start(choice, {
        ...down,
        sse: (x) => x.refuse(503, 'unavailable', { 'retry-after': retryAfter }),
      });
      const simulated = await simulate(r, TEN_MINUTES);
      // Finite, above 0, within the cap, and so always below 2^31 - 1 (no timer overflow).
      expectDelaysWithin(r, 1, MAX_RETRY_AFTER + MAX_DELAY);
      expect(r.waits.every((w) => w.delay < MAX_TIMER)).toBe(true);
      // Honoured, as far as the cap.
      expect(r.waits.some((w) => w.delay >= MAX_RETRY_AFTER)).toBe(true);
      expect(
        r.server.attempts.length,
        `attempts per minute: ${attemptsPerMinute(r)}`,
      ).toBeLessThanOrEqual(5);
      expect(simulated, 'a runaway cut the simulation short').toBe(TEN_MINUTES);
    },
  );
});

describe('e. a welcome with heartbeat 1e9, then silence', () => {
  const silent: Behaviour = {
    sse(x) {
      x.open();
      x.frame(welcome(1e9));
      for (const channel of x.channels) x.frame({ type: 'subscribed', channel });
    },
    connect: (socket) => socket.accept(),
    frame(socket, frame) {
      if (frame.type === 'auth') socket.send(welcome(1e9));
      if (frame.type === 'subscribe') socket.send({ type: 'subscribed', channel: frame.channel });
    },
  };

  it.for(CHOICES)(
    'should arm fewer than 200 timers in ten minutes and keep the connection ($name)',
    async (choice) => {
      const r = start(choice, silent);
      const simulated = await simulate(r, TEN_MINUTES, () => r.timeouts() >= 200);
      expect(r.timeouts(), `setTimeout calls in ${simulated / SECOND} s`).toBeLessThan(200);
      // Clamped to 300 s, the heartbeat allows 2.5 × 300 s of silence: more than ten minutes.
      expect(r.server.attempts).toHaveLength(1);
      expect(statuses(r)).toEqual(['live', 'live']);
      expect(simulated, 'a runaway cut the simulation short').toBe(TEN_MINUTES);
    },
  );
});

describe('f. in-band token refresh on WebSocket', () => {
  const onWebSocket = (choice: Choice) => choice.transport === 'websocket' || choice.duplex;
  const refreshes = (r: Run) => r.tokens.filter((t) => t.reason === 'refresh');
  const auths = (socket: ServerSocket | undefined) =>
    socket?.received.filter((f) => f.type === 'auth') ?? [];

  it.for(CHOICES)(
    'should answer a burst of 2000 refresh frames with at most one getToken and one auth ($name)',
    async (choice, context) => {
      context.skip(!onWebSocket(choice), 'does not apply: refresh frames travel on WebSocket only');
      const r = start(
        choice,
        healthy((socket, count) => {
          if (count > 1) return;
          for (let i = 0; i < 2000; i++) socket.send({ type: 'refresh', expiresIn: 30_000 });
        }),
      );
      const simulated = await simulate(r, TEN_MINUTES);
      expect(refreshes(r).length).toBeLessThanOrEqual(1);
      expect(
        auths(r.server.sockets[0]).length - 1,
        'auth frames after the first',
      ).toBeLessThanOrEqual(1);
      expect(r.server.sockets).toHaveLength(1);
      expect(simulated, 'a runaway cut the simulation short').toBe(TEN_MINUTES);
    },
  );

  /**
   * Tokens that live 20 s, and a server that keeps asking: every auth is answered by
   * `refresh {expiresIn: 20000}`, asked again every 2 s, and a socket whose credential is 20 s
   * old is closed with 4401.
   */
  function shortLivedTokens(): Behaviour {
    const renewedAt = new Map<ServerSocket, number>();
    return healthy((socket, count) => {
      renewedAt.set(socket, Date.now());
      const ask = () => socket.send({ type: 'refresh', expiresIn: 20_000 });
      ask();
      if (count > 1) return;
      socket.every(2 * SECOND, ask);
      socket.every(SECOND, () => {
        if (Date.now() - renewedAt.get(socket)! >= 20 * SECOND) socket.close(4401, 'token_expired');
      });
    });
  }

  it.for(CHOICES)(
    'should call getToken for a refresh at most 8 times a minute when every auth is answered by a refresh ($name)',
    async (choice, context) => {
      context.skip(!onWebSocket(choice), 'does not apply: refresh frames travel on WebSocket only');
      const r = start(choice, shortLivedTokens());
      const simulated = await simulate(r, TEN_MINUTES);
      const counts = perMinute(
        refreshes(r).map((t) => t.at),
        r.origin,
      );
      expect(
        Math.max(...counts),
        `refresh getToken calls per minute: ${counts}`,
      ).toBeLessThanOrEqual(8);
      // Refreshed before each expiry: the socket was never closed with 4401.
      expect(r.server.sockets).toHaveLength(1);
      expect(simulated, 'a runaway cut the simulation short').toBe(TEN_MINUTES);
    },
  );
});

describe('exponentialBackoff, the default retryDelay', () => {
  const network = new ConnectionError('network');
  const delay = exponentialBackoff();
  const context = (
    attempt: number,
    random: number,
    serverDelay?: number,
    error: TidewireError = network,
  ): RetryContext => ({ attempt, error, serverDelay, random });

  it('should give a finite delay within [0, 30 s] at attempt 2000, 5000 and beyond', () => {
    for (const attempt of [1024, 1025, 2000, 5000, 1e6])
      for (const serverDelay of [undefined, 0, 1, 1000, 1e9])
        for (const random of [0, 0.5, 0.999_999_999]) {
          const ms = delay(context(attempt, random, serverDelay));
          expect(
            Number.isFinite(ms) && ms >= 0 && ms <= MAX_DELAY,
            `attempt ${attempt}, retry: ${serverDelay}, random ${random}: ${ms}`,
          ).toBe(true);
        }
  });

  it('should still grow the delay when the server sends retry: 0 (clamped to 500 ms)', () => {
    expect(delay(context(1, 0.5, 0))).toBe(250);
    expect(delay(context(2, 0.5, 0))).toBe(500);
    expect(delay(context(4, 0.5, 0))).toBe(2000);
    expect(delay(context(50, 0.5, 0))).toBe(15_000);
  });

  it('should clamp a retry: field above maxDelay to maxDelay', () => {
    expect(delay(context(1, 0.5, 1e9))).toBe(15_000);
  });

  it('should cap Retry-After at 300 s and add the jitter after it', () => {
    const year9999 = Date.parse('Fri, 31 Dec 9999 23:59:59 GMT') - Date.parse('2030-01-01');
    for (const retryAfter of [100_000_000 * SECOND, year9999, Number.MAX_VALUE]) {
      const limited = new ConnectionError('http_status', { status: 503, retryAfter });
      expect(delay(context(1, 0, undefined, limited))).toBe(MAX_RETRY_AFTER);
      expect(delay(context(1, 0.5, undefined, limited))).toBe(MAX_RETRY_AFTER + 500);
      const worst = delay(context(5000, 0.999_999_999, 0, limited));
      expect(worst).toBeLessThanOrEqual(MAX_RETRY_AFTER + MAX_DELAY);
      expect(worst).toBeLessThan(MAX_TIMER);
    }
  });
});
