import type { ConnectionState } from './connection';
import { DEV } from './dev';
import { Emitter } from './emitter';
import { ConnectionError, type TidewireError } from './errors';
import { own } from './frames';
import type { InspectNote } from './inspect';
import type { EventFrame, GapReason } from './protocol';
import type { Transport, TransportChoice } from './routing';

/** One event of a channel, as listeners receive it. */
export interface ChannelEvent<T = unknown> {
  /** The channel it was published on. */
  channel: string;
  /** The event's position; give it back as `since` to resume after it. */
  id: string;
  /** The application's event type (`"message"` unless the publisher chose one). */
  type: string;
  /** The payload, as the publisher sent it (its JSON text, with the subscribe option `raw`). */
  data: T;
}

/** A `gap`: events before the current one could not be replayed. Refetch the state. */
export interface GapInfo {
  /** The channel whose history could not be replayed. */
  channel: string;
  /**
   * Why: `trimmed` (history was cut past the position), `epoch` (the position belongs to a
   * history the server no longer has, as after a restart with a new store) or `invalid` (not a
   * position this server issued).
   */
  reason: GapReason;
}

/**
 * Where a subscription stands.
 * - `connecting`: not yet confirmed by the server.
 * - `live`: confirmed; events flow.
 * - `reconnecting`: was live, its connection was lost, it will resume from `lastEventId`.
 * - `failed`: stopped by a fatal error (see `error`).
 * - `closed`: unsubscribed.
 */
export type SubscriptionStatus = 'connecting' | 'live' | 'reconnecting' | 'failed' | 'closed';

/** An immutable picture of a channel: the same object until something changes. */
export interface SubscriptionSnapshot<T = unknown> {
  /** The channel. */
  readonly channel: string;
  /** Where the subscription stands; see {@link SubscriptionStatus}. */
  readonly status: SubscriptionStatus;
  /** The transport the channel is on now. */
  readonly transport: Transport;
  /** The id of the newest event delivered, else the `since` it started from, else the server's position when it went live. */
  readonly lastEventId: string | undefined;
  /** The newest event delivered, if any. */
  readonly lastEvent: ChannelEvent<T> | undefined;
  /** Why it is failed or reconnecting, when known. */
  readonly error: TidewireError | undefined;
  /** Events delivered to listeners. */
  readonly received: number;
  /** Events dropped because they repeated the id of the event delivered just before. */
  readonly duplicates: number;
  /** `gap` events raised. */
  readonly gaps: number;
  /** Times the server confirmed the subscription again after the first. */
  readonly reconnects: number;
}

/** Listener signatures of a {@link Subscription}. */
export type SubscriptionEvents<T> = {
  /** A new event; never one already delivered. */
  event: (event: ChannelEvent<T>) => void;
  /** The server could not replay from the channel's position: refetch the state. */
  gap: (gap: GapInfo) => void;
  /** A channel error (such as `forbidden`), or the connection failed for good. */
  error: (context: { error: TidewireError }) => void;
  /**
   * `getSnapshot()` would now return a new object. Events that arrive together (one SSE block, or
   * a channel's events in a row in one WebSocket message) make one change, after the last of them:
   * a store re-renders once per batch, not per event.
   */
  change: () => void;
};

/** Options of `client.subscribe`. */
export interface SubscribeOptions {
  /**
   * The transport: an explicit one always wins (and never falls back); `'auto'`
   * takes SSE for listen-only channels and WebSocket for duplex ones.
   * @default the client's `transport` option
   */
  transport?: TransportChoice;
  /** Resume after this event id (a saved `lastEventId`). @default the persisted position, if any */
  since?: string | undefined;
  /**
   * Without a position (`since`, or a persisted one, which win), first replay up to this many of
   * the channel's newest events still in the server's history, then go live. Only the handle
   * that opens the channel asks: later handles share its subscription.
   * @default 0
   */
  rewind?: number;
  /** Declare that the app will publish here: `'auto'` then prefers WebSocket. @default false */
  duplex?: boolean;
  /**
   * Hand each event's `data` over as the JSON text it arrived as, unparsed: a stream of language
   * model tokens, or data the app parses its own way, skips a `JSON.parse`. Only the handle that
   * opens the channel chooses, as for `rewind`: later handles share its events.
   * @default false
   */
  raw?: boolean;
}

