import type { GapReason } from '@tidewire/core/protocol';
import { MAX_MESSAGE_BYTES } from './limits.js';
import type { HistoryEntry, HistoryStore, PageLimit, ReplayPage } from './store/history-store.js';

/** A channel to replay and the position it resumes from. */
export interface ReplayStart {
  readonly channel: string;
  readonly since: string;
}

/** What one {@link ReplayCursor.step} gives to send, in this order. */
export interface ReplayStep {
  /** Gaps to send before `entries`; each names a channel whose position could not be replayed. */
  readonly gaps: ReadonlyArray<{ readonly channel: string; readonly reason: GapReason }>;
  /** Events to send, in id order across the cursor's channels. */
  readonly entries: readonly HistoryEntry[];
  /**
   * True when `entries` reach the head of the history: every event of the cursor's channels
   * published so far is in this step or an earlier one. The subscription must go live in the
   * same synchronous step, so that no publish falls between the replay and live delivery.
   */
  readonly done: boolean;
}

/**
 * Reads a replay from the history store a page at a time, after the last event it gave,
 * so that a long resume is never read, encoded or queued at once.
 */
export interface ReplayCursor {
  /** Reads the next page. */
  step(): ReplayStep;
}

/** Where one channel of a cursor stands. */
interface ChannelCursor {
  readonly channel: string;
  /** The id of the last event given, or the position the replay started from. */
  since: string;
  /** True after a `gap` was given for this channel and no event of it since. */
  gapOpen: boolean;
}

/**
 * Creates a cursor over `starts`. Each step reads a page of every channel and gives the
 * oldest of them merged in id order, up to `limit` in all, so that several channels make
 * one ordered sequence (an SSE stream's last event id stays a resume position for every
 * channel). When history was trimmed past a channel's cursor, the step gives a `gap` of
 * that channel before its next event, and continues from the oldest event left.
 */
export function createReplayCursor(
  store: HistoryStore,
  starts: readonly ReplayStart[],
  limit: PageLimit,
): ReplayCursor {
  const cursors = new Map<string, ChannelCursor>();
  for (const { channel, since } of starts) cursors.set(channel, { channel, since, gapOpen: false });

  return {
    step() {
      const gaps: Array<{ channel: string; reason: GapReason }> = [];
      const read: HistoryEntry[] = [];
      // Events beyond the last one read from a channel that has more must wait: that
      // channel's next page may hold older ones.
      let bound = Number.POSITIVE_INFINITY;
      for (const cursor of cursors.values()) {
        const page = readPage(store, cursor.channel, cursor.since, limit);
        // A gap given already and followed by no event of its channel says it all.
        if (page.gap !== undefined && !cursor.gapOpen) {
          gaps.push({ channel: cursor.channel, reason: page.gap });
          cursor.gapOpen = true;
        }
        const last = page.entries.at(-1);
        if (page.more && last !== undefined) bound = Math.min(bound, last.seq);
        for (const entry of page.entries) read.push(entry);
      }
      const ready = read.filter((entry) => entry.seq <= bound).sort((a, b) => a.seq - b.seq);
      const count = pageLength(ready, limit);
      const entries = count === ready.length ? ready : ready.slice(0, count);
      for (const entry of entries) {
        const cursor = cursors.get(entry.channel);
        if (cursor === undefined) continue;
        cursor.since = entry.id;
        cursor.gapOpen = false;
      }
      return { gaps, entries, done: bound === Number.POSITIVE_INFINITY && count === ready.length };
    },
  };
}

/** A page of `store`, over `read` when the store cannot read pages itself. */
function readPage(
  store: HistoryStore,
  channel: string,
  since: string,
  limit: PageLimit,
): ReplayPage {
  if (store.readPage !== undefined) return store.readPage(channel, since, limit);
  const { gap, entries } = store.read(channel, since);
  const count = pageLength(entries, limit);
  return { gap, entries: entries.slice(0, count), more: count < entries.length };
}

/**
 * How many of `entries`, from the first, fit in `limit` (at least one when there is any).
 * Bytes are counted as UTF-16 units, which is close enough for a budget.
 */
function pageLength(entries: readonly HistoryEntry[], limit: PageLimit): number {
  let bytes = 0;
  let count = 0;
  for (const entry of entries) {
    if (count === limit.maxEvents) break;
    if (count > 0 && bytes + entry.frame.length > limit.maxBytes) break;
    bytes += entry.frame.length;
    count += 1;
  }
  return count;
}

/**
 * The page of a replay on a connection with a send buffer of `sendBufferBytes`: at most
 * one batch (64 KiB), and a quarter of the buffer, so that a page fits beside the live
 * events of the other channels.
 */
export function replayPageLimit(sendBufferBytes: number): PageLimit {
  return {
    maxEvents: 1024,
    maxBytes: Math.max(1, Math.min(MAX_MESSAGE_BYTES, Math.floor(sendBufferBytes / 4))),
  };
}
