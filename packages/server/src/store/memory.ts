import { randomInt } from 'node:crypto';
import type { ChannelHistoryInfo, HistoryEntry, HistoryStore, Replay } from './history-store.js';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Newest events kept per channel. @default 1000 */
  maxEvents?: number;
  /** Events older than this many milliseconds are dropped. @default 600000 */
  maxAgeMs?: number;
  /** The history epoch, a short string from `[a-z0-9]`. @default random base36 */
  epoch?: string;
  /** Clock in milliseconds since the epoch. @default () => Date.now() */
  now?: () => number;
}

interface ChannelLog {
  entries: HistoryEntry[];
  /** Index of the oldest kept entry in `entries` (entries before it are dropped lazily). */
  head: number;
  /** Seq of the newest event trimmed from this channel (0 when none). */
  trimmedSeq: number;
}

const ID_PATTERN = /^([0-9a-z]+)-(0|[1-9][0-9]{0,15})$/;

/**
 * The embedded history store: a bounded log per channel, by count and by age,
 * under one epoch and one counter for all channels. Pass the same store to a new
 * server to keep history across a restart of the server object.
 * @example
 * const store = createMemoryStore({ maxEvents: 100, maxAgeMs: 60_000 });
 * const tw = createTidewireServer({ store });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): HistoryStore {
  const {
    maxEvents = 1000,
    maxAgeMs = 600_000,
    epoch = newEpoch(),
    now = () => Date.now(),
  } = options;
  if (!/^[0-9a-z]+$/.test(epoch)) throw new TypeError('epoch must match [0-9a-z]+');
  const logs = new Map<string, ChannelLog>();
  let seq = 0;
  /** Highest `trimmedSeq` of a channel whose log was dropped once empty; new logs start there. */
  let droppedFloor = 0;

  /** Drops what is too old at `time` or beyond `maxEvents`; false when the log went empty (and away). */
  const trim = (channel: string, log: ChannelLog, time: number): boolean => {
    const oldest = time - maxAgeMs;
    const { entries } = log;
    let head = log.head;
    const minHead = entries.length - maxEvents;
    while (head < entries.length && (head < minHead || entries[head]!.time < oldest)) head += 1;
    if (head === log.head) return true;
    log.trimmedSeq = entries[head - 1]!.seq;
    if (head === entries.length) {
      logs.delete(channel);
      droppedFloor = Math.max(droppedFloor, log.trimmedSeq);
      return false;
    }
    // Compact once the dead prefix is as long as the live part, so appends stay O(1) amortized.
    if (head * 2 >= entries.length) {
      log.entries = entries.slice(head);
      log.head = 0;
    } else {
      log.head = head;
    }
    return true;
  };

  const logOf = (channel: string): ChannelLog | undefined => {
    const log = logs.get(channel);
    return log !== undefined && trim(channel, log, now()) ? log : undefined;
  };

  // Channel names and event types repeat: quote each once (bounded, so that names
  // that never come back cannot grow it for ever).
  const quoted = new Map<string, string>();
  const quote = (text: string): string => {
    let json = quoted.get(text);
    if (json === undefined) {
      json = JSON.stringify(text);
      if (quoted.size >= 4096) quoted.clear();
      quoted.set(text, json);
    }
    return json;
  };

  return {
    epoch,
    position: () => `${epoch}-${seq}`,
    append({ channel, event, dataJson }) {
      seq += 1;
      const id = `${epoch}-${seq}`;
      const frame = `{"type":"event","channel":${quote(channel)},"id":"${id}","event":${quote(event)},"data":${dataJson}}`;
      // One clock reading per append, for the entry and for trimming.
      const time = now();
      const entry: HistoryEntry = { seq, id, channel, event, frame, time };
      let log = logs.get(channel);
      if (log !== undefined && !trim(channel, log, time)) log = undefined;
      if (log === undefined) {
        log = { entries: [], head: 0, trimmedSeq: droppedFloor };
        logs.set(channel, log);
      }
      log.entries.push(entry);
      // Only the count can be exceeded now: everything older was trimmed just above.
      if (log.entries.length - log.head > maxEvents) trim(channel, log, time);
      return entry;
    },
    read(channel, since): Replay {
      const log = logOf(channel);
      const kept = log === undefined ? [] : log.entries.slice(log.head);
      const match = ID_PATTERN.exec(since);
      if (match === null) return { gap: 'invalid', entries: kept };
      const position = Number(match[2]);
      if (match[1] !== epoch) return { gap: 'epoch', entries: kept };
      if (position > seq) return { gap: 'invalid', entries: kept };
      const trimmedSeq = log?.trimmedSeq ?? droppedFloor;
      if (trimmedSeq > position) return { gap: 'trimmed', entries: kept };
      return { gap: undefined, entries: kept.slice(firstAfter(kept, position)) };
    },
    info(channel): ChannelHistoryInfo {
      const log = logOf(channel);
      if (log === undefined) return { size: 0, lastId: undefined };
      return { size: log.entries.length - log.head, lastId: log.entries.at(-1)?.id };
    },
    channels() {
      return [...logs.keys()].filter((channel) => logOf(channel) !== undefined);
    },
  };
}

/** Index of the first entry with a seq greater than `position` (entries are sorted by seq). */
function firstAfter(entries: readonly HistoryEntry[], position: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (entries[mid]!.seq > position) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** A fresh epoch: the time in base36 plus four random base36 digits. */
function newEpoch(): string {
  return `${Date.now().toString(36)}${randomInt(36 ** 4)
    .toString(36)
    .padStart(4, '0')}`;
}