/** One handle on a channel. Several handles share one server-side subscription. */
export interface Subscription<T = unknown> {
  /** The channel this handle is on. */
  readonly channel: string;
  /** Adds a listener; returns its disposer. */
  on<K extends keyof SubscriptionEvents<T>>(
    type: K,
    listener: SubscriptionEvents<T>[K],
  ): () => void;
  /** The channel's state now: the same object until something changes. */
  getSnapshot(): SubscriptionSnapshot<T>;
  /** Releases this handle (idempotent); the channel closes shortly after its last handle. */
  unsubscribe(): void;
}

type Events = SubscriptionEvents<unknown>;

/** What a channel needs of its client. @internal */
export interface ChannelHost {
  /** Each transport's connection. */
  readonly conns: Record<Transport, { state(): ConnectionState }>;
  /** The client was closed: every channel reads `closed`. */
  closed?: boolean;
  report(error: TidewireError): void;
  /** Development build: tells `inspect` listeners and the logger. */
  note?(record: InspectNote): void;
}

/**
 * Per-channel state shared by its handles. A class, so that a thousand idle channels share
 * their methods instead of holding a closure each (the heap per idle subscription).
 * @internal
 */
export class Channel {
  // The fields the constructor assigns are `declare`d, so that the build does not also define
  // them as `undefined` first: the same object, fewer bytes.
  declare readonly name: string;
  /**
   * Its handles, oldest first, each with its listeners and transport choice (the newest
   * explicit one wins); replaced on change, never mutated.
   */
  handles: readonly HandleEmitter[] = [];
  duplex = false;
  /** Where it is; undefined until it is first placed. */
  declare route: Transport | undefined;
  declare lastId: string | undefined;
  /** How many past events to replay when the channel has no position yet. */
  declare readonly rewind: number | undefined;
  /** Hand `data` over as the string it arrived as. */
  declare readonly raw: boolean | undefined;
  /** Confirmed by `subscribed` on its current route. */
  live = false;
  /** A channel-level fatal error (forbidden…): it is left out of requests. */
  declare failure: TidewireError | undefined;
  /** The timer that drops it after its last handle went (see `closeDelay`). */
  declare linger: unknown;
  /** Its client's parts it needs: one object for every channel of the client. */
  readonly #host: ChannelHost;
  #snap: SubscriptionSnapshot | undefined;
  #lastEvent: ChannelEvent | undefined;
  #received = 0;
  #duplicates = 0;
  #gaps = 0;
  #confirmed = 0;

  constructor(name: string, options: SubscribeOptions, host: ChannelHost) {
    this.name = name;
    this.lastId = options.since;
    this.rewind = options.rewind;
    this.raw = options.raw;
    this.#host = host;
  }

  /**
   * An event line `<id> <data>` from transport `t` (dropped unless the channel is on it), its data
   * still JSON text: parsed (unless `raw`; data that is not JSON is reported as `bad_message` and
   * the event dropped), then handed to listeners. `type` is `''` for `message`. Events count only
   * once the server has confirmed the subscription on the channel's current route: any earlier
   * one belongs to a subscription being replaced, whose events come again in the replay that
   * follows `subscribed`. Event listeners already read a snapshot that counts their event; change
   * listeners hear at the end of the run of lines (see `settle`). The id may point into a whole
   * network chunk until then.
   */
  line(t: Transport, line: string, type: string): void {
    if (this.route !== t) return;
    const space = line.indexOf(' ');
    const id = line.slice(0, space);
    const text = line.slice(space + 1);
    try {
      const data = this.raw ? own(text) : JSON.parse(text);
      if (DEV) {
        const frame = { type: 'event', channel: this.name, id, event: type || 'message', data };
        this.#host.note?.({ type: 'frame', transport: t, frame: frame as EventFrame });
      }
      if (!this.live) return;
      // Listeners of the event already read a snapshot that counts it.
      this.#snap = undefined;
      // A server that replays from a position inclusively repeats that event.
      if (id === this.lastId) {
        this.#duplicates++;
      } else {
        this.lastId = id;
        this.#received++;
        this.#lastEvent = { channel: this.name, id, type: type ? own(type) : 'message', data };
        // Listeners never throw here: the emitter catches their errors.
        this.#emit('event', this.#lastEvent);
      }
    } catch {
      this.#host.report(new ConnectionError('bad_message'));
    }
  }

