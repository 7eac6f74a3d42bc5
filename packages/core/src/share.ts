/**
 * `@tidewire/core/share`: one connection for all the tabs of a browser profile.
 * {@link createSharedClient} elects one tab with Web Locks; only that tab (the leader) connects,
 * subscribes to the channels of every tab and relays what it receives over a `BroadcastChannel`.
 * Its own entry, so an app that does not share ships none of it.
 * @module
 */

import { checkOptions } from './check-options';
import {
  type ChannelMap,
  type Client,
  type ClientEvents,
  type ClientOptions,
  type ClientState,
  createClient,
} from './client';
import type { ConnectionState } from './connection';
import { DEV } from './dev';
import { Emitter } from './emitter';
import { resolveEnvironment } from './environment';
import { type ErrorCode, PublishError, TidewireError } from './errors';
import { CHANNEL_PATTERN, type GapReason } from './protocol';
import { createOutbox } from './publish';
import { TRANSPORTS, type Transport, type TransportChoice } from './routing';
import {
  Channel,
  type ChannelHost,
  createHandle,
  type Subscription,
  type SubscriptionStatus,
} from './subscription';

/** The Web Locks API (`navigator.locks`), as far as the election uses it. */
export interface LockManagerLike {
  /** Asks for the lock `name`; `callback` runs while it is held, until its promise settles. */
  request(
    name: string,
    options: { steal?: boolean; signal?: AbortSignal },
    callback: () => Promise<void> | undefined,
  ): Promise<unknown>;
}

/** A `BroadcastChannel`, as far as the relay uses it. */
export interface BroadcastChannelLike {
  /** Receives the messages other tabs post. */
  onmessage: ((event: { data: never }) => void) | null;
  /** Posts a message to every other tab on the channel. */
  postMessage(message: unknown): void;
  /** Leaves the channel. */
  close(): void;
}

/** A page's `pagehide` and `pageshow` events: a `window`, as far as sharing uses it. */
export interface PageEvents {
  /** Adds a `pagehide` or `pageshow` listener. */
  addEventListener(type: string, listener: (event: PageEvent) => void): void;
  /** Removes it. */
  removeEventListener(type: string, listener: (event: PageEvent) => void): void;
}

/** A `pagehide` or `pageshow` event; `persisted`: the page is (or comes back) from the back/forward cache. */
export interface PageEvent {
  /** `pagehide` or `pageshow`. */
  type: string;
  /** The page goes into (or comes back from) the back/forward cache. */
  persisted?: boolean;
}

/** What sharing takes from the browser. Each member may be replaced (tests). */
export interface ShareEnvironment {
  /** The election's locks. @default `navigator.locks`, which browsers give only to secure contexts */
  locks: LockManagerLike | undefined;
  /** The relay between tabs. @default `globalThis.BroadcastChannel` */
  BroadcastChannel: (new (name: string) => BroadcastChannelLike) | undefined;
  /** Where `pagehide` and `pageshow` are listened to. @default globalThis (the window) */
  window: PageEvents | undefined;
}

/** The `share` option of {@link createSharedClient}. */
export interface ShareOptions {
  /**
   * Tabs share only with tabs of the same origin, `url` and key. Give each user their own (the
   * user id, say), so that two accounts in one browser never share a connection or a token.
   */
  key: string;
  /** How often the leader says it is alive, in ms; a visible tab that hears nothing for 3 of these takes over. @default 1000 */
  heartbeat?: number;
  /** Locks, channel and page events. @default the browser's */
  environment?: Partial<ShareEnvironment>;
}

/** Options of {@link createSharedClient}: those of `createClient`, plus `share`. */
export interface SharedClientOptions extends ClientOptions {
  /** Which tabs share, and how. */
  share: ShareOptions;
}

/** The connection state of each transport (the leader's), and this tab's role. */
export interface SharedClientState extends ClientState {
  /** Whether this tab holds the group's connections; also true when nothing can be shared. */
  readonly leader: boolean;
}

/** Listener signatures of a {@link SharedClient}. */
export type SharedClientEvents = ClientEvents & {
  /** This tab became the leader, or stopped being it. */
  leader: (change: { leader: boolean }) => void;
};

