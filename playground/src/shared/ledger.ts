/**
 * The connection inspector's model, shared by the three pages: per channel, what the
 * SDK reports (transport, state, last id, reconnects, gaps) and what the page counted
 * itself (events received, duplicates delivered) against what the server published.
 */
import type { ChannelEvent, Client, ClientEvents, InspectRecord } from '@tidewire/core';
import { api, type ChaosResult, type ServerInfo } from './api';
import { clock } from './ui';

/** Where a channel stands, in the inspector. */
export type RowStatus = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'failed' | 'closed';

/** What the SDK's snapshot (or a binding's state) says about a channel. */
export interface SdkState {
  readonly status: RowStatus;
  readonly transport: 'sse' | 'websocket' | undefined;
  readonly lastEventId: string | undefined;
  readonly duplicates: number;
  readonly gaps: number;
  readonly reconnects: number;
  readonly error: { readonly code: string } | undefined;
}

/** One inspector row. */
export interface Row {
  readonly channel: string;
  readonly label: string;
  readonly status: RowStatus;
  readonly transport: 'sse' | 'websocket' | undefined;
  readonly lastEventId: string | undefined;
  /** Distinct events the page received. */
  readonly received: number;
  /** Events the page received a second time: must stay 0. */
  readonly duplicates: number;
  /** Repeated events the SDK dropped before they reached the page. */
  readonly dropped: number;
  readonly gaps: number;
  readonly reconnects: number;
  /**
   * Events the server accepted on the channel after the page's starting position, as of the
   * page's newest event: what the last poll counted, plus the events the page received since
   * the server's newest event at that poll (each of them was published after it). So it is
   * compared with `received` at the same moment, never a second apart.
   */
  readonly published: number | undefined;
  /**
   * Events lost: measured at the server's newest event once the page has it (how many the
   * server had published up to it, minus how many the page had received up to it), so it is
   * exact however events and polls interleave. `undefined` until the first measurement.
   */
  readonly lost: number | undefined;
  readonly error: string | undefined;
  /** Why the channel is on its transport, when it moved (a fallback, or back). */
  readonly moved: string | undefined;
  /** The reason of the newest gap. */
  readonly gapReason: string | undefined;
}

export interface LogEntry {
  readonly id: number;
  readonly at: number;
  readonly kind: 'chaos' | 'state' | 'error' | 'info';
  readonly text: string;
}

export interface LedgerSnapshot {
  readonly rows: readonly Row[];
  readonly server: ServerInfo | undefined;
  readonly log: readonly LogEntry[];
}

interface Record_ {
  row: Row;
  baseline: number;
  /** Every id received, with how many events had been received once it arrived. */
  ids: Map<string, number>;
  /**
   * The last poll: events published up to the server's newest id then (after the baseline), and
   * how many the page had received once it had that id (undefined until it has).
   */
  poll: { published: number; lastId: string | undefined; seen: number | undefined } | undefined;
}

/** What a gap's reason means, for the timeline. */
const gapMeaning: Record<string, string> = {
  trimmed: 'the position is older than the history kept',
  epoch: "the server's history was replaced",
  invalid: 'the server does not know the position',
};

const transportName = (t: string | undefined): string => (t === 'sse' ? 'SSE' : 'WebSocket');

/** `published` as of the page's newest event (see {@link Row.published}). */
function publishedNow(record: Record_, received: number): number | undefined {
  const { poll } = record;
  if (poll === undefined) return undefined;
  return poll.seen === undefined ? poll.published : poll.published + (received - poll.seen);
}

const LOG_SIZE = 60;