  /**
   * Ends a run of lines (an SSE block, or this channel's lines in a row in a WebSocket message):
   * the last id is copied out of the network chunk, so that the channel never holds one alive,
   * and change listeners hear once. Once per run rather than per line: a tenth of the client's
   * time per event.
   */
  settle(): void {
    // The same text: the event's listeners cannot tell.
    if (this.#lastEvent) this.#lastEvent.id = this.lastId = own(this.lastId!);
    this.touch();
  }

  /** The newest explicit transport choice of its handles, or `'auto'`. */
  choice(): TransportChoice {
    let explicit: TransportChoice = 'auto';
    for (const h of this.handles) if (h.tag !== 'auto') explicit = h.tag;
    return explicit;
  }

  /** Confirmed by the server, which may say from which position it is live. */
  subscribed(position: string | undefined): void {
    if (this.live) return;
    // A channel that has no position yet takes the server's: an outage before its first
    // event then resumes from here instead of losing what was published meanwhile.
    this.lastId ??= position;
    this.#confirmed++;
    this.live = true;
    this.touch();
  }

  gap(reason: GapReason): void {
    this.#gaps++;
    this.#emit('gap', { channel: this.name, reason });
    this.touch();
  }

  /** Tells listeners; `own`: it concerns this channel alone (a fatal one then fails it). */
  error(error: TidewireError, own = true): void {
    if (own && error.fatal) this.failure = error;
    this.#emit('error', { error });
    this.touch();
  }

  /** Something in the snapshot changed. */
  touch(): void {
    this.#snap = undefined;
    this.#emit('change', undefined as never);
  }

  snapshot(): SubscriptionSnapshot {
    const route = this.route as Transport;
    const conn = this.#host.conns[route].state();
    this.#snap ??= {
      channel: this.name,
      status: this.#host.closed
        ? 'closed'
        : this.failure || conn.status === 'failed'
          ? 'failed'
          : this.live
            ? 'live'
            : this.#confirmed
              ? 'reconnecting'
              : 'connecting',
      transport: route,
      lastEventId: this.lastId,
      lastEvent: this.#lastEvent,
      // The connection's error, in the states that have one (waiting, offline, failed).
      error: this.failure ?? (conn as { error?: TidewireError }).error,
      received: this.#received,
      duplicates: this.#duplicates,
      gaps: this.#gaps,
      reconnects: Math.max(0, this.#confirmed - 1),
    };
    return this.#snap;
  }

  #emit<K extends keyof Events>(type: K, arg: Parameters<Events[K]>[0]): void {
    for (const h of this.handles) h.emit(type, arg);
  }
}

/** The listeners of one handle, tagged with the transport it chose. @internal */
export type HandleEmitter = Emitter<Events, TransportChoice>;

/** @internal */
export function createHandle<T>(
  ch: Channel,
  choice: TransportChoice,
  onListenerError: (error: unknown) => void,
  release: (ch: Channel) => void,
): Subscription<T> {
  const emitter: HandleEmitter = new Emitter(onListenerError, choice);
  let closed: SubscriptionSnapshot<T> | undefined;
  // `concat`: an array of the exact length, as there is one per channel.
  ch.handles = ch.handles.concat(emitter);
  return {
    channel: ch.name,
    on: (type, listener) => emitter.on(type, listener as never),
    getSnapshot: () => closed ?? (ch.snapshot() as SubscriptionSnapshot<T>),
    unsubscribe() {
      if (closed) return;
      closed = { ...(ch.snapshot() as SubscriptionSnapshot<T>), status: 'closed' };
      emitter.emit('change', undefined as never);
      emitter.clear();
      ch.handles = ch.handles.filter((h) => h !== emitter);
      release(ch);
    },
  };
}
