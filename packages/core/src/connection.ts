import { clamp, type RetrySchedule } from './backoff';
import type { Environment, EnvironmentSignal } from './environment';
import { AuthError, errorFor, type TidewireError } from './errors';
import type { TokenReason, TokenSource } from './token';
import { createWatchdog } from './watchdog';

/**
 * The state of one connection (the client has one per transport; a stream has one).
 * - `idle`: not needed (nothing subscribed) or closed on purpose.
 * - `connecting`: getting a token, opening, waiting for the server's welcome.
 * - `open`: ready; heartbeats are being watched.
 * - `waiting`: lost, or started while the client's other connection is failing; the next attempt
 *   starts after `delay` ms. `attempt` counts the client's consecutive failed attempts.
 * - `offline`: lost while the browser is offline; retries when it is back.
 * - `failed`: stopped for good by a fatal `error`; a new subscribe starts over.
 */
export type ConnectionState =
  | { status: 'idle' }
  | { status: 'connecting'; attempt: number }
  | { status: 'open' }
  | { status: 'waiting'; attempt: number; delay: number; error: TidewireError }
  | { status: 'offline'; attempt: number; error: TidewireError | undefined }
  | { status: 'failed'; error: TidewireError };

/** What can happen to a connection; input of {@link transition}. */
export type ConnectionEvent =
  | {
      type: 'start';
      online: boolean;
      attempt: number;
      /** The rest of the client's current delay, when its attempts are failing. */
      wait?: { delay: number; error: TidewireError } | undefined;
    }
  | { type: 'stop' }
  | { type: 'opened' }
  | {
      type: 'lost';
      error: TidewireError;
      attempt: number;
      delay: number;
      online: boolean;
    }
  | { type: 'failed'; error: TidewireError }
  | { type: 'retry' }
  | { type: 'offline' };

/** The idle state: one object, so that a client's state starts unchanged. @internal */
export const IDLE: ConnectionState = { status: 'idle' };

/** Not running: nothing to close, no listener, no timer. */
const stopped = (s: string) => s === 'idle' || s === 'failed';
/** An attempt is under way or open: there is a transport to close. */
const active = (s: string) => s === 'connecting' || s === 'open';

/**
 * The connection state machine: a pure function. An event that does not apply in
 * a state returns that same state object, so callers detect changes with `===`.
 */
export function transition(state: ConnectionState, event: ConnectionEvent): ConnectionState {
  const s = state.status;
  switch (event.type) {
    case 'start': {
      if (!stopped(s)) return state;
      const { attempt, wait } = event;
      if (!event.online) return { status: 'offline', attempt, error: wait?.error };
      return wait ? { status: 'waiting', attempt, ...wait } : { status: 'connecting', attempt };
    }
    case 'stop':
      return s === 'idle' ? state : IDLE;
    case 'opened':
      return s === 'connecting' ? { status: 'open' } : state;
    case 'lost': {
      if (!active(s)) return state;
      const { error, attempt, delay } = event;
      return event.online
        ? { status: 'waiting', attempt, delay, error }
        : { status: 'offline', attempt, error };
    }
    case 'failed':
      return s === 'idle' ? state : { status: 'failed', error: event.error };
    case 'retry':
      return s === 'waiting' || s === 'offline'
        ? { status: 'connecting', attempt: state.attempt }
        : state;
    case 'offline':
      return s === 'waiting'
        ? { status: 'offline', attempt: state.attempt, error: state.error }
        : state;
  }
}

/**
 * What a transport adapter reports to its connection. Calls from a superseded attempt are
 * ignored. Messages go to the adapter's owner directly: an adapter calls nothing once closed.
 */
export interface Sink {
  /** The connection is ready (Tidewire: `welcome` arrived). `heartbeat`: the server's interval in ms. */
  onOpen(heartbeat?: number): void;
  /**
   * The request of a Tidewire SSE stream went out: a server answers it with its welcome at once,
   * so when that has not come within 4 s, something between (a buffering proxy, which may hold
   * the headers too, or antivirus) holds the stream back, and the attempt ends as `buffered`.
   */
  onRequest(): void;
  /** Something arrived (bytes, a message): feeds the heartbeat watchdog. */
  onActivity(): void;
  /** The server's suggested reconnection delay (SSE `retry:`). */
  onRetry(ms: number): void;
  /** The connection ended by itself; `error` says why. */
  onEnd(error: TidewireError): void;
}

/** An open transport, as its adapter returns it. */
export interface Link {
  close(): void;
  send?(data: string): void;
}

/** Opens one transport with a token and reports through the sink. */
export type Connector = (token: string | undefined, sink: Sink) => Link;

/** @internal */
export interface ConnectionOptions {
  env: Environment;
  tokens: TokenSource;
  /** The client's retry schedule, shared with its other connection. */
  schedule: RetrySchedule;
  connectTimeout: number;
  /** Heartbeat deadline when the server announces none; 0 disables it. */
  idleTimeout: number;
  /** An open lasting this long ends the client's run of failures (schedule and token refusals). */
  stableAfter: number;
  connect: Connector;
  onState(next: ConnectionState, prev: ConnectionState): void;
  /**
   * What an attempt proved about the path: `'stable'` once it has stayed open for `stableAfter`,
   * or the error it ended with before that (it never opened, or died soon after).
   */
  onOutcome?(outcome: 'stable' | TidewireError): void;
}

