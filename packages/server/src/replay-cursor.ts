import type { GapReason } from '@tidewire/core/protocol';
import { frameLength } from './encoding/outgoing-event.js';
import type { Engine, PageLimit, StoredEvent } from './engine/engine.js';
import { MAX_MESSAGE_BYTES } from './limits.js';

/** A channel to replay and the position it resumes from. */
export interface ReplayStart {
  readonly channel: string;
  readonly since: string;
}

/** What one {@link ReplayCursor.step} gives to send, in this order. */
export interface ReplayStep {
  /** Gaps to send before `entries`; each names a channel whose position could not be replayed. */
  readonly gaps: ReadonlyArray<{ readonly channel: string; readonly reason: GapReason }>;
  /** Events to send, in seq order across the cursor's channels. */
  readonly entries: readonly StoredEvent[];
  /**
   * True when `entries` reach the head: every event of the cursor's channels that this
   * node's listeners had received when the step started is in this step or an earlier one.
   * Events newer than that are left out even when a page held them: they reach the node's
   * listeners after the step started, so the subscriber gets them live.
   */
  readonly done: boolean;
}

/**
 * Reads a replay from the engine a page at a time, after the last event it gave,
 * so that a long resume is never read, encoded or queued at once.
 */
export interface ReplayCursor {
  /** Reads the next page. Call it again only once the previous step has resolved. */
  step(): Promise<ReplayStep>;
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
 * oldest of them merged in seq order, up to `limit` in all, so that several channels make
 * one ordered sequence (an SSE stream's last event id stays a resume position for every
 * channel). When history was trimmed past a channel's cursor, the step gives a `gap` of
 * that channel before its next event, and continues from the oldest event left.
 */
export function createReplayCursor(
  engine: Engine,
  starts: readonly ReplayStart[],
  limit: PageLimit,
): ReplayCursor {
  const cursors = new Map<string, ChannelCursor>();
  for (const { channel, since } of starts) cursors.set(channel, { channel, since, gapOpen: false });
  const channels = [...cursors.values()];

  return {
    async step() {
      // Taken before the reads: every event up to it is in them, and every later one
      // reaches the node's listeners after this point.
      const head = seqOf(engine.position());
      const pages = await Promise.all(
        channels.map((cursor) => engine.readPage(cursor.channel, cursor.since, limit)),
      );
      const gaps: Array<{ channel: string; reason: GapReason }> = [];
      const read: StoredEvent[] = [];
      // Events beyond the last one read from a channel that has more must wait: that
      // channel's next page may hold older ones.
      let bound = head;
      let more = false;
      for (const [index, cursor] of channels.entries()) {
        const page = pages[index]!;
        // A gap given already and followed by no event of its channel says it all.
        if (page.gap !== undefined && !cursor.gapOpen) {
          gaps.push({ channel: cursor.channel, reason: page.gap });
          cursor.gapOpen = true;
        }
        const last = page.entries.at(-1);
        if (page.more && last !== undefined) {
          more = true;
          bound = Math.min(bound, last.seq);
        }
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
      return { gaps, entries, done: !more && count === ready.length };
    },
  };
}

/** The sequence number of a position `<epoch>-<seq>`. */
function seqOf(position: string): number {
  return Number(position.slice(position.lastIndexOf('-') + 1));
}

/**
 * How many of `entries`, from the first, fit in `limit` (at least one when there is any).
 * Bytes are counted as UTF-16 units of each `event` frame, which is close enough for a budget.
 */
function pageLength(entries: readonly StoredEvent[], limit: PageLimit): number {
  let bytes = 0;
  let count = 0;
  for (const entry of entries) {
    if (count === limit.maxEvents) break;
    const size = frameLength(entry);
    if (count > 0 && bytes + size > limit.maxBytes) break;
    bytes += size;
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
