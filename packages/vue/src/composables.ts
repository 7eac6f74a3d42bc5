import type {
  ChannelEvent,
  Client,
  ClientState,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
} from '@tidewire/core';
import { type ChannelStore, channelStore, type SubscriptionState } from '@tidewire/core/store';
import {
  getCurrentScope,
  inject,
  type MaybeRefOrGetter,
  onScopeDispose,
  type ShallowRef,
  shallowReadonly,
  shallowRef,
  ssrContextKey,
  toValue,
  watch,
} from 'vue';
import { useTidewireClient } from './context';

/** Options of {@link useSubscription}: the core's `SubscribeOptions` plus the composable's own. */
export interface UseSubscriptionOptions<T = unknown, S = SubscriptionState<T>>
  extends SubscribeOptions {
  /** `false` holds the subscription (status `'idle'`); a ref or getter is watched. @default true */
  enabled?: MaybeRefOrGetter<boolean>;
  /** Called for every event of the current channel (never for a superseded one). */
  onEvent?: (event: ChannelEvent<T>) => void;
  /** Keep the last `keep` events in `events` (a new array only when it changes). @default 0 */
  keep?: number;
  /**
   * Derives `selected`; it triggers its watchers only when the result changes by
   * `Object.is`. Return primitives or stable references. @default the whole state
   */
  select?: (state: SubscriptionState<T>) => S;
}

/** A ref the caller can read and watch, but not write. */
export type ReadonlyRef<T> = Readonly<ShallowRef<T>>;

/** What {@link useSubscription} returns: readonly shallow refs, each changing only when its value does. */
export interface UseSubscriptionReturn<T = unknown, S = SubscriptionState<T>> {
  /** The whole state (changes with every event). */
  state: ReadonlyRef<SubscriptionState<T>>;
  /** Where the subscription stands: `'idle'`, or the core's {@link SubscriptionState} status. */
  status: ReadonlyRef<SubscriptionState<T>['status']>;
  /** The newest event, if any. */
  lastEvent: ReadonlyRef<ChannelEvent<T> | undefined>;
  /** The newest event's id, else the `since` it started from. */
  lastEventId: ReadonlyRef<string | undefined>;
  /** Why it is failed or reconnecting, when known. */
  error: ReadonlyRef<SubscriptionState<T>['error']>;
  /** The transport the channel is on; `undefined` while idle. */
  transport: ReadonlyRef<SubscriptionState<T>['transport']>;
  /** The last `keep` events, oldest first. */
  events: ReadonlyRef<readonly ChannelEvent<T>[]>;
  /** `select(state)`. */
  selected: ReadonlyRef<S>;
}

const FIELDS = ['status', 'lastEvent', 'lastEventId', 'error', 'transport', 'events'] as const;
const IDLE: ClientState = { sse: { status: 'idle' }, websocket: { status: 'idle' } };

/** Runs `dispose` with the current effect scope; warns (in development) when there is none. */
function scoped(name: string, dispose: () => void): void {
  if (getCurrentScope()) onScopeDispose(dispose);
  else if (process.env.NODE_ENV !== 'production')
    console.warn(
      `[tidewire] ${name}() was called outside an effect scope (setup() or effectScope()), so it will never be cleaned up.`,
    );
}

/** Whether this setup() runs in @vue/server-renderer. */
const onServer = () => !!inject(ssrContextKey, null);

/**
 * Subscribes to a channel for the life of the calling scope. The channel may be a
 * ref or getter: a change moves the subscription, and events of the old one are ignored.
 * Components on one channel share one server-side subscription. On the server it
 * stays `'idle'` and opens nothing.
 * @example
 * const { status, lastEvent } = useSubscription(() => `room/${props.id}`);
 */
