/**
 * The panel's model, free of the DOM: it folds the client's inspection records (development
 * build) or its `state` and `error` events (production build) into connections, channels, token
 * asks, a decision timeline and an event log, each bounded.
 */
import type {
  ClientEvents,
  ConnectionState,
  GapInfo,
  InspectRecord,
  TokenReason,
  Transport,
} from '@tidewire/core';
import { createRing } from './ring';

type GapReason = GapInfo['reason'];

/** Which build of `@tidewire/core` the client is: known once it has sent something. */
export type Build = 'unknown' | 'development' | 'production';

/** A connection state as plain data: the error is its code. */
export type PlainState =
  | { readonly status: 'idle' | 'open' }
  | { readonly status: 'connecting'; readonly attempt: number }
  | {
      readonly status: 'waiting';
      readonly attempt: number;
      readonly delay: number;
      readonly error: string;
    }
  | { readonly status: 'offline'; readonly attempt: number; readonly error: string | undefined }
  | { readonly status: 'failed'; readonly error: string };

/** A transport avoided by `'auto'`: why, since and until when (ms, the client's clock). */
export interface Avoided {
  /** The error code that made `'auto'` avoid it. */
  readonly reason: string;
  /** When it was first avoided. */
  readonly at: number;
  /** When it will be tried again. */
  readonly until: number;
}

/** One transport's connection. */
export interface ConnectionView {
  /** Which transport. */
  readonly transport: Transport;
  /** Its current state. */
  readonly state: PlainState;
  /** When it entered `state`, when known. */
  readonly since: number | undefined;
  /** Times it opened since the panel was mounted. */
  readonly opens: number;
  /** Set while `'auto'` avoids this transport. */
  readonly avoided: Avoided | undefined;
  /** Its state changes and fallback decisions, oldest first (the newest 50). */
  readonly history: readonly TimelineEntry[];
}

/** Where a channel stands, as the panel follows it from the records. */
export type ChannelStatus = 'connecting' | 'live' | 'reconnecting' | 'released';

/** A channel, rebuilt from the records the way the client counts it. */
export interface ChannelView {
  /** The channel name. */
  readonly channel: string;
  /** The transport it is on, once placed. */
  readonly transport: Transport | undefined;
  /** Where it stands. */
  readonly status: ChannelStatus;
  /** The newest event id delivered, else the position it resumes after. */
  readonly position: string | undefined;
  /** Events handed to listeners. */
  readonly received: number;
  /** Events dropped because they repeated the event delivered just before. */
  readonly duplicates: number;
  /** `gap` events raised. */
  readonly gaps: number;
  /** The newest gap: its reason and when. */
  readonly lastGap: { readonly reason: GapReason; readonly at: number } | undefined;
  /** Confirmations by the server after the first. */
  readonly reconnects: number;
  /** Moves from one transport to the other. */
  readonly moves: number;
  /** The newest move between transports: from, to, why and when. */
  readonly lastMove:
    | {
        readonly from: Transport;
        readonly to: Transport;
        readonly reason: string;
        readonly at: number;
      }
    | undefined;
  /** The code of the newest error the server sent about this channel. */
  readonly error: string | undefined;
  /** Handles the app holds, when the panel saw them subscribe. */
  readonly handles: number | undefined;
  /** When its newest event arrived. */
  readonly lastEventAt: number | undefined;
}

/** What a timeline entry is about. */
export type TimelineKind =
  | 'state'
  | 'fallback'
  | 'placement'
  | 'join'
  | 'gap'
  | 'token'
  | 'publish'
  | 'error'
  | 'subscribe'
  | 'unsubscribe';