/** The inspector's store: `subscribe` + `getSnapshot`, ready for React and Vue. */
export interface Ledger {
  /**
   * Starts counting `channel`. `baseline` is how many events the server had published
   * on it at the position the page subscribes from. A row with the same `slot`
   * (e.g. the previous job) is replaced.
   */
  track(channel: string, label: string, baseline: number, slot?: string): void;
  /** Counts one event delivered to the page. */
  event(event: ChannelEvent): void;
  /** Copies the SDK's view of a channel. */
  sdk(channel: string, state: SdkState): void;
  /** Marks a channel the page let go of. */
  closed(channel: string): void;
  log(kind: LogEntry['kind'], text: string): void;
  /**
   * Logs the client's connection state changes and, from its inspection records (development
   * build), fallbacks, channel moves and gaps with their reasons. Returns the disposer.
   */
  watch(client: Pick<Client, 'on'>): () => void;
  /** Runs the chaos control `name` (as the server lists it) and logs it. */
  chaos(name: string): Promise<void>;
  /** Fetches the published counts now. */
  refresh(): Promise<void>;
  subscribe(listener: () => void): () => void;
  getSnapshot(): LedgerSnapshot;
  dispose(): void;
}

/** Creates the ledger; it polls the server's published counts every `pollMs`. */
export function createLedger(pollMs = 1000): Ledger {
  const records = new Map<string, Record_>();
  const slots = new Map<string, string>();
  const listeners = new Set<() => void>();
  let log: LogEntry[] = [];
  let logId = 0;
  let server: ServerInfo | undefined;
  /** The newest chaos action this page has shown; undefined until the first poll. */
  let chaosSeen: number | undefined;
  /** Until when each transport is avoided by the fallback, when it is. */
  const avoided: Record<string, number | undefined> = {};
  let snapshot: LedgerSnapshot | undefined;
  let scheduled = false;

  const changed = (): void => {
    snapshot = undefined;
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      for (const listener of [...listeners]) listener();
    });
  };
  const update = (channel: string, patch: Partial<Row>): void => {
    const record = records.get(channel);
    if (record === undefined) return;
    record.row = { ...record.row, ...patch };
    changed();
  };
  const addLog = (kind: LogEntry['kind'], text: string): void => {
    logId += 1;
    log = [{ id: logId, at: Date.now(), kind, text }, ...log].slice(0, LOG_SIZE);
    changed();
  };

  const logChaos = (result: ChaosResult, own: boolean): void => {
    if (chaosSeen !== undefined && result.id <= chaosSeen) return;
    chaosSeen = result.id;
    const affected = result.affected === undefined ? '' : ` (${result.affected} connections)`;
    addLog('chaos', `${result.action}${affected}${own ? '' : ', from another tab'}`);
  };

  const refresh = async (): Promise<void> => {
    const names = [...records.keys()];
    try {
      server = await api.stats(names);
    } catch {
      return; // the next poll tries again
    }
    for (const name of names) {
      const record = records.get(name);
      const entry = server.channels[name];
      if (record === undefined || entry === undefined) continue;
      const published = entry.published - record.baseline;
      const seen = entry.lastId === undefined ? undefined : record.ids.get(entry.lastId);
      record.poll = { published, lastId: entry.lastId, seen };
      const lost = seen !== undefined ? published - seen : published === 0 ? 0 : record.row.lost;
      record.row = {
        ...record.row,
        published: publishedNow(record, record.row.received),
        lost,
      };
    }
    // Chaos actions from other tabs; those before the page loaded are not news.
    if (chaosSeen === undefined) chaosSeen = server.chaos.at(-1)?.id ?? 0;
    else for (const result of server.chaos) logChaos(result, false);
    changed();
  };
  const timer = setInterval(() => void refresh(), pollMs);

  return {
    track(channel, label, baseline, slot) {
      if (slot !== undefined) {
        const previous = slots.get(slot);
        if (previous !== undefined) records.delete(previous);
        slots.set(slot, channel);
      }
      records.set(channel, {
        baseline,
        ids: new Map(),
        poll: undefined,
        row: {
          channel,
          label,
          status: 'connecting',
          transport: undefined,
          lastEventId: undefined,
          received: 0,
          duplicates: 0,
          dropped: 0,
          gaps: 0,
          reconnects: 0,
          published: undefined,
          lost: undefined,
          error: undefined,
          moved: undefined,
          gapReason: undefined,
        },
      });
      changed();
      void refresh();
    },
    event(event) {
      const record = records.get(event.channel);
      if (record === undefined) return;
      if (record.ids.has(event.id)) {
        update(event.channel, { duplicates: record.row.duplicates + 1 });
        addLog('error', `${record.row.label}: event ${event.id} delivered twice`);
        return;
      }
      const received = record.row.received + 1;
      record.ids.set(event.id, received);
      const { poll } = record;
      // The server's newest event at the last poll has arrived: "lost" is measured there.
      if (poll !== undefined && poll.seen === undefined && poll.lastId === event.id) {
        poll.seen = received;
        update(event.channel, { received, lost: poll.published - received });
      }
      update(event.channel, { received, published: publishedNow(record, received) });
    },
    sdk(channel, state) {
      const record = records.get(channel);
      if (record === undefined || record.row.status === 'closed') return;
      const { row } = record;
      const error = state.error?.code;
      if (state.gaps > row.gaps && row.gapReason === undefined)
        addLog('error', `${row.label}: gap (history could not be replayed)`);
      if (
        row.status === state.status &&
        row.transport === state.transport &&
        row.lastEventId === state.lastEventId &&
        row.dropped === state.duplicates &&
        row.gaps === state.gaps &&
        row.reconnects === state.reconnects &&
        row.error === error
      ) {
        return;
      }
      update(channel, {
        status: state.status,
        transport: state.transport ?? row.transport,
        lastEventId: state.lastEventId,
        dropped: state.duplicates,
        gaps: state.gaps,
        reconnects: state.reconnects,
        error,
      });
    },
    closed(channel) {
      update(channel, { status: 'closed', error: undefined });
      void refresh();
    },
    log: addLog,
    watch(client) {
      const onState: ClientEvents['state'] = ({ transport, next, prev }) => {
        const name = transport === 'sse' ? 'SSE' : 'WebSocket';
        const why = 'error' in next && next.error ? ` (${next.error.code})` : '';
        const kind = next.status === 'open' || next.status === 'idle' ? 'state' : 'error';
        if (next.status === 'waiting') {
          addLog(kind, `${name} lost${why}, retry in ${Math.round(next.delay)} ms`);
        } else if (next.status !== prev.status) {
          addLog(kind, `${name} ${next.status}${why}`);
        }
      };
      const onRecord = (record: InspectRecord): void => {
        if (record.type === 'fallback') {
          const name = transportName(record.transport);
          avoided[record.transport] = record.until;
          addLog(
            record.until === undefined ? 'state' : 'error',
            record.until === undefined
              ? `${name} usable again (${record.reason})`
              : `${name} avoided until ${clock(record.until)} (${record.reason}): its channels fall back`,
          );
        } else if (record.type === 'placement' && record.from !== undefined) {
          const row = records.get(record.channel)?.row;
          const until = avoided[record.from];
          const back = until === undefined ? '' : `, back after ${clock(until)}`;
          const moved = `from ${transportName(record.from)}: ${record.reason}${back}`;
          update(record.channel, { moved });
          addLog(
            'error',
            `${row?.label ?? record.channel} moved ${transportName(record.from)} → ${transportName(record.to)} (${record.reason})${back}`,
          );
        } else if (record.type === 'gap') {
          const row = records.get(record.channel)?.row;
          update(record.channel, { gapReason: record.reason });
          addLog(
            'error',
            `${row?.label ?? record.channel}: gap (${record.reason}: ${gapMeaning[record.reason] ?? 'history lost'})`,
          );
        }
      };
      const offs = [client.on('state', onState), client.on('inspect', onRecord)];
      return () => {
        for (const off of offs) off();
      };
    },
    async chaos(name) {
      try {
        logChaos(await api.chaos(name), true);
      } catch (error) {
        addLog('error', `${name} failed: ${String(error)}`);
      }
      await refresh();
    },
    refresh,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot() {
      snapshot ??= { rows: [...records.values()].map((r) => r.row), server, log };
      return snapshot;
    },
    dispose() {
      clearInterval(timer);
      listeners.clear();
    },
  };
}
