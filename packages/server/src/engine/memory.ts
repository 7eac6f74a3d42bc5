import { randomInt } from 'node:crypto';
import type { GapReason } from '@tidewire/core/protocol';
import { systemTimers, type TimerHandle, type Timers } from '../timers.js';
import type {
  ChannelHistoryInfo,
  Engine,
  EngineListener,
  ReplayPage,
  StoredEvent,
} from './engine.js';

/** Options of {@link createMemoryEngine}. */
export interface MemoryEngineOptions {
  /** Newest events kept per channel. @default 1000 */
  maxEvents?: number;
  /**
   * Events older than this many milliseconds are dropped: when their channel is read or
   * written, and otherwise by a timer, at most about a second after they expire.
   * @default 600000
   */
  maxAgeMs?: number;
  /**
   * Events kept across all channels. Beyond it the oldest event of the whole engine is
   * dropped, whatever its channel.
   * @default 100000
   */
  maxTotalEvents?: number;
  /**
   * Bytes kept across all channels, counted as the UTF-8 length of each event's channel,
   * type and data. Beyond it the oldest events of the whole engine are dropped, whatever
   * their channel.
   * @default 67108864 (64 MiB)
   */
  maxTotalBytes?: number;
  /** The history epoch, a short string from `[a-z0-9]`. @default random base36 */
  epoch?: string;
  /** Clock in milliseconds since 1970. @default () => Date.now() */
  now?: () => number;
  /** Timer functions for the age sweep; its timer never keeps the process alive. @default the global timers */
  timers?: Timers;
}

/** What {@link createMemoryEngine} returns: an {@link Engine} that always lists its channels. */
export interface MemoryEngine extends Engine {
  /** Channels that currently have history. */
  channels(): Promise<readonly string[]>;
}

interface ChannelLog {
  readonly channel: string;
  entries: StoredEvent[];
  /** UTF-8 length of each entry's parts, index for index with `entries`. */
  sizes: number[];
  /** Index of the oldest kept entry in `entries` (entries before it are dropped lazily). */
  head: number;
  /** Seq of the newest event trimmed from this channel (0 when none). */
  trimmedSeq: number;
  /** False once the log went empty and left the engine. */
  open: boolean;
}

const ID_PATTERN = /^([0-9a-z]+)-(0|[1-9][0-9]{0,15})$/;

/** The age sweep runs at most this often (or every `maxAgeMs`, when that is shorter). */
const SWEEP_INTERVAL_MS = 1000;

/** Node's largest timer delay. */
const MAX_DELAY = 2_147_483_647;

/** What stands in a log's dead prefix for an entry that was dropped. */
const DROPPED: StoredEvent = Object.freeze({
  seq: 0,
  id: '',
  channel: '',
  event: '',
  dataJson: '',
  time: 0,
});

const READY = Object.freeze({ ready: true as const });

/**
 * The default engine: history in this process's memory, a bounded log per channel, by count
 * and by age, under a bound on the events and bytes of all channels together, with one epoch
 * and one counter for all channels. Its bus is in-process: `append` stores the event, hands
 * it to every listener before it returns, and resolves. Pass the same engine to a new server
 * to keep history across a restart of the server object.
 * @example
 * const engine = createMemoryEngine({ maxEvents: 100, maxAgeMs: 60_000, maxTotalBytes: 16 << 20 });
 * const tw = createTidewireServer({ engine });
 */
