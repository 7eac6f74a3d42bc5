import { clamp } from './backoff';
import { checkOptions, checkSubscribeOptions, unresolvable } from './check-options';
import {
  type Connection,
  type ConnectionState,
  type Connector,
  IDLE,
  type Sink,
} from './connection';
import { DEV } from './dev';
import { Emitter } from './emitter';
import { ConnectionError, errorFor, PublishError, TidewireError } from './errors';
import { parseFrame } from './frames';
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
  Channel,
  type ChannelHost,
  createHandle,
  type SubscribeOptions,
  type Subscription,
} from './subscription';
import { SSE, WEBSOCKET } from './transports';
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
 * Creates a client for a Tidewire server. From `@tidewire/core` it uses both transports; from
 * `@tidewire/core/sse` or `@tidewire/core/websocket` only that one, and the bundle holds no
 * code of the other (a channel then goes on that transport whatever its `transport`).
 * @example
 * const client = createClient<{ prices: Price }>({ url: '/tidewire', getToken: async () => token })
 * const sub = client.subscribe('prices')
 * const off = sub.on('event', (e) => render(e.data))
 */
export function createClient<M extends object = ChannelMap>(options: ClientOptions): Client<M> {
  if (DEV) checkOptions(options, 'createClient');
  const { transport: defaultChoice = 'auto', closeDelay = 1000, publishTimeout = 10_000 } = options;
  const logger = DEV ? (options.logger ?? (options.debug ? console.info : undefined)) : undefined;
  const url = options.url.replace(/\/+$/, '');
  // Development build: a relative URL outside a browser fails each connection at once, with an
  // error that says so (creating the client is fine: server rendering never connects it).
  const misplaced = DEV ? unresolvable(url, 'url') : undefined;
  const refuse: Connector = (_token, sink) => {
    queueMicrotask(() => sink.onEnd(new ConnectionError('invalid_options', {}, misplaced)));
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
  const conns = {} as Record<Transport, Connection>;
  let closed = false;
  let state: ClientState = { sse: IDLE, websocket: IDLE };

  // A throwing `error` listener is only logged: reporting it would call it again.
  const emitter = new Emitter<ClientEvents>((error, type) => {
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
  /** What every channel needs of the client (`note`: the development build only). */
  const host: ChannelHost = { conns, report };
  if (DEV) host.note = note;
  /** The channels on `t` that have not failed, in subscription order. */
  const on = (t: Transport) => [...chans.values()].filter((c) => c.route === t && !c.failure);
  const router = createRouter(env, options.fallback, () => placeAll('fallback ended'));
  /** Moves channels after the connection that reported has finished its own work. */
  const placeAll = (why: string) =>
    queueMicrotask(() => {
      if (!closed) for (const c of chans.values()) place(c, why);
    });
  /** Development build: a channel was asked of the server. */
  const joined = (c: Channel, transport: Transport) =>
    note({ type: 'join', channel: c.name, transport, since: c.lastId });

  /**
   * A frame that is not an event, on transport `t` (`undefined`: it was not a JSON object). The
   * welcome opens the connection; an error without a channel ends an SSE stream (on WebSocket
   * it concerns the client); the others go to the channel they name, if it is on `t`.
   */
  const control = (t: Transport, f: ServerFrame | undefined, sink: Sink) => {
    if (!f) return report(new ConnectionError('bad_message'));
    if (DEV) note({ type: 'frame', transport: t, frame: f });
    const { channel } = f as { channel?: string };
    const c = chans.get(channel as string);
    const error = f.type === 'error' ? errorFor(f.code, { channel }, f.message) : undefined;
    // WebSocket: what answers a publish, and a request to refresh the token.
    if (WEBSOCKET && f.type === 'ack') outbox.settle(f.ref, undefined, f.id);
    else if (WEBSOCKET && f.type === 'refresh') refresh(f.expiresIn);
    else if (WEBSOCKET && f.type === 'error' && f.ref)
      outbox.settle(f.ref, new PublishError(f.code, {}, f.message));
    else if (f.type === 'welcome') sink.onOpen(f.heartbeat);
    else if (!channel) {
      if (error && t === 'sse') sink.onEnd(error);
      else if (error) report(error);
    } else if (c?.route !== t) return;
    else if (f.type === 'subscribed') c.subscribed(f.position);
    else if (f.type === 'gap') {
      if (DEV) note({ type: 'gap', channel, reason: f.reason });
      c.gap(f.reason);
    } else if (error) {
      if (DEV) note({ type: 'error', error });
      c.error(error);
    }
  };

  const post = (channel: string, data: unknown, event: string | undefined) =>
    DEV && misplaced
      ? Promise.reject(new PublishError('invalid_options', { channel }, misplaced))
      : httpPublish({ ...base, url, timeout: publishTimeout, aborts }, channel, data, event);

  // Server-Sent Events: every SSE channel on one stream, `POST {url}/sse` with the channel set
  // in the body (any size fits), in the batched form of version 2. When a proxy holds the stream
  // back (`buffered`), a request per batch instead (`mode=poll`): see the router.
  let syncing = false;
  /** Re-reads the SSE channel set once per tick: one stream for all, reopened on change. */
  const syncSse = () => {
    if (syncing) return;
    syncing = true;
    queueMicrotask(() => {
      syncing = false;
      // After `close()` no channel is left, and a stopped connection stays stopped.
      if (on('sse').length) conns.sse.restart();
      else conns.sse.stop();
    });
  };
  const sse: Connector = (token, sink) => {
    let close: () => void;
    let first = true;
    /** One request: the stream, or one poll, after which the next one goes out. */
    const request = () => {
      const poll = router.polls();
      // A stream's welcome comes at once, unless something holds the stream back (`buffered`).
      if (!poll) sink.onRequest();
      close = readSse(
        {
          ...base,
          url: `${url}/sse`,
          // The first poll of a connection is answered at once, so that it opens in time.
          body: `v=2&batch=1${poll ? `&mode=poll${first ? '&wait=0' : ''}` : ''}${on('sse')
            .map((c) => {
              if (DEV) joined(c, 'sse');
              return `&channel=${c.name}${c.lastId ? `@${encodeURIComponent(c.lastId)}` : c.rewind ? `~${c.rewind}` : ''}`;
            })
            .join('')}`,
          headers: bearer(token),
        },
        {
          ...sink,
          // Open at the welcome, not at the headers.
          onOpen() {},
          // `event:` is `@` and a control frame's type, or the channel of a run of its events
          // of one type, `<id> <data>` each.
          onBlock(lines, { event: name = '', type = '' }) {
            const c = chans.get(name);
            for (const l of lines)
              if (name[0] === '@') control('sse', parseFrame(l, name.slice(1)), sink);
              else c?.line('sse', l, type);
            c?.settle();
          },
          onEnd(error) {
            if (!poll || error.code !== 'closed') return sink.onEnd(error);
            first = false;
            request();
          },
        },
      );
    };
    request();
    return { close: () => close() };
  };

  // WebSocket: every WebSocket channel on one socket, `{url}/ws?v=2`, publishes acknowledged on
  // it, the token refreshed in-band.
  const send = (frame: object) => conns.websocket.send(JSON.stringify(frame));
  /** Asks for a channel; false when the socket is not open (its opening asks for every channel). */
  const join = (c: Channel) => {
    if (DEV && conns.websocket.state().status === 'open') joined(c, 'websocket');
    return send({ type: 'subscribe', channel: c.name, since: c.lastId, rewind: c.rewind });
  };
  const outbox = /* @__PURE__ */ createOutbox(
    env,
    (data) => conns.websocket.send(data),
    publishTimeout,
    options.maxQueue ?? 100,
  );
  // In-band refresh: one token per request, sent only when it is new, and a quiet period after
  // each, so a server asking again and again is not answered in a loop.
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
  /** The token goes in-band as the first frame, never in the URL. */
  const websocket: Connector = (token, sink) => {
    const link = openWebSocket(
      { ...base, url: `${url.replace(/^http/, 'ws')}/ws?v=2`, WebSocket: base.WebSocket() },
      {
        ...sink,
        onOpen() {
          sentToken = token;
          quietUntil = 0;
          link.send(JSON.stringify({ type: 'auth', token }));
        },
        // A message joins lines: JSON frames, and events `<channel> <type> <id> <data>`, of
        // which a channel's lines in a row are a run (see `Channel.settle`).
        onMessage(data) {
          sink.onActivity();
          // Each line is cut from the message in place, without splitting it into strings first.
          const text = String(data);
          let run: Channel | undefined;
          for (let start = 0, end = 0; start < text.length; start = end + 1) {
            end = text.indexOf('\n', start);
            // The last line has no line feed. (Not `>>> 0`: an index past the small integers
            // would make every index of the loop a double.)
            if (end < 0) end = text.length;
            const a = text.indexOf(' ', start);
            const b = text.indexOf(' ', a + 1);
            if (text[start] === '{') control('websocket', parseFrame(text.slice(start, end)), sink);
            else {
              const c = chans.get(text.slice(start, a));
              if (c !== run) run?.settle();
              run = c;
              c?.line('websocket', text.slice(b + 1, end), text.slice(a + 1, b));
            }
          }
          run?.settle();
        },
      },
    );
    return link;
  };

  /** A transport's connection, and what its states and outcomes do to the channels on it. */
  const connect = (t: Transport, connector: Connector) => {
    conns[t] = base.connection(DEV && misplaced ? refuse : connector, {
      onState(next, prev) {
        state = { ...state, [t]: next };
        if (DEV) note({ type: 'state', transport: t, next, prev });
        if (WEBSOCKET && t === 'websocket') {
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
  };
  if (SSE) connect('sse', sse);
  if (WEBSOCKET) connect('websocket', websocket);

  /** A channel leaves its transport (it moves, or it is dropped). */
  const leave = (c: Channel) => {
    if (!WEBSOCKET || c.route === 'sse') return syncSse();
    // Its publishes not sent yet go by HTTP instead, settling the same promises.
    outbox.divert(c.name, post);
    send({ type: 'unsubscribe', channel: c.name });
    if (!on('websocket').some((o) => o !== c)) conns.websocket.stop();
  };

  /** Puts a channel on the transport the rule picks, moving it (resuming from its last id) when that changed. */
  const place = (c: Channel, why: string) => {
    // A build with one transport puts every channel on it.
    const t = !WEBSOCKET ? 'sse' : !SSE ? 'websocket' : router.pick(c.choice(), c.duplex);
    if (t === c.route) return;
    if (DEV) note({ type: 'placement', channel: c.name, from: c.route, to: t, reason: why });
    if (c.route) leave(c);
    c.route = t;
    c.live = false;
    if (!WEBSOCKET || t === 'sse') syncSse();
    else if (!join(c)) conns.websocket.start();
    c.touch();
  };

  /** A handle was released: the channel moves if its choices changed, or goes `closeDelay` after its last. */
  const release = (c: Channel) => {
    if (DEV) note({ type: 'unsubscribe', channel: c.name });
    if (closed) return;
    if (c.handles.length) place(c, 'unsubscribe');
    else
      c.linger = env.setTimeout(() => {
        if (DEV) note({ type: 'leave', channel: c.name });
        chans.delete(c.name);
        leave(c);
      }, closeDelay);
  };

  /** Publishes by WebSocket (acknowledged) when the channel is on it, else by HTTP. */
  const publish = (channel: string, data: unknown, { event }: PublishOptions = {}) => {
    if (closed) return Promise.reject(new PublishError('client_closed'));
    const c = chans.get(channel);
    if (c && !c.duplex) {
      c.duplex = true;
      place(c, 'publish');
    }
    if (!WEBSOCKET || c?.route !== 'websocket') return post(channel, data, event);
    const s = conns.websocket.state();
    return s.status === 'failed' ? Promise.reject(s.error) : outbox.add(channel, data, event);
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
        c = new Channel(name, opts, host);
        chans.set(name, c);
      }
      env.clearTimeout(c.linger);
      c.duplex ||= !!opts.duplex;
      if (DEV) note({ type: 'subscribe', channel: name, options: opts });
      const handle = createHandle<M[typeof name]>(
        c,
        opts.transport ?? defaultChoice,
        listenerError,
        release,
      );
      place(c, 'subscribe');
      return handle;
    },
    publish: DEV ? (channel, data, opts) => logged(channel, publish(channel, data, opts)) : publish,
    getState: () => state,
    on: (type, listener) => emitter.on(type, listener),
    close() {
      if (closed) return;
      closed = host.closed = true;
      // Every handle now reads `closed`.
      for (const c of chans.values()) {
        env.clearTimeout(c.linger);
        c.touch();
      }
      chans.clear();
      if (WEBSOCKET) outbox.fail(new PublishError('client_closed'));
      for (const t of TRANSPORTS) conns[t]?.stop();
      for (const abort of aborts) abort();
      tokens.cancel();
      router.dispose();
      emitter.clear();
    },
  };
}