/** One decision or change, in words, with the fields it was made of. */
export interface TimelineEntry {
  /** Order of arrival, from 1. */
  readonly seq: number;
  /** When (the client's clock). */
  readonly at: number;
  /** What the entry is about. */
  readonly kind: TimelineKind;
  /** How it is shown: fine, worth a look, wrong, or neutral. */
  readonly tone: 'ok' | 'warn' | 'bad' | 'info';
  /** The entry in words. */
  readonly text: string;
  /** The transport concerned, if any. */
  readonly transport?: Transport;
  /** The channel concerned, if any. */
  readonly channel?: string;
  /** Fallback: until when the transport is avoided. */
  readonly until?: number;
  /** Why, as the record said. */
  readonly reason?: string;
}

/** A `getToken` call: why, and which attempt. Never the token. */
export interface TokenAsk {
  /** When it was asked. */
  readonly at: number;
  /** Why the client asked. */
  readonly reason: TokenReason;
  /** Consecutive attempts of the connection that asked; 0 for the first. */
  readonly attempt: number;
}

/** One event frame from the server, as the log shows it. */
export interface EventEntry {
  /** Order of arrival, from 1. */
  readonly seq: number;
  /** Arrival time (the client's clock). */
  readonly at: number;
  /** The transport it came on. */
  readonly transport: Transport;
  /** Its channel. */
  readonly channel: string;
  /** The application's event type. */
  readonly type: string;
  /** Its position. */
  readonly id: string;
  /** Its data, parsed. */
  readonly data: unknown;
  /** `at` minus the server's time stamp, in ms, when the event carries one. */
  readonly latency: number | undefined;
  /**
   * Why the client did not hand it to listeners: a `duplicate` of the event before it, or it
   * arrived before the channel was confirmed on this transport, or on a transport the channel
   * has left (`unconfirmed`: the replay after the confirmation brings it again).
   */
  readonly dropped: 'duplicate' | 'unconfirmed' | undefined;
}

/** The event log's filter: `undefined` matches everything. */
export interface EventFilter {
  /** Only this channel, when set. */
  readonly channel: string | undefined;
  /** Only this event type, when set. */
  readonly type: string | undefined;
}

/** What "Export" writes: everything the panel holds, as JSON. */
export interface DevtoolsExport {
  /** When it was exported, ISO 8601. */
  readonly exportedAt: string;
  /** Which build of the core the client is. */
  readonly build: Build;
  /** The tab's role when the client is shared across tabs. */
  readonly role: string | undefined;
  /** Each transport's connection. */
  readonly connections: readonly ConnectionView[];
  /** Every channel seen. */
  readonly channels: readonly ChannelView[];
  /** The `getToken` calls seen. */
  readonly tokens: readonly TokenAsk[];
  /** The decisions and changes, oldest first. */
  readonly timeline: readonly TimelineEntry[];
  /** The event log's filter when exported. */
  readonly filter: EventFilter;
  /** The events the log shows: filtered, and as they were when paused. */
  readonly events: readonly EventEntry[];
}

/** Reads the server's time stamp of an event, in ms since the epoch. */
export type SentAt = (event: {
  channel: string;
  type: string;
  data: unknown;
}) => number | undefined;

/** The connection states the model starts from (`client.getState()`). @internal */
export type InitialState = Readonly<Record<Transport, ConnectionState>>;

/** Options of the model. @internal */
export interface ModelOptions {
  maxEvents?: number;
  maxTimeline?: number;
  sentAt?: SentAt;
  /** The clock for what carries no time of its own (production `state` events). */
  now?: () => number;
}

/** @internal */
export interface DevtoolsModel {
  record(record: InspectRecord): void;
  state: ClientEvents['state'];
  error: ClientEvents['error'];
  readonly build: Build;
  /** Events the log keeps. */
  readonly capacity: number;
  connections(): ConnectionView[];
  channels(): ChannelView[];
  tokens(): TokenAsk[];
  /** Newest last. */
  timeline(): TimelineEntry[];
  /** The log as shown: filtered, frozen while paused; newest last. */
  events(): EventEntry[];
  /** Channels and types of the events held, for the filter's choices. */
  eventKeys(): { channels: string[]; types: string[] };
  /** Events held (before the filter), and events that arrived while paused. */
  counts(): { held: number; total: number; missed: number };
  readonly filter: EventFilter;
  setFilter(filter: Partial<EventFilter>): void;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  /** Empties the event log. */
  clear(): void;
  export(role: string | undefined): DevtoolsExport;
  /** Called after every change; returns its disposer. */
  subscribe(listener: () => void): () => void;
}

