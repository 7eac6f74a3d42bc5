/**
 * The framework-free part of a UI binding's `useSubscription`: one handle on a
 * channel, an immutable state for `useSyncExternalStore` or a shallow ref, and
 * the last N events. `@tidewire/react` and `@tidewire/vue` are thin layers over it.
 * @module
 */
import type { ChannelMap, Client } from './client';
import type { Transport } from './routing';
import type {
  ChannelEvent,
  SubscribeOptions,
  Subscription,
  SubscriptionSnapshot,
  SubscriptionStatus,
} from './subscription';

/**
 * What a binding's `useSubscription` exposes (before `select`): the core's snapshot of the
 * channel, plus `'idle'` (disabled, or rendered on the server) and the kept events.
 * Immutable: a new object only when something in it changed.
 */
export interface SubscriptionState<T = unknown>
  extends Omit<SubscriptionSnapshot<T>, 'status' | 'transport'> {
  /** `'idle'` before the subscription starts, when disabled, and on the server. */
  readonly status: 'idle' | SubscriptionStatus;
  /** `undefined` while idle. */
  readonly transport: Transport | undefined;
  /** The last `keep` events, oldest first (empty unless `keep` is set). */
  readonly events: readonly ChannelEvent<T>[];
}

/** One channel as a UI binding sees it; see {@link channelStore}. */
export interface ChannelStore<T> {
  /** The state while nothing is subscribed (and on the server). */
  readonly idle: SubscriptionState<T>;
  /** The current state; the same object until a change. */
  get(): SubscriptionState<T>;
  /** Takes a handle on the channel; returns its release. */
  subscribe(notify: () => void): () => void;
}

const NONE: readonly never[] = [];

/**
 * A store over one channel for a UI binding. Nothing is subscribed until
 * `subscribe` runs (so server rendering opens no connection); `get()` returns
 * the same object until something changed.
 * @param keep how many recent events to keep in `events` (0 keeps none)
 * @param onEvent called for every event, before the store notifies
 */
export function channelStore<T>(
  client: Client<ChannelMap>,
  channel: string,
  options: SubscribeOptions,
  enabled: boolean,
  keep: number,
  onEvent: (event: ChannelEvent<T>) => void,
): ChannelStore<T> {
  const idle: SubscriptionState<T> = {
    channel,
    status: 'idle',
    transport: undefined,
    lastEventId: options.since,
    lastEvent: undefined,
    error: undefined,
    received: 0,
    duplicates: 0,
    gaps: 0,
    reconnects: 0,
    events: NONE,
  };
  let state = idle;
  let events = idle.events;
  /** Events since the last `get()`: folded into `events` there, once per read, not per event. */
  let fresh: ChannelEvent<T>[] = [];
  let sub: Subscription<T> | undefined;
  let snap: SubscriptionSnapshot<T> | undefined;
  return {
    idle,
    get() {
      if (fresh.length) {
        events = events.concat(fresh).slice(-keep);
        fresh = [];
      }
      const s = sub?.getSnapshot();
      if (s && (s !== snap || events !== state.events)) {
        snap = s;
        state = { ...s, events };
      }
      return state;
    },
    subscribe(notify) {
      if (!enabled) return () => {};
      const handle = client.subscribe(channel, options) as Subscription<T>;
      sub = handle;
      // The core emits `event` before `change`, so kept events are current when `notify` reads.
      // Events that arrive together make one `change`: a block of 256 copies the kept list
      // once, not 256 times. Unread, `fresh` holds at most twice `keep`.
      const offs = [
        handle.on('event', (e) => {
          if (keep > 0 && fresh.push(e) > 2 * keep) fresh = fresh.slice(-keep);
          onEvent(e);
        }),
        handle.on('change', notify),
      ];
      return () => {
        // Listeners go first: the handle's own `closed` change is not this store's.
        for (const off of offs) off();
        handle.unsubscribe();
      };
    },
  };
}
