import type { RetryDelay } from './backoff';
import type { Environment, EnvironmentSignal } from './environment';
import { AuthError, errorFor, type TidewireError } from './errors';
import type { TokenReason, TokenSource } from './token';
import { createWatchdog } from './watchdog';

/**
 * The state of one connection (the client has one per transport; a stream has one).
 * - `idle`: not needed (nothing subscribed) or closed on purpose.
 * - `connecting`: getting a token, opening, waiting for the server's welcome.
 * - `open`: ready; heartbeats are being watched.
 * - `waiting`: lost; the next attempt starts after `delay` ms.
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
  | { type: 'start'; online: boolean }
  | { type: 'stop' }
  | { type: 'opened' }
  | { type: 'lost'; error: TidewireError; attempt: number; delay: number; online: boolean }
  | { type: 'failed'; error: TidewireError }
  | { type: 'retry' }
  | { type: 'offline' };

const IDLE: ConnectionState = { status: 'idle' };

/** The longest heartbeat interval a `welcome` may announce, in ms. */
const MAX_HEARTBEAT = 300_000;

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
    case 'start':
      if (!stopped(s)) return state;
      return event.online
        ? { status: 'connecting', attempt: 0 }
        : { status: 'offline', attempt: 0, error: undefined };
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

/** What a transport adapter reports to its connection. Calls from a superseded attempt are ignored. */
export interface Sink<M> {
  /** The connection is ready (Tidewire: `welcome` arrived). `heartbeat`: the server's interval in ms. */
  onOpen(heartbeat?: number): void;
  onMessage(message: M): void;
  /** Bytes arrived (comments, pings): feeds the heartbeat watchdog. */
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
export type Connector<M> = (token: string | undefined, sink: Sink<M>) => Link;

/** @internal */
export interface ConnectionOptions<M> {
  env: Environment;
  tokens: TokenSource;
  retryDelay: RetryDelay;
  connectTimeout: number;
  /** Heartbeat deadline when the server announces none; 0 disables it. */
  idleTimeout: number;
  /** An open lasting this long resets the backoff attempt count. */
  stableAfter: number;
  connect: Connector<M>;
  onMessage(message: M): void;
  onState(next: ConnectionState, prev: ConnectionState): void;
  /** Every end of an attempt, with whether it had been open for `stableAfter`. */
  onLost?(error: TidewireError, stable: boolean): void;
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
  open?: boolean;
}

/** @internal */
export function createConnection<M>(o: ConnectionOptions<M>): Connection {
  const { env, tokens } = o;
  let state = IDLE;
  let cur: Attempt | undefined;
  let timer: unknown;
  let until = 0;
  let tries = 0;
  let authFails = 0;
  let openedAt = 0;
  let serverDelay: number | undefined;
  let reason: TokenReason = 'connect';
  let unlisten: (() => void) | undefined;

  // No link yet means getToken has not answered: say so rather than blame the server.
  const dog = createWatchdog(env, () =>
    end(
      cur,
      errorFor(cur?.open ? 'heartbeat_timeout' : cur?.link ? 'connect_timeout' : 'token_timeout'),
    ),
  );

  const kill = (a: Attempt | undefined) => a?.link?.close();

  const dispatch = (event: ConnectionEvent) => {
    const p = state;
    const n = transition(p, event);
    if (n === p) return;
    state = n;
    if (p.status === 'waiting') env.clearTimeout(timer);
    if (n.status !== 'open' && active(p.status)) {
      kill(cur);
      cur = undefined;
      dog.stop();
    }
    if (stopped(n.status)) {
      unlisten?.();
      unlisten = undefined;
    } else unlisten ??= env.listen(signal);
    if (n.status === 'connecting') attempt(n.attempt);
    else if (n.status === 'waiting') {
      until = env.now() + n.delay;
      timer = env.setTimeout(() => dispatch({ type: 'retry' }), n.delay);
    } else if (n.status === 'open') {
      openedAt = env.now();
      authFails = 0;
    }
    o.onState(n, p);
  };

  const signal = (s: EnvironmentSignal) => {
    const st = state.status;
    if (s === 'offline') dispatch({ type: 'offline' });
    else if (s === 'online') dispatch({ type: 'retry' });
    else if (s === 'visible') {
      if (active(st)) dog.check();
      else if (st === 'waiting' && env.now() >= until) dispatch({ type: 'retry' });
    }
  };

  const end = (a: Attempt | undefined, error: TidewireError) => {
    if (!a || a !== cur) return;
    const stable = !!a.open && env.now() - openedAt >= o.stableAfter;
    o.onLost?.(error, stable);
    const auth = error.code === 'unauthorized' || error.code === 'token_expired';
    authFails = auth ? authFails + 1 : 0;
    reason = auth ? 'expired' : 'reconnect';
    if (error.fatal || authFails > 2)
      return dispatch({
        type: 'failed',
        error: error.fatal ? error : new AuthError('auth_rejected', { cause: error }),
      });
    if (stable) tries = 0;
    tries++;
    const delay =
      authFails === 1
        ? 0
        : o.retryDelay({ attempt: tries, error, serverDelay, random: env.random() });
    dispatch({ type: 'lost', error, attempt: tries, delay, online: env.online() });
  };

  const attempt = (n: number) => {
    const a: Attempt = {};
    cur = a;
    dog.start(o.connectTimeout);
    tokens.get({ reason, attempt: n }).then(
      (token) => {
        if (cur === a) a.link = o.connect(token, sink(a));
      },
      (error: TidewireError) => end(a, error),
    );
  };

  const sink = (a: Attempt): Sink<M> => {
    const activity = () => {
      if (a.open && a === cur) dog.feed();
    };
    return {
      onOpen(heartbeat) {
        if (a !== cur || a.open) return;
        a.open = true;
        // Capped, so a huge announced interval cannot overflow the watchdog's timer.
        dog.start(heartbeat ? Math.min(heartbeat, MAX_HEARTBEAT) * 2.5 : o.idleTimeout);
        dispatch({ type: 'opened' });
      },
      onMessage(m) {
        if (a !== cur) return;
        activity();
        o.onMessage(m);
      },
      onActivity: activity,
      onRetry(ms) {
        serverDelay = ms;
      },
      onEnd: (error) => end(a, error),
    };
  };

  const start = () => {
    if (stopped(state.status)) {
      tries = authFails = 0;
      reason = 'connect';
    }
    dispatch({ type: 'start', online: env.online() });
  };

  return {
    state: () => state,
    start,
    stop: () => dispatch({ type: 'stop' }),
    restart() {
      if (!active(state.status)) return start();
      kill(cur);
      attempt(0);
    },
    send(data) {
      const link = state.status === 'open' ? cur?.link : undefined;
      link?.send?.(data);
      return !!link?.send;
    },
  };
}