/** Most channels kept: beyond it, the released channel least recently active goes. */
const MAX_CHANNELS = 200;
const HISTORY = 50;
const TOKENS = 50;

const GAP_MEANING: Record<GapReason, string> = {
  trimmed: 'the position is older than the history the server keeps',
  epoch: "the server's history was replaced (a restart without it)",
  invalid: 'the server does not know the position',
};

/** The default {@link SentAt}: `data.sentAt`, else `data.ts`, in ms or as an ISO 8601 string. */
export const defaultSentAt: SentAt = ({ data }) => {
  if (typeof data !== 'object' || data === null) return undefined;
  const { sentAt, ts } = data as { sentAt?: unknown; ts?: unknown };
  return toTime(sentAt ?? ts);
};

/** A time stamp in ms, from a number of ms or a date string. */
export function toTime(value: unknown): number | undefined {
  const time =
    typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(time) ? time : undefined;
}

export function plainState(state: ConnectionState): PlainState {
  switch (state.status) {
    case 'idle':
    case 'open':
      return { status: state.status };
    case 'connecting':
      return { status: 'connecting', attempt: state.attempt };
    case 'waiting':
      return { ...state, error: state.error.code };
    case 'offline':
      return { status: 'offline', attempt: state.attempt, error: state.error?.code };
    case 'failed':
      return { status: 'failed', error: state.error.code };
  }
}

/** `1.2 s`, `850 ms`. */
export function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}

const name = (t: Transport) => (t === 'sse' ? 'SSE' : 'WebSocket');

/** A state in words: `waiting 1.2 s (attempt 2): network`. */
export function describeState(state: PlainState): string {
  switch (state.status) {
    case 'connecting':
      return `connecting (attempt ${state.attempt + 1})`;
    case 'waiting':
      return `lost (${state.error}), retry in ${duration(state.delay)}, attempt ${state.attempt}`;
    case 'offline':
      return `offline${state.error ? ` (${state.error})` : ''}: retries when back online`;
    case 'failed':
      return `failed (${state.error}): stopped until a new subscribe`;
    default:
      return state.status;
  }
}

const toneOf = (state: PlainState): TimelineEntry['tone'] =>
  state.status === 'open'
    ? 'ok'
    : state.status === 'failed'
      ? 'bad'
      : state.status === 'idle' || state.status === 'connecting'
        ? 'info'
        : 'warn';

interface Row {
  channel: string;
  transport: Transport | undefined;
  placed: boolean;
  live: boolean;
  released: boolean;
  confirmed: number;
  position: string | undefined;
  received: number;
  duplicates: number;
  gaps: number;
  lastGap: ChannelView['lastGap'];
  moves: number;
  lastMove: ChannelView['lastMove'];
  error: string | undefined;
  handles: number | undefined;
  lastEventAt: number | undefined;
  touched: number;
  view: ChannelView | undefined;
}

