/**
 * The connection inspector's model, shared by the three pages: per channel, what the
 * SDK reports (transport, state, last id, reconnects, gaps) and what the page counted
 * itself (events received, duplicates delivered) against what the server published.
 */
import type { ChannelEvent, Client, ClientEvents } from '@tidewire/core';
import { api, type ChaosAction, type ServerInfo } from './api';

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
  /** Events the server accepted on the channel after the page's starting position (last poll). */
  readonly published: number | undefined;
  /**
   * Events lost: measured at the server's newest event once the page has it (how many the
   * server had published up to it, minus how many the page had received up to it), so it is
   * exact however events and polls interleave. `undefined` until the first measurement.
   */
  readonly lost: number | undefined;
  readonly error: string | undefined;
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
  /** Logs the client's connection state changes. Returns the disposer. */
  watch(client: Pick<Client, 'on'>): () => void;
  /** Runs a chaos control and logs it. */
  chaos(action: ChaosAction): Promise<void>;
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
      const lost = seen !== undefined ? published - seen : published === 0 ? 0 : record.row.lost;
      record.row = { ...record.row, published, lost };
    }
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
      update(event.channel, { received });
    },
    sdk(channel, state) {
      const record = records.get(channel);
      if (record === undefined || record.row.status === 'closed') return;
      const { row } = record;
      const error = state.error?.code;
      if (state.gaps > row.gaps)
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
      return client.on('state', onState);
    },
    async chaos(action) {
      try {
        const result = await api.chaos(action);
        const affected = result.affected === undefined ? '' : ` (${result.affected} connections)`;
        addLog('chaos', `${result.action}${affected}`);
      } catch (error) {
        addLog('error', `${action} failed: ${String(error)}`);
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