/** A client whose tabs share one connection; see {@link createSharedClient}. */
export interface SharedClient<M extends object = ChannelMap> extends Client<M> {
  /** The leader's connection state, and this tab's role. */
  getState(): SharedClientState;
  /** Adds a listener, `leader` changes included; returns its disposer. */
  on<K extends keyof SharedClientEvents>(type: K, listener: SharedClientEvents[K]): () => void;
  /** Closes this client in every tab of the group, e.g. at logout. */
  closeGroup(): void;
}

/** A channel as a tab holds it: admitted by the leader (`ok`), catching up to `skip`, joined as `j`. */
type Local = Channel & { ok?: boolean; skip?: string | undefined; j?: number };
/** An event as relayed: channel, id, type, data (an array: cheaper to copy between tabs than an object). */
type Relayed = [string, string, string, string];
/**
 * The events of a channel this tab accepted, in order, after position `b` (unknown after a gap).
 * `f`: relayed afresh without a position: `b` is the server's, once the channel is live.
 */
interface Log {
  b: string | undefined;
  e: Relayed[];
  f?: boolean;
}
/** Every channel's newest position in a log. */
type Positions = Record<string, string | undefined>;
/** An error as it crosses to other tabs: its fields, and the error itself for this tab. */
type Wired = Record<string | symbol, unknown>;

// What else the leader relays, after a number (never a channel name) saying what it is.
/** A channel is relayed afresh: its log starts after this position. */
const NEW = 0;
/** A channel is no longer relayed. */
const DROP = 1;
const STATUS = 2;
const GAP = 3;
const ERROR = 4;
const STATE = 5;
const CLIENT_ERROR = 6;
/** A publish's outcome: tab, ref, id or error. */
const OUTCOME = 7;
const ANSWER = 8;

/** What the leader relays, in order: events, and tuples for everything else. */
type Item =
  | Relayed
  | [typeof NEW, string, string | undefined]
  | [typeof DROP, string]
  | [typeof STATUS, string, SubscriptionStatus, Transport, string | undefined]
  | [typeof GAP, string, GapReason]
  | [typeof ERROR, string, Wired]
  | [typeof STATE, Transport, ConnectionState]
  | [typeof CLIENT_ERROR, Wired]
  | [typeof OUTCOME, string, string, string | undefined, Wired | undefined]
  /**
   * The answer to a join: tab, join number, channel; the events after its position (it knew
   * the position), the id to catch up to (the tab is ahead), or null (a gap); the channel's
   * status, transport, position, and error when it failed.
   */
  | [
      typeof ANSWER,
      string,
      number,
      string,
      Relayed[] | string | null,
      SubscriptionStatus,
      Transport,
      string | undefined,
      Wired | undefined,
    ];

/**
 * Tab → leader: hello (who leads?), close (the group), join (tab, join number, channel,
 * position, whether the tab is ahead of a new leader there, transport, duplex), leave, bye (all
 * of a tab's channels), publish (a frame as the client's outbox writes it).
 */
type Request =
  | ['h' | 'x']
  | ['j', string, number, string, string | undefined, boolean, TransportChoice, boolean]
  | ['l', string, string]
  | ['b', string]
  | ['p', string, string];

/**
 * On the channel: a request `r` for leadership `to`; or from leadership `l`, numbered `n` from
 * its lead on, a lead (with the leader's positions `s` and state `t`), a batch `b` (runs of events
 * as JSON text) or a heartbeat.
 */
interface Message {
  r?: Request;
  to?: number | undefined;
  l?: number | undefined;
  n?: number;
  s?: Positions;
  t?: Record<Transport, ConnectionState>;
  b?: (Item | string)[];
}

/** A hub channel: the handle that relays it, and one handle per tab holding it. */
interface Held {
  h: Subscription;
  t: Map<string, Subscription>;
}

/** Events a log keeps per channel: between this and twice as many. */
const LOG = 1000;
const SELF = Symbol();

const wire = (e: TidewireError | undefined): Wired | undefined =>
  e && { ...e, message: e.message, [SELF]: e };
const unwire = (w: Wired | undefined): TidewireError | undefined =>
  w && ((w[SELF] as TidewireError) ?? Object.assign(new TidewireError(w.code as ErrorCode), w));