/** One reconnecting connection. */
export interface Connection {
  readonly state: () => ConnectionState;
  /** Connect unless already connecting, open or waiting. */
  start(): void;
  stop(): void;
  /**
   * Open a fresh transport (new channel set). The current one is closed first, so nothing it
   * still receives is delivered: the positions the new one is opened with are exactly where
   * delivery stopped, and its replay neither skips nor repeats an event. The state stays `open`
   * meanwhile. Starts when stopped; a wait for a retry is left as it is (the retry opens afresh).
   */
  restart(): void;
  /** Sends on the open transport; false when not open. */
  send(data: string): boolean;
}

interface Attempt {
  link?: Link;
  /** The request went out (see `Sink.onRequest`); the opening has not come. */
  heard?: boolean;
  open?: boolean;
  stable?: boolean;
}

/** How long after its request a stream may go without its opening: see `Sink.onRequest`. */
const OPENING_AFTER_REQUEST = 4000;

/** The server's heartbeat interval is kept within these, so a bad `welcome` cannot spin or disarm the watchdog. */
const HEARTBEAT_RANGE = [100, 300_000] as const;

/** @internal */
export function createConnection(o: ConnectionOptions): Connection {
  const { env, tokens, schedule } = o;
  let state = IDLE;
  let current: Attempt | undefined;
  let retryTimer: unknown;
  let stableTimer: unknown;
  let reason: TokenReason = 'connect';
  let unlisten: (() => void) | undefined;

  // No link yet means getToken has not answered: say so rather than blame the server.
  const watchdog = createWatchdog(env, () =>
    end(
      current,
      errorFor(
        current?.open
          ? 'heartbeat_timeout'
          : current?.heard
            ? 'buffered'
            : current?.link
              ? 'connect_timeout'
              : 'token_timeout',
      ),
    ),
  );

  /** Closes an attempt's transport; it can no longer become stable. */
  const close = (a: Attempt | undefined) => {
    env.clearTimeout(stableTimer);
    a?.link?.close();
  };

  const dispatch = (event: ConnectionEvent) => {
    const previous = state;
    const next = transition(previous, event);
    if (next === previous) return;
    state = next;
    if (previous.status === 'waiting') env.clearTimeout(retryTimer);
    if (next.status !== 'open' && active(previous.status)) {
      close(current);
      current = undefined;
      watchdog.stop();
    }
    if (stopped(next.status)) {
      unlisten?.();
      unlisten = undefined;
    } else unlisten ??= env.listen(signal);
    if (next.status === 'connecting') attempt(next.attempt);
    else if (next.status === 'waiting')
      retryTimer = env.setTimeout(() => dispatch({ type: 'retry' }), next.delay);
    o.onState(next, previous);
  };

  const signal = (s: EnvironmentSignal) => {
    const status = state.status;
    if (s === 'offline') dispatch({ type: 'offline' });
    else if (s === 'online') dispatch({ type: 'retry' });
    else if (s === 'visible') {
      if (active(status)) watchdog.check();
      // A throttled timer may be late: retry now if the wait is over.
      else if (status === 'waiting' && !schedule.pending()) dispatch({ type: 'retry' });
    }
  };

  const end = (a: Attempt | undefined, error: TidewireError) => {
    if (!a || a !== current) return;
    // A connection that was stable proved the path; only the others say it may be blocked.
    if (!a.stable) o.onOutcome?.(error);
    // The server's refusals of tokens in a row: the third gives up, the first retries at once.
    const refusals = tokens.rejected(error);
    reason = refusals ? 'expired' : 'reconnect';
    if (error.fatal || refusals! > 2)
      return dispatch({
        type: 'failed',
        error: error.fatal ? error : new AuthError('auth_rejected', { cause: error }),
      });
    dispatch({
      type: 'lost',
      error,
      delay: schedule.failed(error, refusals === 1),
      attempt: schedule.attempt(),
      online: env.online(),
    });
  };

  const attempt = (n: number) => {
    const a: Attempt = {};
    current = a;
    watchdog.start(o.connectTimeout);
    tokens.get({ reason, attempt: n }).then(
      (token) => {
        if (current === a) a.link = o.connect(token, sink(a));
      },
      (error: TidewireError) => end(a, error),
    );
  };

  const sink = (a: Attempt): Sink => {
    const activity = () => {
      if (a.open && a === current) watchdog.feed();
    };
    return {
      onOpen(heartbeat) {
        if (a !== current || a.open) return;
        a.open = true;
        watchdog.start(
          heartbeat! > 0 ? clamp(heartbeat!, ...HEARTBEAT_RANGE) * 2.5 : o.idleTimeout,
        );
        env.clearTimeout(stableTimer);
        stableTimer = env.setTimeout(() => {
          a.stable = true;
          schedule.reset();
          tokens.accepted();
          o.onOutcome?.('stable');
        }, o.stableAfter);
        dispatch({ type: 'opened' });
      },
      onRequest() {
        if (a !== current || a.open) return;
        a.heard = true;
        watchdog.start(OPENING_AFTER_REQUEST);
      },
      onActivity: activity,
      onRetry: schedule.setServerDelay,
      onEnd: (error) => end(a, error),
    };
  };

  const start = () => {
    if (stopped(state.status)) reason = 'connect';
    dispatch({
      type: 'start',
      online: env.online(),
      attempt: schedule.attempt(),
      wait: schedule.pending(),
    });
  };

  return {
    state: () => state,
    start,
    stop: () => dispatch({ type: 'stop' }),
    restart() {
      if (!active(state.status)) return start();
      close(current);
      attempt(schedule.attempt());
    },
    send(data) {
      const link = state.status === 'open' ? current?.link : undefined;
      link?.send?.(data);
      return !!link?.send;
    },
  };
}
