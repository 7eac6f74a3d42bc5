import { clamp } from './backoff';
import { checkOptions, checkSubscribeOptions, unresolvable } from './check-options';
import type { Connection, ConnectionState, Connector, Sink } from './connection';
import { DEV } from './dev';
import { createEmitter } from './emitter';
import { ConnectionError, errorFor, PublishError, TidewireError } from './errors';
import { parseFrame, splitFrames } from './frames';
import { describeRecord, type InspectNote, type InspectRecord } from './inspect';
import { bearer, createBase, type TransportOptions } from './links';
import { CHANNEL_PATTERN, type ServerFrame } from './protocol';
import { createOutbox, httpPublish, type PublishOptions, type PublishResult } from './publish';
import {
  createRouter,
  FALLBACK_TTL,
  type FallbackOptions,
  TRANSPORTS,
  type Transport,
  type TransportChoice,
} from './routing';
import {
  type Channel,
  createChannel,
  createHandle,
  type SubscribeOptions,
  type Subscription,
} from './subscription';
import { readSse } from './transports/sse';
import { openWebSocket } from './transports/websocket';

/**
 * Channel names mapped to their payload types: the default of an untyped client. A typed
 * client takes any object type, a `type` alias or an `interface`:
 * `interface Channels { prices: Price }` then `createClient<Channels>(…)`.
 */
export type ChannelMap = Record<string, unknown>;

/** Options of {@link createClient}. Every one but `url` is optional. */
export interface ClientOptions extends TransportOptions {
  /** The server's base URL, e.g. `https://api.example.com/tidewire`. Never put a token in it. */
  url: string;
  /** The transport of subscriptions that do not choose one. @default 'auto' */
  transport?: TransportChoice;
  /** How long a channel (and its connection) stays after its last handle is released. @default 1000 */
  closeDelay?: number;
  /** How long a publish may wait for its acknowledgement (queue time included). @default 10000 */
  publishTimeout?: number;
  /** Most WebSocket publishes waiting to be sent or acknowledged. @default 100 */
  maxQueue?: number;
  /** When `'auto'` moves channels off a transport that does not work. @default { after: 2, ttl: 300000 } */
  fallback?: FallbackOptions;
  /**
   * Development build: receives what the client decides and why, never a token: subscribe and
   * unsubscribe, state changes with their attempt and backoff delay, each placement and
   * fallback move of a channel and why, the positions a (re)connection resumes from, gaps,
   * publishes and their outcome, each token asked for and why, and errors. The production
   * build logs nothing: listen to `state` and `error` there.
   * @default none (`console.info` with `debug`)
   */
  logger?: (message: string, details?: unknown) => void;
  /** Development build: logs to the console what `logger` would receive, when no `logger` is given. @default false */
  debug?: boolean;
}

/** The connection state of each transport. */
export interface ClientState {
  /** The connection that all SSE channels share. */
  readonly sse: ConnectionState;
  /** The socket that all WebSocket channels share. */
  readonly websocket: ConnectionState;
}

/** Listener signatures of a {@link Client}. */
export type ClientEvents = {
  /** A transport's connection state changed from `prev` to `next`. */
  state: (change: { transport: Transport; next: ConnectionState; prev: ConnectionState }) => void;
  /** Errors that concern no single subscription: bad frames, throwing listeners. */
  error: (context: { error: TidewireError }) => void;
  /**
   * Everything the client decides and receives, for devtools and tooling; development build
   * only (the production build sends none). See {@link InspectRecord}.
   */
  inspect: (record: InspectRecord) => void;
};

/** A Tidewire client; see {@link createClient}. */
export interface Client<M extends object = ChannelMap> {
  /** Subscribes (lazily connecting); handles on one channel share one server subscription. */
  subscribe<C extends keyof M & string>(channel: C, options?: SubscribeOptions): Subscription<M[C]>;
  /** Publishes over WebSocket (acknowledged) when the channel is on it, else by HTTP POST. */
  publish<C extends keyof M & string>(
    channel: C,
    data: M[C],
    options?: PublishOptions,
  ): Promise<PublishResult>;
  /** The connection state of each transport now. */
  getState(): ClientState;
  /** Adds a listener for `state` or `error`; returns its disposer. */
  on<K extends keyof ClientEvents>(type: K, listener: ClientEvents[K]): () => void;
  /** Closes everything: no timer, listener, socket or request is left. */
  close(): void;
}