/** A connection state with its error made ready to cross (`wire`), or back (`unwire`). */
const convert = (s: ConnectionState, f: typeof wire | typeof unwire): ConnectionState =>
  ({ ...s, error: f((s as { error?: never }).error) }) as ConnectionState;
const end = (log: Log) => log.e.at(-1)?.[1] ?? log.b;
const fresh = (b: string | undefined): Log => ({ b, e: [], f: b === undefined });

/**
 * Creates a client that shares one connection with the other tabs of the same origin, `url`
 * and `share.key`. It is a `Client` like any other (bindings take it as they are). One tab, the
 * leader, runs the connections and subscribes to every channel any tab holds; the others receive
 * its events over a `BroadcastChannel`, publish through it, and never call `getToken`. When the
 * leader closes, crashes, reloads, hangs or is left, another tab takes over and every tab resumes
 * where it was: nothing lost or repeated, or a `gap` when that cannot be proved. Without Web Locks
 * or `BroadcastChannel` (or outside a secure context) it quietly runs a connection of its own.
 * @example
 * import { createSharedClient } from '@tidewire/core/share'
 * const client = createSharedClient({ url, getToken, share: { key: user.id } })
 * client.on('leader', ({ leader }) => console.log(leader ? 'this tab connects' : 'relayed'))
 */
