import type {
  ChannelEvent,
  Client,
  ClientState,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
} from '@tidewire/core';
import { channelStore, type SubscriptionState } from '@tidewire/core/store';
import { useCallback, useInsertionEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import { useTidewireClient } from './context';

/** Options of {@link useSubscription}: the core's `SubscribeOptions` plus the hook's own. */
export interface UseSubscriptionOptions<T = unknown, S = SubscriptionState<T>>
  extends SubscribeOptions {
  /** `false` holds the subscription (state `'idle'`); `true` starts it. @default true */
  enabled?: boolean;
  /**
   * Called for every event. Held in a ref: a new inline function never resubscribes.
   * Use it (with `select`) to handle fast streams without rendering each event.
   */
  onEvent?: (event: ChannelEvent<T>) => void;
  /** Keep the last `keep` events in `state.events` (a new array only when it changes). @default 0 */
  keep?: number;
  /**
   * Derives what the hook returns; the component re-renders only when the result
   * changes by `Object.is`. Return primitives or stable references.
   * @default the whole state
   */
  select?: (state: SubscriptionState<T>) => S;
}

const IDLE: ClientState = { sse: { status: 'idle' }, websocket: { status: 'idle' } };

/**
 * Subscribes to a channel while the component is mounted and returns its state.
 * Components on one channel share one server-side subscription; under StrictMode
 * the remount reuses it (the client keeps a channel for `closeDelay` after its last handle).
 * On the server it returns the `'idle'` state and opens nothing.
 * @example
 * const { status, lastEvent } = useSubscription('prices');
 * const price = useSubscription('prices', { select: (s) => s.lastEvent?.data });
 */
export function useSubscription<T = unknown, S = SubscriptionState<T>>(
  channel: string,
  options: UseSubscriptionOptions<T, S> = {},
): S {
  const client = useTidewireClient();
  const { transport, since, duplex, enabled = true, keep = 0, onEvent, select } = options;
  const handler = useRef(onEvent);
  useInsertionEffect(() => {
    handler.current = onEvent;
  });
  const store = useMemo(
    () =>
      channelStore<T>(
        client,
        channel,
        // The core reads an `undefined` option as absent.
        { transport, since, duplex } as SubscribeOptions,
        enabled,
        keep,
        (e) => handler.current?.(e),
      ),
    [client, channel, transport, since, duplex, enabled, keep],
  );
  const [get, getServer] = useMemo(() => {
    const pick = select ?? ((s: SubscriptionState<T>) => s as S);
    let input: SubscriptionState<T> | undefined;
    let output: S;
    let server: [S] | undefined;
    return [
      () => {
        const s = store.get();
        if (s !== input) {
          input = s;
          output = pick(s);
        }
        return output;
      },
      () => {
        server ??= [pick(store.idle)];
        return server[0];
      },
    ];
  }, [store, select]);
  return useSyncExternalStore(store.subscribe, get, getServer);
}

/**
 * The client's connection state per transport (`idle` on the server).
 * @example
 * const { websocket } = useConnectionState();
 * if (websocket.status === 'waiting') return <p>Reconnecting in {websocket.delay} ms…</p>;
 */
export function useConnectionState(): ClientState {
  const client = useTidewireClient();
  const subscribe = useCallback((notify: () => void) => client.on('state', notify), [client]);
  return useSyncExternalStore(
    subscribe,
    () => client.getState(),
    () => IDLE,
  );
}

/**
 * A stable function that publishes to `channel` (acknowledged over WebSocket, else HTTP POST).
 * @example
 * const send = usePublish('chat');
 * await send({ text }, { event: 'message' });
 */
export function usePublish(
  channel: string,
): (data: unknown, options?: PublishOptions) => Promise<PublishResult> {
  const client = useTidewireClient();
  return useCallback((data, options) => client.publish(channel, data, options), [client, channel]);
}

/** The hooks, typed by a channel map; see {@link createTidewireHooks}. */
export interface TidewireHooks<M extends object> {
  /** {@link useTidewireClient}, typed by the channel map. */
  useTidewireClient(): Client<M>;
  /** {@link useSubscription}: the channel name is checked, the event data and `select` inferred. */
  useSubscription<C extends keyof M & string, S = SubscriptionState<M[C]>>(
    channel: C,
    options?: UseSubscriptionOptions<M[C], S>,
  ): S;
  /** {@link usePublish}: the channel name is checked and the payload typed by it. */
  usePublish<C extends keyof M & string>(
    channel: C,
  ): (data: M[C], options?: PublishOptions) => Promise<PublishResult>;
  /** {@link useConnectionState}, unchanged. */
  useConnectionState(): ClientState;
}

/**
 * The same hooks, typed by your channel map: channel names are checked and event
 * data, `select` and `publish` payloads are inferred. Types only: no runtime cost.
 * @example
 * type Channels = { prices: { symbol: string; price: number }; chat: { text: string } };
 * export const { useSubscription, usePublish } = createTidewireHooks<Channels>();
 */
export function createTidewireHooks<M extends object>(): TidewireHooks<M> {
  return { useTidewireClient, useSubscription, usePublish, useConnectionState } as never;
}