/**
 * Creates a client for a Tidewire server.
 * @example
 * const client = createClient<{ prices: Price }>({ url: '/tidewire', getToken: async () => token })
 * const sub = client.subscribe('prices')
 * const off = sub.on('event', (e) => render(e.data))
 */
export function createClient<M extends object = ChannelMap>(options: ClientOptions): Client<M> {
  if (DEV) checkOptions(options, 'createClient');
  const {
    transport: defaultChoice = 'auto',
    closeDelay = 1000,
    publishTimeout = 10_000,
    maxQueue = 100,
    logger = options.debug ? console.info : undefined,
  } = options;
  const url = options.url.replace(/\/+$/, '');
  // Development build: a relative URL outside a browser fails each connection at once, with an
  // error that says so (creating the client is fine: server rendering never connects it).
  const misplaced = DEV ? unresolvable(url, 'url') : undefined;
  const refuse = (sink: Sink<ServerFrame>, problem: string) => {
    queueMicrotask(() => sink.onEnd(new ConnectionError('invalid_options', {}, problem)));
    return { close() {} };
  };
  const log = (message: string, details?: unknown) => logger?.(`tidewire: ${message}`, details);
  // A server joins frames into messages of up to 64 KiB (PROTOCOL.md): a lower limit would refuse them.
  const base = createBase(
    DEV && options.getToken
      ? {
          ...options,
          getToken(context) {
            note({ type: 'token', reason: context.reason, attempt: context.attempt });
            return options.getToken?.(context);
          },
        }
      : options,
    66_560,
  );
  const { env, tokens } = base;
  const chans = new Map<string, Channel>();
  const aborts = new Set<() => void>();
  let syncing = false;
  let closed = false;
  let state: ClientState = { sse: { status: 'idle' }, websocket: { status: 'idle' } };

  // A throwing `error` listener is only logged: reporting it would call it again.
  const emitter = createEmitter<ClientEvents>((error, type) => {
    if (type !== 'error') listenerError(error);
    else if (DEV) log('listener_failed', error);
  });
  /** Development build: tells `inspect` listeners, and the logger, of a decision. */
  const note = (record: InspectNote) => {
    emitter.emit('inspect', { ...record, at: env.now() } as InspectRecord);
    const text = describeRecord(record);
    if (text) log(text, record);
  };
  const report = (error: TidewireError) => {
    if (DEV) note({ type: 'error', error });
    emitter.emit('error', { error });
  };
  const listenerError = (cause: unknown) => report(new TidewireError('listener_failed', { cause }));
  const on = (t: Transport) =>
    [...chans.values()].filter((c) => c.route === t && c.placed && !c.failure);
  const send = (frame: object) => conns.websocket.send(JSON.stringify(frame));
  const join = (c: Channel) => {
    if (DEV) note({ type: 'join', channel: c.name, transport: 'websocket', since: c.lastId });
    send({ type: 'subscribe', channel: c.name, since: c.lastId, rewind: c.rewind });
  };

  const query = () =>
    `${url}/sse?${on('sse')
      .map((c) => {
        if (DEV) note({ type: 'join', channel: c.name, transport: 'sse', since: c.lastId });
        return `channel=${encodeURIComponent(c.name)}${c.lastId ? `@${encodeURIComponent(c.lastId)}` : c.rewind ? `~${c.rewind}` : ''}`;
      })
      .join('&')}`;
  /** Frames of both transports: the welcome opens, an unscoped SSE error ends the stream. */
  const frames = (t: Transport, texts: unknown[], sink: Sink<ServerFrame>) => {
    for (const text of texts) {
      const f = parseFrame(text);
      if (DEV && f) note({ type: 'frame', transport: t, frame: f });
      if (!f) report(new ConnectionError('bad_message'));
      else if (f.type === 'welcome') sink.onOpen(f.heartbeat);
      else if (t === 'sse' && f.type === 'error' && !f.channel)
        return sink.onEnd(errorFor(f.code, {}, f.message));
      else sink.onMessage(f);
    }
  };
  const outbox = createOutbox(env, (data) => conns.websocket.send(data), publishTimeout, maxQueue);
  const router = createRouter(env, options.fallback, () => placeAll('fallback ended'));
  /** Moves channels after the connection that reported has finished its own work. */
  const placeAll = (why: string) =>
    queueMicrotask(() => {
      if (!closed) for (const c of chans.values()) place(c, why);
    });

  // In-band refresh (WebSocket): one token per request, sent only when it is new, and a quiet
  // period after each, so a server asking again and again is not answered in a loop.
  let sentToken: string | undefined;
  let quietUntil = 0;
  const refresh = (expiresIn = 0) => {
    if (env.now() < quietUntil) return;
    quietUntil = env.now() + clamp(expiresIn / 2, 1000, 60_000);
    tokens.get({ reason: 'refresh', attempt: 0 }).then((token) => {
      if (token === sentToken) return;
      sentToken = token;
      send({ type: 'auth', token });
    }, report);
  };

  const onFrame = (t: Transport, f: ServerFrame) => {
    if (f.type === 'ack') outbox.settle(f.ref, undefined, f.id);
    else if (f.type === 'refresh') refresh(f.expiresIn);
    else if (f.type === 'error' && f.ref)
      outbox.settle(f.ref, new PublishError(f.code, {}, f.message));
    else if ('channel' in f && f.channel) {
      const c = chans.get(f.channel);
      if (!c || c.route !== t) return;
      if (f.type === 'event') {
        c.deliver(f);
      } else if (f.type === 'subscribed') c.subscribed(f.position);
      else if (f.type === 'gap') {
        if (DEV) note({ type: 'gap', channel: c.name, reason: f.reason });
        c.gap(f.reason);
      } else if (f.type === 'error') {
        const error = errorFor(f.code, { channel: f.channel }, f.message);
        if (DEV) note({ type: 'error', error });
        c.error(error);
      }
    } else if (f.type === 'error') report(errorFor(f.code, {}, f.message));
  };

  /** The SSE connector: one stream for every channel on SSE, ready at the server's welcome. */
  const sse: Connector<ServerFrame> = (token, sink) =>
    DEV && misplaced
      ? refuse(sink, misplaced)
      : {
          close: readSse(
            {
              url: query(),
              fetch: base.fetch,
              headers: bearer(token),
              credentials: base.credentials,
              maxMessageBytes: base.maxMessageBytes,
            },
            // Each data line is a frame; blocks without data (heartbeat comments) carry none.
            { ...sink, onOpen() {}, onBlock: (lines) => lines && frames('sse', lines, sink) },
          ),
        };
  /** The WebSocket connector: the token goes in-band as the first frame, never in the URL. */
  const websocket: Connector<ServerFrame> = (token, sink) => {
    if (DEV && misplaced) return refuse(sink, misplaced);
    const link = openWebSocket(
      {
        url: `${url.replace(/^http/, 'ws')}/ws`,
        WebSocket: base.WebSocket(),
        maxMessageBytes: base.maxMessageBytes,
      },
      {
        ...sink,
        onOpen() {
          sentToken = token;
          quietUntil = 0;
          link.send(JSON.stringify({ type: 'auth', token }));
        },
        // A message may join several frames, one per line.
        onMessage: (data) => frames('websocket', splitFrames(data), sink),
      },
    );
    return link;
  };

  const conns = {} as Record<Transport, Connection>;
  for (const t of TRANSPORTS)
    conns[t] = base.connection<ServerFrame>(t === 'sse' ? sse : websocket, {
      onMessage: (f) => onFrame(t, f),
      onState(next, prev) {
        state = { ...state, [t]: next };
        if (DEV) note({ type: 'state', transport: t, next, prev });
        if (t === 'websocket') {
          if (next.status === 'open') {
            for (const c of on(t)) join(c);
            outbox.flush();
          } else if (prev.status === 'open') outbox.lost();
          // After any fallback move has diverted its channels' publishes to HTTP.
          if (next.status === 'failed') queueMicrotask(() => outbox.fail(next.error));
        }
        for (const c of on(t)) {
          c.live &&= next.status === 'open';
          if (next.status === 'failed') c.error(next.error, false);
          else c.touch();
        }
        emitter.emit('state', { transport: t, next, prev });
      },
      onOutcome(outcome) {
        if (!router.observe(t, outcome)) return;
        if (DEV) {
          const stable = outcome === 'stable';
          note({
            type: 'fallback',
            transport: t,
            reason: stable ? 'a connection stayed open' : outcome.code,
            until: stable ? undefined : env.now() + (options.fallback?.ttl ?? FALLBACK_TTL),
          });
        }
        placeAll(DEV ? `${t}: ${outcome === 'stable' ? 'stable' : outcome.code}` : '');
      },
    });

  /** Re-reads the SSE channel set once per tick: one stream for all, reopened on change. */
  const syncSse = () => {
    if (syncing) return;
    syncing = true;
    queueMicrotask(() => {
      syncing = false;
      if (closed) return;
      if (on('sse').length) conns.sse.restart();
      else conns.sse.stop();
    });
  };

  const leave = (c: Channel) => {
    if (c.route === 'sse') return syncSse();
    send({ type: 'unsubscribe', channel: c.name });
    if (!on('websocket').some((o) => o !== c)) conns.websocket.stop();
  };

  /** Puts a channel on the transport the rule picks, moving it (resuming from its last id) when that changed. */
  const place = (c: Channel, why: string) => {
    const explicit = c.choices.filter((x) => x !== 'auto').pop();
    const t = router.pick(explicit ?? 'auto', c.duplex);
    if (c.placed && t === c.route) return;
    if (DEV) {
      note({
        type: 'placement',
        channel: c.name,
        from: c.placed ? c.route : undefined,
        to: t,
        reason: why,
      });
    }
    if (c.placed) leave(c);
    // Publishes still waiting for the socket go by HTTP instead.
    if (t === 'sse') outbox.divert(c.name, (data, event) => post(c.name, data, event));
    c.route = t;
    c.placed = true;
    c.live = false;
    if (t === 'sse') syncSse();
    else if (conns.websocket.state().status === 'open') join(c);
    else conns.websocket.start();
    c.touch();
  };

  const drop = (c: Channel) => {
    if (DEV) note({ type: 'leave', channel: c.name });
    chans.delete(c.name);
    leave(c);
  };

  const post = (channel: string, data: unknown, event: string | undefined) =>
    DEV && misplaced
      ? Promise.reject(new PublishError('invalid_options', { channel }, misplaced))
      : httpPublish({ ...base, url, timeout: publishTimeout, aborts }, channel, data, event);

  /** Publishes by WebSocket (acknowledged) when the channel is on it, else by HTTP. */
  const publish = (channel: string, data: unknown, event: string | undefined) => {
    if (closed) return Promise.reject(new PublishError('client_closed'));
    const c = chans.get(channel);
    if (c && !c.duplex) {
      c.duplex = true;
      place(c, 'publish');
    }
    if (c?.route === 'websocket') {
      const s = conns.websocket.state();
      return s.status === 'failed' ? Promise.reject(s.error) : outbox.add(channel, data, event);
    }
    return post(channel, data, event);
  };

  /** Logs the outcome of a publish (development build). */
  const logged = (channel: string, published: Promise<PublishResult>) => {
    published.then(
      ({ id }) => note({ type: 'publish', channel, id, error: undefined }),
      (error: TidewireError) => note({ type: 'publish', channel, id: undefined, error }),
    );
    return published;
  };

  return {
    subscribe(name, opts = {}) {
      if (closed) throw new TidewireError('client_closed');
      if (!CHANNEL_PATTERN.test(name))
        throw new TidewireError('invalid_channel', { channel: String(name) });
      if (DEV) checkSubscribeOptions(name, opts);
      let c = chans.get(name);
      if (!c) {
        c = createChannel(name, opts.since, (t) => conns[t].state(), opts.rewind);
        chans.set(name, c);
      }
      const ch = c;
      env.clearTimeout(ch.linger);
      const choice = opts.transport ?? defaultChoice;
      ch.choices.push(choice);
      ch.duplex ||= !!opts.duplex;
      if (DEV) note({ type: 'subscribe', channel: name, options: opts });
      const handle = createHandle<M[typeof name]>(ch, listenerError, () => {
        if (DEV) note({ type: 'unsubscribe', channel: name });
        ch.choices.splice(ch.choices.lastIndexOf(choice), 1);
        if (closed) return;
        if (ch.handles.size) place(ch, 'unsubscribe');
        else ch.linger = env.setTimeout(() => drop(ch), closeDelay);
      });
      place(ch, 'subscribe');
      return handle;
    },
    publish: (channel, data, opts = {}) =>
      DEV
        ? logged(channel, publish(channel, data, opts.event))
        : publish(channel, data, opts.event),
    getState: () => state,
    on: emitter.on,
    close() {
      if (closed) return;
      closed = true;
      for (const c of chans.values()) {
        env.clearTimeout(c.linger);
        c.close();
      }
      chans.clear();
      outbox.fail(new PublishError('client_closed'));
      for (const t of TRANSPORTS) conns[t].stop();
      for (const abort of aborts) abort();
      tokens.cancel();
      router.dispose();
      emitter.clear();
    },
  };
}
