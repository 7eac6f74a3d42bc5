import { vi } from 'vitest';
import type {
  ChannelEvent,
  Client,
  ClientEvents,
  ClientState,
  SubscribeOptions,
  Subscription,
  SubscriptionEvents,
  SubscriptionSnapshot,
} from '../packages/core/src/index';

type Listeners = { [K in keyof SubscriptionEvents<unknown>]: Set<SubscriptionEvents<unknown>[K]> };

/** One handle the fake client gave out, with controls to drive it. */
export interface FakeHandle extends Subscription {
  options: SubscribeOptions | undefined;
  closed: boolean;
  listeners: Listeners;
  /** Delivers an event as the core does: `event`, then `change`. */
  deliver(data: unknown, type?: string): ChannelEvent;
  /** Delivers events that arrived together as the core does (an SSE block): each `event`, then one `change`. */
  burst(data: readonly unknown[], type?: string): ChannelEvent[];
  /** Replaces part of the snapshot and emits `change`. */
  set(patch: Partial<SubscriptionSnapshot>): void;
}

/** A client double: no network, every handle recorded. */
export function fakeClient() {
  const handles: FakeHandle[] = [];
  const stateListeners = new Set<ClientEvents['state']>();
  let state: ClientState = { sse: { status: 'idle' }, websocket: { status: 'idle' } };
  let seq = 0;
  const client: Client = {
    subscribe(channel, options) {
      let snap: SubscriptionSnapshot = {
        channel,
        status: 'connecting',
        transport: 'sse',
        lastEventId: options?.since,
        lastEvent: undefined,
        error: undefined,
        received: 0,
        duplicates: 0,
        gaps: 0,
        reconnects: 0,
      };
      const listeners: Listeners = {
        event: new Set(),
        gap: new Set(),
        error: new Set(),
        change: new Set(),
      };
      const change = () => {
        for (const fn of listeners.change) fn();
      };
      const h: FakeHandle = {
        channel,
        options,
        closed: false,
        listeners,
        on(type, fn) {
          const set = listeners[type] as Set<unknown>;
          set.add(fn);
          return () => set.delete(fn);
        },
        getSnapshot: () => snap,
        unsubscribe() {
          if (h.closed) return;
          h.closed = true;
          snap = { ...snap, status: 'closed' };
          change();
        },
        deliver(data, type = 'message') {
          const [e] = h.burst([data], type);
          return e as ChannelEvent;
        },
        burst(data, type = 'message') {
          const events = data.map((item) => {
            const e = { channel, id: `e-${++seq}`, type, data: item };
            snap = { ...snap, lastEvent: e, lastEventId: e.id, received: snap.received + 1 };
            for (const fn of listeners.event) fn(e);
            return e;
          });
          change();
          return events;
        },
        set(patch) {
          snap = { ...snap, ...patch };
          change();
        },
      };
      handles.push(h);
      return h;
    },
    publish: vi.fn(async () => ({ id: 'p-1' })),
    getState: () => state,
    on(type, fn) {
      if (type !== 'state') return () => {};
      const l = fn as ClientEvents['state'];
      stateListeners.add(l);
      return () => stateListeners.delete(l);
    },
    close: vi.fn(),
  };
  return {
    client,
    handles,
    /** Handles not yet released. */
    open: () => handles.filter((h) => !h.closed),
    setState(next: Partial<ClientState>) {
      const prev = state.websocket;
      state = { ...state, ...next };
      for (const fn of stateListeners) fn({ transport: 'websocket', next: state.websocket, prev });
    },
    stateListeners,
  };
}