export function createMemoryEngine(options: MemoryEngineOptions = {}): MemoryEngine {
  const {
    maxEvents = 1000,
    maxAgeMs = 600_000,
    maxTotalEvents = 100_000,
    maxTotalBytes = 64 * 1024 * 1024,
    epoch = newEpoch(),
    now = () => Date.now(),
    timers = systemTimers,
  } = options;
  if (!/^[0-9a-z]+$/.test(epoch)) throw new TypeError('epoch must match [0-9a-z]+');
  const logs = new Map<string, ChannelLog>();
  const listeners = new Set<EngineListener>();
  let seq = 0;
  /** Highest `trimmedSeq` of a channel whose log was dropped once empty; new logs start there. */
  let droppedFloor = 0;
  let totalEvents = 0;
  let totalBytes = 0;

  // Every kept event in seq order across channels, as a (log, seq) reference, so that the
  // oldest event of the engine is found without looking at every channel. The oldest live
  // reference is always the oldest entry of its log. A channel that trims itself leaves
  // stale references behind: they are skipped at the front, and swept out when they
  // outnumber the live ones, so every operation stays O(1) amortized.
  let queueLogs: ChannelLog[] = [];
  let queueSeqs: number[] = [];
  let queueHead = 0;

  let sweepTimer: TimerHandle | undefined;
  let closed = false;

  /** Drops the `count` oldest entries of `log`; false when the log went empty (and away). */
  const dropOldest = (log: ChannelLog, count: number): boolean => {
    const { entries, sizes } = log;
    const head = log.head + count;
    for (let index = log.head; index < head; index += 1) totalBytes -= sizes[index]!;
    totalEvents -= count;
    log.trimmedSeq = entries[head - 1]!.seq;
    if (head === entries.length) {
      log.open = false;
      log.entries = [];
      log.sizes = [];
      log.head = 0;
      logs.delete(log.channel);
      droppedFloor = Math.max(droppedFloor, log.trimmedSeq);
      return false;
    }
    // Compact once the dead prefix is as long as the live part, so appends stay O(1) amortized.
    if (head * 2 >= entries.length) {
      log.entries = entries.slice(head);
      log.sizes = sizes.slice(head);
      log.head = 0;
    } else {
      // Until the next compaction the dead prefix must not hold on to the data.
      entries.fill(DROPPED, log.head, head);
      log.head = head;
    }
    return true;
  };

  /** Drops what is too old at `time` or beyond `maxEvents`; false when the log went empty (and away). */
  const trim = (log: ChannelLog, time: number): boolean => {
    const oldest = time - maxAgeMs;
    const { entries, head } = log;
    const minHead = entries.length - maxEvents;
    let end = head;
    while (end < entries.length && (end < minHead || entries[end]!.time < oldest)) end += 1;
    return end === head || dropOldest(log, end - head);
  };

  const logOf = (channel: string): ChannelLog | undefined => {
    const log = logs.get(channel);
    return log !== undefined && trim(log, now()) ? log : undefined;
  };

  const isLive = (log: ChannelLog, entrySeq: number): boolean =>
    log.open && entrySeq > log.trimmedSeq;

  /** Removes the front reference of the queue. */
  const shift = (): void => {
    queueHead += 1;
    if (queueHead * 2 >= queueLogs.length) {
      queueLogs = queueLogs.slice(queueHead);
      queueSeqs = queueSeqs.slice(queueHead);
      queueHead = 0;
    }
  };

  /** The log that holds the oldest event of the engine, or undefined when it is empty. */
  const oldestLog = (): ChannelLog | undefined => {
    while (queueHead < queueLogs.length) {
      const log = queueLogs[queueHead]!;
      if (isLive(log, queueSeqs[queueHead]!)) return log;
      shift();
    }
    return undefined;
  };

  /** Drops the oldest events of the engine while it holds too many events or bytes. */
  const evictOverflow = (): void => {
    while (totalEvents > maxTotalEvents || totalBytes > maxTotalBytes) {
      const log = oldestLog();
      if (log === undefined) return;
      shift();
      dropOldest(log, 1);
    }
  };

  /** Rebuilds the queue without its stale references once they outnumber the live ones. */
  const compactQueue = (): void => {
    if (queueLogs.length - queueHead <= 2 * totalEvents + 1024) return;
    const liveLogs: ChannelLog[] = [];
    const liveSeqs: number[] = [];
    for (let index = queueHead; index < queueLogs.length; index += 1) {
      const log = queueLogs[index]!;
      const entrySeq = queueSeqs[index]!;
      if (isLive(log, entrySeq)) {
        liveLogs.push(log);
        liveSeqs.push(entrySeq);
      }
    }
    queueLogs = liveLogs;
    queueSeqs = liveSeqs;
    queueHead = 0;
  };

  /** Arms the age sweep for when the oldest event expires, unless it is armed already. */
  const armSweep = (time: number): void => {
    if (closed || sweepTimer !== undefined || !Number.isFinite(maxAgeMs)) return;
    const log = oldestLog();
    if (log === undefined) return;
    const expiresIn = log.entries[log.head]!.time + maxAgeMs - time;
    const delay = Math.max(expiresIn, Math.min(SWEEP_INTERVAL_MS, maxAgeMs));
    sweepTimer = timers.setTimeout(sweep, Math.min(delay, MAX_DELAY));
    (sweepTimer as { unref?: () => void } | undefined)?.unref?.();
  };

  /** Drops expired events across all channels, oldest first, then arms the next sweep. */
  const sweep = (): void => {
    sweepTimer = undefined;
    if (closed) return;
    const time = now();
    const oldest = time - maxAgeMs;
    for (let log = oldestLog(); log !== undefined; log = oldestLog()) {
      if (log.entries[log.head]!.time >= oldest) break;
      shift();
      dropOldest(log, 1);
    }
    armSweep(time);
  };

  /** Keeps `entry` under every bound; returns it. */
  const store = (entry: StoredEvent): StoredEvent => {
    const { channel, time } = entry;
    const bytes =
      Buffer.byteLength(entry.dataJson) +
      Buffer.byteLength(channel) +
      Buffer.byteLength(entry.event);
    let log = logs.get(channel);
    if (log !== undefined && !trim(log, time)) log = undefined;
    if (log === undefined) {
      // Sized for one entry: many channels never get a second one.
      log = {
        channel,
        entries: [entry],
        sizes: [bytes],
        head: 0,
        trimmedSeq: droppedFloor,
        open: true,
      };
      logs.set(channel, log);
    } else {
      log.entries.push(entry);
      log.sizes.push(bytes);
    }
    totalEvents += 1;
    totalBytes += bytes;
    queueLogs.push(log);
    queueSeqs.push(entry.seq);
    // Only the count can be exceeded now: everything older was trimmed just above.
    if (log.entries.length - log.head > maxEvents) trim(log, time);
    evictOverflow();
    compactQueue();
    armSweep(time);
    return entry;
  };

  /**
   * Where a resume from `since` starts in `channel`'s log: at the first event after the
   * position, or at the oldest kept event with the gap that makes the position unusable.
   */
  const locate = (
    channel: string,
    since: string,
  ): { log: ChannelLog | undefined; gap: GapReason | undefined; start: number } => {
    const log = logOf(channel);
    const head = log?.head ?? 0;
    const match = ID_PATTERN.exec(since);
    if (match === null) return { log, gap: 'invalid', start: head };
    const position = Number(match[2]);
    if (match[1] !== epoch) return { log, gap: 'epoch', start: head };
    if (position > seq) return { log, gap: 'invalid', start: head };
    const trimmedSeq = log?.trimmedSeq ?? droppedFloor;
    if (trimmedSeq > position) return { log, gap: 'trimmed', start: head };
    return {
      log,
      gap: undefined,
      start: log === undefined ? 0 : firstAfter(log.entries, head, position),
    };
  };

  return {
    epoch,
    position: () => `${epoch}-${seq}`,
    append({ channel, event, dataJson }) {
      seq += 1;
      // One clock reading per append, for the entry, for trimming and for the sweep.
      const entry = store({ seq, id: `${epoch}-${seq}`, channel, event, dataJson, time: now() });
      for (const listener of listeners) listener.event(entry);
      return Promise.resolve(entry);
    },
    readPage(channel, since, { maxEvents: pageEvents, maxBytes }) {
      const { log, gap, start } = locate(channel, since);
      if (log === undefined) return Promise.resolve<ReplayPage>({ gap, entries: [], more: false });
      const { entries } = log;
      let end = start;
      let bytes = 0;
      while (end < entries.length && end - start < pageEvents) {
        const size = entries[end]!.dataJson.length;
        if (end > start && bytes + size > maxBytes) break;
        bytes += size;
        end += 1;
      }
      return Promise.resolve<ReplayPage>({
        gap,
        entries: entries.slice(start, end),
        more: end < entries.length,
      });
    },
    rewind(channel, count, until) {
      const log = logOf(channel);
      const match = ID_PATTERN.exec(until);
      if (log === undefined || count <= 0 || match === null || match[1] !== epoch) {
        return Promise.resolve(until);
      }
      // The newest `count` entries with a seq up to `until`'s, oldest first: the rewind starts
      // just before the first of them.
      const end = firstAfter(log.entries, log.head, Number(match[2]));
      const first = Math.max(log.head, end - count);
      const entry = log.entries[first];
      return Promise.resolve(first < end && entry ? `${epoch}-${entry.seq - 1}` : until);
    },
    info(channel) {
      const log = logOf(channel);
      const info: ChannelHistoryInfo =
        log === undefined
          ? { size: 0, lastId: undefined }
          : { size: log.entries.length - log.head, lastId: log.entries.at(-1)?.id };
      return Promise.resolve(info);
    },
    channels() {
      return Promise.resolve([...logs.keys()].filter((channel) => logOf(channel) !== undefined));
    },
    listen(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    health: () => READY,
    close() {
      closed = true;
      if (sweepTimer !== undefined) timers.clearTimeout(sweepTimer);
      sweepTimer = undefined;
      return Promise.resolve();
    },
  };
}

/**
 * Index of the first entry from `from` on with a seq greater than `position` (entries
 * are sorted by seq).
 */
function firstAfter(entries: readonly StoredEvent[], from: number, position: number): number {
  let low = from;
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