/** @internal */
export function createModel(initial: InitialState, options: ModelOptions = {}): DevtoolsModel {
  const { maxEvents = 1000, maxTimeline = 500, sentAt = defaultSentAt, now = Date.now } = options;
  const events = createRing<EventEntry>(maxEvents);
  const timeline = createRing<TimelineEntry>(maxTimeline);
  const tokens = createRing<TokenAsk>(TOKENS);
  const rows = new Map<string, Row>();
  const conns = {} as Record<
    Transport,
    { state: PlainState; since: number | undefined; opens: number; avoided: Avoided | undefined }
  >;
  const histories = {
    sse: createRing<TimelineEntry>(HISTORY),
    websocket: createRing<TimelineEntry>(HISTORY),
  };
  const listeners = new Set<() => void>();
  let build: Build = 'unknown';
  let seq = 0;
  let filter: EventFilter = { channel: undefined, type: undefined };
  let frozen: EventEntry[] | undefined;
  let missed = 0;
  let total = 0;

  for (const t of ['sse', 'websocket'] as const) {
    const state = plainState(initial[t]);
    conns[t] = { state, since: undefined, opens: 0, avoided: undefined };
  }

  const changed = () => {
    for (const listener of [...listeners]) listener();
  };

  const note = (entry: Omit<TimelineEntry, 'seq'>) => {
    const full = { seq: ++seq, ...entry } as TimelineEntry;
    timeline.push(full);
    if (entry.transport && (entry.kind === 'state' || entry.kind === 'fallback'))
      histories[entry.transport].push(full);
  };

  const rowOf = (channel: string, at: number): Row => {
    let row = rows.get(channel);
    if (!row) {
      row = {
        channel,
        transport: undefined,
        placed: false,
        live: false,
        released: false,
        confirmed: 0,
        position: undefined,
        received: 0,
        duplicates: 0,
        gaps: 0,
        lastGap: undefined,
        moves: 0,
        lastMove: undefined,
        error: undefined,
        handles: undefined,
        lastEventAt: undefined,
        touched: at,
        view: undefined,
      };
      rows.set(channel, row);
      if (rows.size > MAX_CHANNELS) evict();
    }
    row.touched = at;
    row.view = undefined;
    return row;
  };

  /** Drops the released channel least recently active, else the least recently active one. */
  const evict = () => {
    const all = [...rows.values()];
    const released = all.filter((row) => row.released);
    const pool = released.length ? released : all;
    const oldest = pool.reduce((a, b) => (b.touched < a.touched ? b : a));
    rows.delete(oldest.channel);
  };

  const setState = (t: Transport, next: ConnectionState, at: number) => {
    const conn = conns[t];
    const state = plainState(next);
    if (state.status === 'open') conn.opens++;
    conn.state = state;
    conn.since = at;
    note({
      at,
      kind: 'state',
      tone: toneOf(state),
      transport: t,
      text: `${name(t)} ${describeState(state)}`,
      ...('error' in state && state.error ? { reason: state.error } : {}),
    });
  };

  const reduce = (r: InspectRecord) => {
    const { at } = r;
    switch (r.type) {
      case 'subscribe': {
        const row = rowOf(r.channel, at);
        row.handles = (row.handles ?? 0) + 1;
        row.released = false;
        const { transport, duplex, since } = r.options;
        const how = [
          transport && transport !== 'auto' ? transport : undefined,
          duplex ? 'duplex' : undefined,
          since ? `since ${since}` : undefined,
        ].filter(Boolean);
        note({
          at,
          kind: 'subscribe',
          tone: 'info',
          channel: r.channel,
          text: `subscribe ${r.channel}${how.length ? ` (${how.join(', ')})` : ''}`,
        });
        return;
      }
      case 'unsubscribe': {
        const row = rowOf(r.channel, at);
        row.handles = Math.max(0, (row.handles ?? 1) - 1);
        row.released = row.handles === 0;
        note({
          at,
          kind: 'unsubscribe',
          tone: 'info',
          channel: r.channel,
          text: `unsubscribe ${r.channel}${row.released ? ': its last handle' : ''}`,
        });
        return;
      }
      case 'placement': {
        const row = rowOf(r.channel, at);
        if (r.from === undefined && row.placed) {
          // The client dropped the channel after its last handle and starts it afresh.
          Object.assign(row, { confirmed: 0, received: 0, duplicates: 0, gaps: 0, moves: 0 });
        }
        if (r.from !== undefined) {
          row.moves++;
          row.lastMove = { from: r.from, to: r.to, reason: r.reason, at };
        }
        row.placed = true;
        row.live = false;
        row.transport = r.to;
        note({
          at,
          kind: 'placement',
          tone: r.from ? 'warn' : 'info',
          channel: r.channel,
          transport: r.to,
          reason: r.reason,
          text: r.from
            ? `${r.channel} moved ${name(r.from)} → ${name(r.to)} (${r.reason})`
            : `${r.channel} on ${name(r.to)} (${r.reason})`,
        });
        return;
      }
      case 'join': {
        const row = rowOf(r.channel, at);
        row.transport = r.transport;
        row.placed = true;
        if (r.since !== undefined) row.position = r.since;
        note({
          at,
          kind: 'join',
          tone: 'info',
          channel: r.channel,
          transport: r.transport,
          text: `${r.channel} asked on ${name(r.transport)}${r.since ? `, resuming after ${r.since}` : ', from now'}`,
        });
        return;
      }
      case 'state': {
        setState(r.transport, r.next, at);
        // As the client does: a channel on a connection that is not open waits for a new confirmation.
        if (r.next.status !== 'open')
          for (const row of rows.values())
            if (row.transport === r.transport && row.live) {
              row.live = false;
              row.view = undefined;
            }
        return;
      }
      case 'fallback': {
        const conn = conns[r.transport];
        const other = name(r.transport === 'sse' ? 'websocket' : 'sse');
        conn.avoided = r.until === undefined ? undefined : { reason: r.reason, at, until: r.until };
        note({
          at,
          kind: 'fallback',
          tone: r.until === undefined ? 'ok' : 'bad',
          transport: r.transport,
          reason: r.reason,
          ...(r.until === undefined ? {} : { until: r.until }),
          text:
            r.until === undefined
              ? `${name(r.transport)} usable again (${r.reason})`
              : `${name(r.transport)} avoided (${r.reason}): 'auto' channels move to ${other}`,
        });
        return;
      }
      case 'frame':
        return frame(r.transport, r.frame, at);
      case 'gap': {
        const row = rowOf(r.channel, at);
        row.gaps++;
        row.lastGap = { reason: r.reason, at };
        note({
          at,
          kind: 'gap',
          tone: 'bad',
          channel: r.channel,
          reason: r.reason,
          text: `${r.channel} gap (${r.reason}): ${GAP_MEANING[r.reason] ?? 'history lost'}`,
        });
        return;
      }
      case 'token':
        tokens.push({ at, reason: r.reason, attempt: r.attempt });
        note({
          at,
          kind: 'token',
          tone: 'info',
          reason: r.reason,
          text: `token asked: ${r.reason}${r.attempt ? ` (attempt ${r.attempt + 1})` : ''}`,
        });
        return;
      case 'publish':
        note({
          at,
          kind: 'publish',
          tone: r.error ? 'bad' : 'info',
          channel: r.channel,
          text: r.error
            ? `publish on ${r.channel} failed: ${r.error.code}`
            : `published on ${r.channel}: ${r.id}`,
        });
        return;
      case 'error':
        note({
          at,
          kind: 'error',
          tone: 'bad',
          reason: r.error.code,
          text: `error ${r.error.code}: ${r.error.message}`,
        });
        return;
    }
  };

  const frame = (
    t: Transport,
    f: Extract<InspectRecord, { type: 'frame' }>['frame'],
    at: number,
  ) => {
    if (f.type === 'subscribed') {
      const row = rowOf(f.channel, at);
      // A confirmation for a transport the channel has left belongs to the old subscription.
      if ((row.transport ?? t) !== t || row.live) return;
      row.transport = t;
      row.position ??= f.position;
      row.confirmed++;
      row.live = true;
      row.error = undefined;
    } else if (f.type === 'error' && f.channel) {
      rowOf(f.channel, at).error = f.code;
    } else if (f.type === 'event') {
      const known = rows.has(f.channel);
      const row = rowOf(f.channel, at);
      // Mounted after the channel started: it is live, since events flow.
      if (!known) Object.assign(row, { transport: t, placed: true, live: true, confirmed: 1 });
      let dropped: EventEntry['dropped'];
      // Before the confirmation on its current transport: the replay that follows it brings it again.
      if (!row.live || row.transport !== t) dropped = 'unconfirmed';
      else if (f.id === row.position) {
        dropped = 'duplicate';
        row.duplicates++;
      } else {
        row.received++;
        row.position = f.id;
        row.lastEventAt = at;
      }
      let sent: number | undefined;
      try {
        sent = sentAt({ channel: f.channel, type: f.event, data: f.data });
      } catch {
        // An app's reader that throws on an unexpected payload costs that event its latency only.
      }
      total++;
      if (frozen) missed++;
      events.push({
        seq: ++seq,
        at,
        transport: t,
        channel: f.channel,
        type: f.event,
        id: f.id,
        data: f.data,
        latency: sent === undefined ? undefined : at - sent,
        dropped,
      });
    }
  };

  const matches = (e: EventEntry) =>
    (filter.channel === undefined || e.channel === filter.channel) &&
    (filter.type === undefined || e.type === filter.type);

  const viewOf = (row: Row): ChannelView => {
    row.view ??= {
      channel: row.channel,
      transport: row.transport,
      status: row.released
        ? 'released'
        : row.live
          ? 'live'
          : row.confirmed
            ? 'reconnecting'
            : 'connecting',
      position: row.position,
      received: row.received,
      duplicates: row.duplicates,
      gaps: row.gaps,
      lastGap: row.lastGap,
      reconnects: Math.max(0, row.confirmed - 1),
      moves: row.moves,
      lastMove: row.lastMove,
      error: row.error,
      handles: row.handles,
      lastEventAt: row.lastEventAt,
    };
    return row.view;
  };

  const model: DevtoolsModel = {
    record(r) {
      build = 'development';
      reduce(r);
      changed();
    },
    state({ transport, next }) {
      // The development build sends a record of every change just before: only a production
      // build gets here first.
      if (build === 'development') return;
      build = 'production';
      setState(transport, next, now());
      changed();
    },
    error({ error }) {
      if (build === 'development') return;
      note({
        at: now(),
        kind: 'error',
        tone: 'bad',
        reason: error.code,
        text: `error ${error.code}: ${error.message}`,
      });
      changed();
    },
    get build() {
      return build;
    },
    capacity: events.capacity,
    connections: () =>
      (['sse', 'websocket'] as const).map((t) => ({
        transport: t,
        ...conns[t],
        history: histories[t].toArray(),
      })),
    channels: () => [...rows.values()].map(viewOf),
    tokens: () => tokens.toArray(),
    timeline: () => timeline.toArray(),
    events: () => (frozen ?? events.toArray()).filter(matches),
    eventKeys() {
      const channels = new Set<string>();
      const types = new Set<string>();
      for (const e of frozen ?? events.toArray()) {
        channels.add(e.channel);
        types.add(e.type);
      }
      return { channels: [...channels].sort(), types: [...types].sort() };
    },
    counts: () => ({ held: (frozen ?? events.toArray()).length, total, missed }),
    get filter() {
      return filter;
    },
    setFilter(next) {
      filter = { ...filter, ...next };
      changed();
    },
    get paused() {
      return frozen !== undefined;
    },
    pause() {
      if (frozen) return;
      frozen = events.toArray();
      missed = 0;
      changed();
    },
    resume() {
      if (!frozen) return;
      frozen = undefined;
      missed = 0;
      changed();
    },
    clear() {
      events.clear();
      if (frozen) frozen = [];
      missed = 0;
      changed();
    },
    export: (role) => ({
      exportedAt: new Date(now()).toISOString(),
      build,
      role,
      connections: model.connections(),
      channels: model.channels(),
      tokens: model.tokens(),
      timeline: model.timeline(),
      filter,
      events: model.events(),
    }),
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
  return model;
}