export function useSubscription<T = unknown, S = SubscriptionState<T>>(
  channel: MaybeRefOrGetter<string>,
  options: UseSubscriptionOptions<T, S> = {},
): UseSubscriptionReturn<T, S> {
  const client = useTidewireClient();
  const server = onServer();
  const { enabled = true, keep = 0, onEvent, select = (s) => s as S } = options;
  const refs = {} as Record<string, ShallowRef<unknown>>;
  for (const k of [...FIELDS, 'state', 'selected']) refs[k] = shallowRef();
  let current: ChannelStore<T> | undefined;
  let release: (() => void) | undefined;
  const show = (s: SubscriptionState<T>) => {
    refs.state!.value = s;
    refs.selected!.value = select(s);
    for (const k of FIELDS) refs[k]!.value = s[k];
  };
  const stop = watch(
    [() => toValue(channel), () => toValue(enabled)],
    ([name, on]) => {
      release?.();
      const store = channelStore<T>(client, name, options, on && !server, keep, (e) => {
        if (current === store) onEvent?.(e);
      });
      current = store;
      show(store.idle);
      release = store.subscribe(() => {
        if (current === store) show(store.get());
      });
      show(store.get());
    },
    { immediate: true },
  );
  scoped('useSubscription', () => {
    stop();
    current = undefined;
    release?.();
  });
  const out = {} as Record<string, ReadonlyRef<unknown>>;
  for (const k in refs) out[k] = shallowReadonly(refs[k]!);
  return out as unknown as UseSubscriptionReturn<T, S>;
}

/**
 * The client's connection state per transport (`idle` on the server).
 * @example
 * const conn = useConnectionState();
 * const offline = computed(() => conn.value.websocket.status === 'offline');
 */
export function useConnectionState(): ReadonlyRef<ClientState> {
  const client = useTidewireClient();
  const state = shallowRef(IDLE);
  if (!onServer()) {
    state.value = client.getState();
    scoped(
      'useConnectionState',
      client.on('state', () => {
        state.value = client.getState();
      }),
    );
  }
  return shallowReadonly(state);
}

/** What {@link usePublish} returns: publishes `data` to the bound channel. */
export type Publish<T = unknown> = (data: T, options?: PublishOptions) => Promise<PublishResult>;

/**
 * A function that publishes to `channel` with the provided client (acknowledged over
 * WebSocket, else HTTP POST). The channel may be a ref or getter: each publish goes to
 * its current value.
 * @example
 * const send = usePublish('chat');
 * await send({ text }, { event: 'message' });
 */
export function usePublish(channel: MaybeRefOrGetter<string>): Publish {
  const client = useTidewireClient();
  return (data, options) => client.publish(toValue(channel), data, options);
}

/** The composables, typed by a channel map; see {@link createTidewireComposables}. */
export interface TidewireComposables<M extends object> {
  /** {@link useTidewireClient}, typed by the channel map. */
  useTidewireClient(): Client<M>;
  /** {@link useSubscription}: the channel name is checked, the event data and `select` inferred. */
  useSubscription<C extends keyof M & string, S = SubscriptionState<M[C]>>(
    channel: MaybeRefOrGetter<C>,
    options?: UseSubscriptionOptions<M[C], S>,
  ): UseSubscriptionReturn<M[C], S>;
  /** {@link usePublish}: the channel name is checked and the payload typed by it. */
  usePublish<C extends keyof M & string>(channel: MaybeRefOrGetter<C>): Publish<M[C]>;
  /** {@link useConnectionState}, unchanged. */
  useConnectionState(): ReadonlyRef<ClientState>;
}

/**
 * The same composables, typed by your channel map: channel names are checked and
 * event data, `select` and `publish` payloads are inferred. Types only: no runtime cost.
 * @example
 * type Channels = { prices: { symbol: string; price: number }; chat: { text: string } };
 * export const { useSubscription, usePublish } = createTidewireComposables<Channels>();
 */
export function createTidewireComposables<M extends object>(): TidewireComposables<M> {
  return { useTidewireClient, useSubscription, usePublish, useConnectionState } as never;
}