export function createSharedClient<M extends object = ChannelMap>(
  options: SharedClientOptions,
): SharedClient<M> {
  if (DEV) {
    checkOptions(options, 'createClient');
    if (typeof options.share?.key !== 'string')
      throw new TidewireError('invalid_options', {}, 'share.key must be a string');
  }
  const { share, closeDelay = 1000, publishTimeout = 10_000, maxQueue = 100 } = options;
  const { heartbeat = 1000 } = share;
  const env = resolveEnvironment(options.environment);
  const g = globalThis as Partial<PageEvents> & {
    navigator?: { locks?: LockManagerLike };
    BroadcastChannel?: ShareEnvironment['BroadcastChannel'];
  };
  const {
    locks,
    BroadcastChannel: Bus,
    window,
  } = {
    locks: g.navigator?.locks,
    BroadcastChannel: g.BroadcastChannel,
    window: g.addEventListener && (g as PageEvents),
    ...share.environment,
  } satisfies ShareEnvironment;
  const shared = locks && Bus;
  const name = `tidewire:share:${options.url.replace(/\/+$/, '')}:${share.key}`;
  const log = options.logger ?? (options.debug ? console.info : undefined);
  const me = env.random().toString(36).slice(2);
  const chans = new Map<string, Local>();
  const logs = new Map<string, Log>();
  /** Leader: the hub's channels, and those whose status may have changed. */
  const held = new Map<string, Held>();
  const dirty = new Set<string>();
  let state: SharedClientState = {
    sse: { status: 'idle' },
    websocket: { status: 'idle' },
    leader: false,
  };
  let bus: BroadcastChannelLike | undefined;
  let hub: Client | undefined;
  /** This tab's leadership while it leads; the one it follows; the newest it has seen. */
  let epoch: number | undefined;
  let cur: number | undefined;
  let newest = 0;
  /** The number of the leader's last message: posted (leader), or taken in (every tab). */
  let count = 0;
  /** Leader: the positions it took over from, until every tab has had time to join. */
  let starts: Positions | undefined;
  let queue: Item[] = [];
  let closed = false;
  let seq = 0;
  let timer: unknown;
  let heard = 0;
  let last = 0;
  let steals = 0;
  let stealAt = 0;
  let term = 0;
  let release: (() => void) | undefined;
  let abort: AbortController | undefined;
  /** Ends this tab's own lock, held while it is in the group. */
  let alive: (() => void) | undefined;
  /** Leader: the tabs whose end it waits for. */
  const watched = new Set<string>();

  const emitter = new Emitter<SharedClientEvents>((cause, type) => {
    if (type !== 'error') listenerError(cause);
  });
  const listenerError = (cause: unknown) =>
    emitter.emit('error', { error: new TidewireError('listener_failed', { cause }) });
  /** What this tab's channels read: the leader's connection states, mirrored. */
  const host: ChannelHost = {
    conns: { sse: { state: () => state.sse }, websocket: { state: () => state.websocket } },
    report: (error) => emitter.emit('error', { error }),
  };
  /** Sends a request to the leader (this tab's own, handled at once); false when none is known. */
  const send = (r: Request) => {
    if (epoch) request(r);
    else if (cur) bus!.postMessage({ r, to: cur } satisfies Message);
    return !!(epoch || cur);
  };
  // Publishes wait, are acknowledged and time out as on a socket: the leader is this tab's socket.
  const outbox = createOutbox(env, (q) => send(['p', me, q]), publishTimeout, maxQueue);
  const push = (l: Log, e: Relayed) => {
    l.e.push(e);
    if (l.e.length > 2 * LOG) l.b = l.e.splice(0, LOG).pop()![1];
  };
  /** Delivers an event to a channel this tab holds, and logs it. */
  const give = (c: Local, e: Relayed, l = logs.get(c.name)) => {
    if (l) push(l, e);
    // An event relayed means the leader's subscription is live.
    c.subscribed(undefined);
    c.line(c.route!, `${e[1]} ${e[3]}`, e[2]);
    c.touch();
  };
  const see = (c: Local, status: SubscriptionStatus, t: Transport, position?: string) => {
    c.route = t;
    if (status === 'live') c.subscribed(position);
    else c.live = false;
    c.touch();
  };
  /** Where a position is in a log: how many of its events come up to it; -1 when it is not there. */
  const at = (l: Log, p: string | undefined) =>
    p === undefined ? l.e.length : p === l.b ? 0 : l.e.findIndex((e) => e[1] === p) + 1 || -1;

  /** Every tab (the leader too) takes in what the leader relays, in the leader's order. */
  const receive = (it: Item) => {
    const [k, n] = it;
    // An event: its channel first. Anything else: a number first, then (mostly) a channel.
    const l = logs.get(typeof k === 'string' ? k : (n as string));
    const c = chans.get(typeof k === 'string' ? k : (n as string));
    if (typeof k === 'string') {
      if (!c) l && push(l, it as Relayed);
      else if (!c.ok) return;
      // Ahead of the leader: this tab delivered these already, up to its own position.
      else if (c.skip) c.skip = c.skip === n ? undefined : c.skip;
      else give(c, it as Relayed, l);
    } else if (k === NEW) logs.set(n, fresh(it[2]));
    else if (k === DROP) logs.delete(n);
    else if (k === STATUS) {
      if (l?.f && !l.e.length && it[2] === 'live') {
        l.b = it[4];
        l.f = false;
      }
      if (c?.ok) see(c, it[2], it[3], it[4]);
    } else if (k === GAP) {
      if (l) logs.set(n, { b: undefined, e: [] });
      if (c?.ok) {
        c.skip = undefined;
        c.gap(it[2]);
      }
    } else if (k === ERROR) {
      const error = unwire(it[2])!;
      c?.error(error, !!error.channel);
    } else if (k === STATE) {
      const prev = state[n];
      state = { ...state, [n]: convert(it[2], unwire) };
      for (const ch of chans.values()) ch.touch();
      emitter.emit('state', { transport: n, next: state[n], prev });
    } else if (k === CLIENT_ERROR) emitter.emit('error', { error: unwire(n)! });
    else if (k === OUTCOME) n === me && outbox.settle(it[2], unwire(it[4]), it[3]);
    else {
      const [, , j, channel, x, status, t, position, error] = it;
      const h = chans.get(channel);
      if (n !== me || !h || h.j !== j || h.ok) return;
      h.ok = true;
      if (typeof x === 'string') h.skip = x;
      else if (!x) {
        logs.set(channel, { b: position, e: [] });
        h.gap('trimmed');
      } else {
        const from = h.lastId ?? position;
        const mine = logs.get(channel);
        if (!mine || end(mine) !== from) logs.set(channel, fresh(from));
        for (const e of x) give(h, e);
      }
      see(h, status, t, position);
      const failure = unwire(error);
      if (failure) h.error(failure, !!failure.channel);
    }
  };

  // The leader's side.

  /** Relays an item; the leader's own tab takes it in at once. */
  const emit = (it: Item) => {
    if (!epoch) return;
    if (!queue.length) queueMicrotask(flush);
    queue.push(it);
    receive(it);
  };
  /** Posts what is queued as one message, after the status of each channel that may have changed. */
  const flush = () => {
    for (const c of dirty) {
      const n = held.get(c)?.h.getSnapshot();
      if (n) emit([STATUS, c, n.status, n.transport, n.lastEventId]);
    }
    dirty.clear();
    // Runs of events cross as one JSON text each: posting a string costs a fraction of a clone.
    const b: (Item | string)[] = [];
    const run: Item[] = [];
    const close = () => run.length && b.push(JSON.stringify(run.splice(0)));
    for (const it of queue) {
      if (typeof it[0] === 'string') run.push(it);
      else {
        close();
        b.push(it);
      }
    }
    close();
    if (b.length) post({ b });
    queue = [];
  };
  /** Tells every tab who leads, with the leader's positions and state; returns the message. */
  const announce = () => {
    flush();
    const st = hub!.getState();
    return post({
      s: Object.fromEntries([...logs].map(([c, l]) => [c, end(l)])),
      t: { sse: convert(st.sse, wire), websocket: convert(st.websocket, wire) },
    });
  };
  /** Posts a message of the leader, stamped and numbered; returns it. */
  const post = (m: Message) => {
    m = { ...m, l: epoch, n: ++count };
    if (epoch) bus?.postMessage(m);
    return m;
  };
  const hello = () => bus?.postMessage({ r: ['h'] } satisfies Message);
  const leave = (f: string, c: string) => {
    const h = held.get(c);
    const handle = h?.t.get(f);
    if (!handle) return;
    handle.unsubscribe();
    h!.t.delete(f);
    if (h!.t.size) return;
    h!.h.unsubscribe();
    held.delete(c);
    emit([DROP, c]);
  };
  /**
   * Leader: waits for the lock a tab holds while it is in the group. The browser releases it
   * when the tab closes, crashes or is discarded (a mobile browser discards background tabs
   * without `pagehide`): its channels are then let go, as if it had said goodbye.
   */
  const watchTab = (f: string) => {
    if (f === me || watched.has(f)) return;
    watched.add(f);
    // Still waiting after this tab steps down, it then does nothing (a wait is never given up:
    // a queued request keeps no page out of the back/forward cache).
    const lead = epoch;
    locks!
      .request(`${name}:tab:${f}`, {}, () => {
        if (lead === epoch) {
          watched.delete(f);
          bye(f);
        }
        return undefined;
      })
      .catch(() => {});
  };
  /** A tab's channels, let go. */
  const bye = (f: string) => {
    for (const c of held.keys()) leave(f, c);
  };
  const request = (r: Request) => {
    // A tab that joins or publishes is watched; one saying goodbye is not.
    if (shared && (r[0] === 'j' || r[0] === 'p')) watchTab(r[1]);
    if (r[0] === 'h') announce();
    else if (r[0] === 'b') bye(r[1]);
    else if (r[0] === 'l') leave(r[1], r[2]);
    else if (r[0] === 'p') {
      const { ref, channel, data, event } = JSON.parse(r[2]);
      const outcome = (id?: string, error?: TidewireError) =>
        emit([OUTCOME, r[1], ref, id, wire(error)]);
      // Once this tab steps down its answers are dropped: the tab's outbox says `unconfirmed`.
      hub!.publish(channel, data, { event }).then(
        ({ id }) => outcome(id),
        (e) => outcome(undefined, e),
      );
    } else if (r[0] === 'j') {
      const [, f, j, c, p, ahead, t, d] = r;
      let h = held.get(c);
      if (!h) {
        // Right after a takeover, a channel resumes from the new leader's own position.
        const mine = starts && logs.get(c);
        // Relayed as the JSON text it arrived as: each tab parses it (or not, for `raw`).
        const relay = hub!.subscribe(c, {
          since: mine ? end(mine) : p,
          transport: t,
          duplex: d,
          raw: true,
        });
        h = { h: relay, t: new Map() };
        held.set(c, h);
        // A channel still lingering in the hub keeps its position: the log starts there.
        if (!mine) emit([NEW, c, relay.getSnapshot().lastEventId]);
        relay.on('event', (e) => emit([c, e.id, e.type, e.data as string]));
        relay.on('gap', ({ reason }) => emit([GAP, c, reason]));
        relay.on('error', ({ error }) => emit([ERROR, c, wire(error)!]));
        relay.on('change', () => {
          if (!queue.length) queueMicrotask(flush);
          dirty.add(c);
        });
      }
      const before = h.t.get(f);
      h.t.set(f, hub!.subscribe(c, { transport: t, duplex: d }));
      before?.unsubscribe();
      const l = logs.get(c)!;
      // Ids are compared for equality only: a position is placed by where it is in the log.
      const i = at(l, p);
      const n = h.h.getSnapshot();
      emit([
        ANSWER,
        f,
        j,
        c,
        i < 0 ? (ahead ? p! : null) : l.e.slice(i),
        n.status,
        n.transport,
        end(l),
        n.status === 'failed' ? wire(n.error) : undefined,
      ]);
    }
  };

  const role = (leader: boolean) => {
    if (DEV) log?.(`tidewire: this tab ${leader ? 'leads' : 'follows'}`);
    state = { ...state, leader };
    emitter.emit('leader', { leader });
  };
  /** Takes the lead: connects, announces, and answers its own tab's channels first. */
  const rule = () => {
    epoch = Math.max(env.now(), newest + 1);
    count = 0;
    hub = createClient({ ...options, closeDelay: 0 });
    hub.on('state', ({ transport, next }) => emit([STATE, transport, convert(next, wire)]));
    hub.on('error', ({ error }) => emit([CLIENT_ERROR, wire(error)!]));
    role(true);
    const m = announce();
    starts = m.s;
    adopt(m);
  };
  /** Steps down: what is queued is posted, the connections close, the lock is released. */
  const resign = () => {
    if (!epoch) return;
    flush();
    epoch = cur = starts = undefined;
    watched.clear();
    held.clear();
    hub!.close();
    release?.();
    role(false);
  };

  // Every tab's side.

  const join = (c: Local, ahead = false) => {
    c.j = ++seq;
    send(['j', me, c.j, c.name, c.lastId, ahead, c.choice(), c.duplex]);
  };
  /** A new leader: publishes sent to the old one are unconfirmed, channels join again. */
  const adopt = (m: Message) => {
    const s = m.s!;
    newest = cur = m.l!;
    count = m.n!;
    heard = env.now();
    for (const t of TRANSPORTS) receive([STATE, t, m.t![t]]);
    outbox.lost();
    outbox.flush();
    // Logs of channels it does not hold follow the new leader's, from its positions.
    for (const c of logs.keys()) if (!chans.has(c)) logs.delete(c);
    for (const c in s) if (!chans.has(c)) logs.set(c, { b: s[c], e: [] });
    for (const c of chans.values()) {
      const l = logs.get(c.name);
      const from = s[c.name];
      // Ahead of the new leader: its own position comes after the leader's in what it accepted.
      const ahead = !!c.ok && from !== undefined && from !== c.lastId && !!l && at(l, from) >= 0;
      c.ok = false;
      c.skip = undefined;
      c.live = false;
      c.touch();
      join(c, ahead);
    }
  };
  const hear = (m: Message) => {
    const r = m.r;
    if (r) {
      if (r[0] === 'x') client.close();
      else if (epoch && (!m.to || m.to === epoch)) request(r);
      return;
    }
    if (m.s && m.l! >= newest && m.l !== cur) {
      // Another tab took the lead: this one was deposed.
      resign();
      adopt(m);
    } else if (m.l! > newest || (m.l === cur && m.n !== ++count)) {
      // A lead or a message was lost (a page paused or frozen is not given what was posted
      // meanwhile): the leader's next lead makes every channel join again, from where it is.
      // A leader that hears a newer one steps down.
      if (cur) hello();
      resign();
      cur = undefined;
    }
    if (m.l !== cur) return;
    heard = env.now();
    for (const it of m.b ?? [])
      if (typeof it === 'string') for (const e of JSON.parse(it)) receive(e);
      else receive(it);
  };

  /** Asks for the lock: queued, or taken from a leader that stopped answering. */
  const elect = (steal?: boolean) => {
    const t = ++term;
    abort?.abort();
    const ac = steal ? undefined : new AbortController();
    abort = ac;
    locks!
      .request(name, ac ? { signal: ac.signal } : { steal: true }, () =>
        t === term
          ? new Promise<void>((r) => {
              release = r;
              rule();
            })
          : undefined,
      )
      .catch(() => {
        // The lock was taken from this tab: it follows, and stands again.
        if (t === term) {
          resign();
          elect();
          hello();
        }
      });
  };
  /** Heartbeats while leading; while following, takes over from a silent leader. */
  const tick = () => {
    const now = env.now();
    if (epoch) {
      post({});
      // Logs of channels no tab joined again since the takeover are stale.
      for (const c in starts) if (!held.has(c)) logs.delete(c);
      starts = undefined;
      // A tab that knows no leader asks for one at each round (its lead may have been lost).
    } else if (!cur) hello();
    if (
      !epoch &&
      now - heard > 3 * heartbeat &&
      // A tab that was itself stalled has not read its messages yet: it waits a round.
      now - last < 2 * heartbeat &&
      env.visible() &&
      now >= stealAt
    ) {
      stealAt = now + Math.min(5000 * 2 ** steals++, 300_000);
      heard = now;
      elect(true);
    }
    last = now;
    // Jittered, so that followers drift apart: the first to take over is heard before the others try.
    timer = env.setTimeout(tick, heartbeat * (0.5 + env.random()));
  };
  const start = () => {
    if (!shared) return rule();
    bus = new Bus(name);
    bus.onmessage = ({ data }) => hear(data);
    // Held until this tab leaves: the leader hears of its end, however it ends. Granted after
    // the tab left already, it is let go at once.
    const b = bus;
    locks
      .request(`${name}:tab:${me}`, {}, () =>
        b === bus ? new Promise<void>((r) => (alive = r)) : undefined,
      )
      .catch(() => {});
    heard = last = env.now();
    elect();
    hello();
    timer = env.setTimeout(tick, heartbeat);
  };
  /** Leaves the group: releases or drops the lock, tells the leader, closes the channel. */
  const stop = () => {
    term++;
    abort?.abort();
    if (!epoch) send(['b', me]);
    resign();
    alive?.();
    bus?.close();
    bus = cur = undefined;
    env.clearTimeout(timer);
  };
  // A page in the back/forward cache leaves the group: a held lock, a pending request or a
  // message arriving would keep it out of the cache, or evict it.
  const onPage = (e: PageEvent) =>
    e.type === 'pagehide' ? stop() : e.persisted && !bus && !closed && start();
  const pageEvents = (k: keyof PageEvents) => {
    if (shared) for (const type of ['pagehide', 'pageshow']) window?.[k](type, onPage);
  };
  pageEvents('addEventListener');

  const client: SharedClient<M> = {
    subscribe(name, opts = {}) {
      if (closed) throw new TidewireError('client_closed');
      if (!CHANNEL_PATTERN.test(name))
        throw new TidewireError('invalid_channel', { channel: String(name) });
      let ch: Local | undefined = chans.get(name);
      if (!ch) {
        ch = new Channel(name, opts, host);
        // Where the leader puts it is known once it answers.
        ch.route = 'sse';
        chans.set(name, ch);
      }
      env.clearTimeout(ch.linger);
      ch.duplex ||= !!opts.duplex;
      const choice = opts.transport ?? options.transport ?? 'auto';
      const handle = createHandle<M[typeof name]>(ch, choice, listenerError, (c) => {
        if (closed) return;
        if (c.handles.length) join(c);
        else
          ch.linger = env.setTimeout(() => {
            chans.delete(name);
            send(['l', me, name]);
          }, closeDelay);
      });
      join(ch);
      return handle;
    },
    publish: (channel, data, o = {}) =>
      closed
        ? Promise.reject(new PublishError('client_closed'))
        : outbox.add(channel, data, o.event),
    getState: () => state,
    on: (type, listener) => emitter.on(type, listener),
    close() {
      if (closed) return;
      closed = true;
      stop();
      pageEvents('removeEventListener');
      host.closed = true;
      for (const c of chans.values()) {
        env.clearTimeout(c.linger);
        c.touch();
      }
      chans.clear();
      outbox.fail(new PublishError('client_closed'));
      emitter.clear();
    },
    closeGroup() {
      bus?.postMessage({ r: ['x'] } satisfies Message);
      client.close();
    },
  };
  start();
  return client;
}
