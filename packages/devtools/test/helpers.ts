import {
  type ClientEvents,
  type ClientState,
  ConnectionError,
  type ConnectionState,
  type InspectRecord,
} from '@tidewire/core';
import type { DevtoolsClient } from '../src/index';

type Listeners = { [K in keyof ClientEvents]: Set<ClientEvents[K]> };

/** A client double: what the panel reads (`on`, `getState`), with controls to drive it. */
export function fakeClient(initial: Partial<ClientState> & { leader?: boolean } = {}) {
  let state = {
    sse: { status: 'idle' },
    websocket: { status: 'idle' },
    ...initial,
  } as ClientState;
  const listeners: Listeners = { state: new Set(), error: new Set(), inspect: new Set() };
  const client: DevtoolsClient = {
    getState: () => state,
    on(type, listener) {
      const set = listeners[type] as Set<unknown>;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
  };
  return {
    client,
    /** Listeners the panel holds on the client now. */
    listening: () => listeners.state.size + listeners.error.size + listeners.inspect.size,
    /** What the development build sends: a record (and, for a state change, the event after it). */
    record(record: InspectRecord) {
      for (const l of listeners.inspect) l(record);
      if (record.type === 'state') {
        state = { ...state, [record.transport]: record.next };
        for (const l of listeners.state) l(record);
      }
    },
    /** What the production build sends: the state event alone. */
    stateOnly(transport: 'sse' | 'websocket', next: ConnectionState) {
      const prev = state[transport];
      state = { ...state, [transport]: next };
      for (const l of listeners.state) l({ transport, next, prev });
    },
    error(error = new ConnectionError('bad_message')) {
      for (const l of listeners.error) l({ error });
    },
    setLeader(leader: boolean) {
      state = { ...state, leader } as ClientState;
    },
  };
}

let clock = 1_700_000_000_000;

/** Stamps a record with a time one ms after the previous one. */
export function at<R extends Omit<InspectRecord, 'at'>>(record: R): InspectRecord {
  clock += 1;
  return { ...record, at: clock } as unknown as InspectRecord;
}

/** An event frame record. */
export const event = (
  channel: string,
  id: string,
  data: unknown = {},
  options: { type?: string; transport?: 'sse' | 'websocket' } = {},
): InspectRecord =>
  at({
    type: 'frame',
    transport: options.transport ?? 'sse',
    frame: { type: 'event', channel, id, event: options.type ?? 'message', data },
  });

/** The records of a channel put on `transport`, asked, and confirmed on an open connection. */
export function liveChannel(
  channel: string,
  transport: 'sse' | 'websocket' = 'sse',
  since?: string,
): InspectRecord[] {
  return [
    at({ type: 'subscribe', channel, options: {} }),
    at({ type: 'placement', channel, from: undefined, to: transport, reason: 'subscribe' }),
    at({
      type: 'state',
      transport,
      next: { status: 'connecting', attempt: 0 },
      prev: { status: 'idle' },
    }),
    at({ type: 'join', channel, transport, since }),
    at({
      type: 'state',
      transport,
      next: { status: 'open' },
      prev: { status: 'connecting', attempt: 0 },
    }),
    at({
      type: 'frame',
      transport,
      frame: { type: 'subscribed', channel, position: 'p-0' },
    }),
  ];
}
