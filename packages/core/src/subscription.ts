import type { ConnectionState } from './connection';
import { createEmitter, type Emitter } from './emitter';
import type { TidewireError } from './errors';
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
  /** The payload, as the publisher sent it. */
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
  /** `getSnapshot()` would now return a new object. */
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

/** Per-channel state shared by its handles. @internal */
export interface Channel {
  readonly name: string;
  readonly handles: Set<Emitter<Events>>;
  /** Choices of handles, newest last: the newest explicit one wins. */
  readonly choices: TransportChoice[];
  duplex: boolean;
  route: Transport;
  lastId: string | undefined;
  /** How many past events to replay when the channel has no position yet. */
  readonly rewind: number | undefined;
  /** Confirmed by `subscribed` on its current route. */
  live: boolean;
  /** A channel-level fatal error (forbidden…): it is left out of requests. */
  failure: TidewireError | undefined;
  linger: unknown;
  /** Whether it has joined a route yet. */
  placed: boolean;
  /**
   * Hands an event to listeners; false when it is dropped. Events count only once the server has
   * confirmed the subscription on the channel's current route: any earlier one belongs to a
   * subscription being replaced, whose events come again in the replay that follows `subscribed`.
   */
  deliver(frame: EventFrame): boolean;
  /** Confirmed by the server, which may say from which position it is live. */
  subscribed(position: string | undefined): void;
  gap(reason: GapReason): void;
  /** Tells listeners; `own`: it concerns this channel alone (a fatal one then fails it). */
  error(error: TidewireError, own?: boolean): void;
  /** Something in the snapshot changed. */
  touch(): void;
  /** The client closed: every handle now reads `closed`. */
  close(): void;
  snapshot(): SubscriptionSnapshot;
}

/** @internal */
export function createChannel(
  name: string,
  since: string | undefined,
  connection: (route: Transport) => ConnectionState,
  rewind?: number,
): Channel {
  let snap: SubscriptionSnapshot | undefined;
  let lastEvent: ChannelEvent | undefined;
  let received = 0;
  let duplicates = 0;
  let gaps = 0;
  let confirmed = 0;
  let closed = false;
  const emit = <K extends keyof Events>(type: K, arg: Parameters<Events[K]>[0]) => {
    for (const h of ch.handles) h.emit(type, arg);
  };
  const ch: Channel = {
    name,
    handles: new Set(),
    choices: [],
    duplex: false,
    route: 'sse',
    lastId: since,
    rewind,
    live: false,
    failure: undefined,
    linger: undefined,
    placed: false,
    deliver(f) {
      if (!ch.live) return false;
      // A server that replays from a position inclusively repeats that event.
      if (f.id === ch.lastId) {
        duplicates++;
        ch.touch();
        return false;
      }
      ch.lastId = f.id;
      received++;
      lastEvent = { channel: name, id: f.id, type: f.event, data: f.data };
      emit('event', lastEvent);
      ch.touch();
      return true;
    },
    subscribed(position) {
      if (ch.live) return;
      // A channel that has no position yet takes the server's: an outage before its first
      // event then resumes from here instead of losing what was published meanwhile.
      ch.lastId ??= position;
      confirmed++;
      ch.live = true;
      ch.touch();
    },
    gap(reason) {
      gaps++;
      emit('gap', { channel: name, reason });
      ch.touch();
    },
    error(error, own = true) {
      if (own && error.fatal) ch.failure = error;
      emit('error', { error });
      ch.touch();
    },
    touch() {
      snap = undefined;
      emit('change', undefined as never);
    },
    close() {
      closed = true;
      ch.touch();
    },
    snapshot() {
      const conn = connection(ch.route);
      snap ??= {
        channel: name,
        status: closed
          ? 'closed'
          : ch.failure || conn.status === 'failed'
            ? 'failed'
            : ch.live
              ? 'live'
              : confirmed
                ? 'reconnecting'
                : 'connecting',
        transport: ch.route,
        lastEventId: ch.lastId,
        lastEvent: lastEvent as never,
        error: ch.failure ?? ('error' in conn ? conn.error : undefined),
        received,
        duplicates,
        gaps,
        reconnects: Math.max(0, confirmed - 1),
      };
      return snap;
    },
  };
  return ch;
}

/** @internal */
export function createHandle<T>(
  ch: Channel,
  onListenerError: (error: unknown) => void,
  release: () => void,
): Subscription<T> {
  const emitter = createEmitter<Events>(onListenerError);
  let closed: SubscriptionSnapshot<T> | undefined;
  ch.handles.add(emitter);
  return {
    channel: ch.name,
    on: (type, listener) => emitter.on(type, listener as never),
    getSnapshot: () => closed ?? (ch.snapshot() as SubscriptionSnapshot<T>),
    unsubscribe() {
      if (closed) return;
      closed = { ...(ch.snapshot() as SubscriptionSnapshot<T>), status: 'closed' };
      emitter.emit('change', undefined as never);
      emitter.clear();
      ch.handles.delete(emitter);
      release();
    },
  };
}
