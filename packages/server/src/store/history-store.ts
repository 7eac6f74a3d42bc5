import type { GapReason } from '@tidewire/core/protocol';

/** One stored event. */
export interface HistoryEntry {
  /** Position in the store's single counter; strictly increasing across all channels. */
  readonly seq: number;
  /** The event id: `<epoch>-<seq>`. */
  readonly id: string;
  /** The channel it was published on. */
  readonly channel: string;
  /** The application's event type. */
  readonly event: string;
  /** The complete `event` frame as JSON, serialized once and sent as is. */
  readonly frame: string;
  /** When it was stored, in milliseconds since the epoch. */
  readonly time: number;
}

/** What an `append` needs: `data` already serialized, so it is serialized only once. */
export interface NewEvent {
  /** The channel it is published on. */
  channel: string;
  /** The application's event type. */
  event: string;
  /** The event's data, serialized to JSON. */
  dataJson: string;
}

/** The answer to a resume request. */
export interface Replay {
  /** Set when the position cannot be replayed exactly; `entries` is then all that remains. */
  readonly gap: GapReason | undefined;
  /** Events to send, oldest first. */
  readonly entries: readonly HistoryEntry[];
}

/** How much one {@link HistoryStore.readPage} may return. */
export interface PageLimit {
  /** Most events in the page. */
  readonly maxEvents: number;
  /**
   * Most bytes of frames in the page (UTF-8 length of each `frame`); a page holds at
   * least one event when any is left, however large.
   */
  readonly maxBytes: number;
}

/** One page of a resume: a {@link Replay} bounded by a {@link PageLimit}. */
export interface ReplayPage extends Replay {
  /** True when the channel has events after the page's last one. */
  readonly more: boolean;
}

/** What the store knows about one channel, for `stats()`. */
export interface ChannelHistoryInfo {
  /** Events kept for the channel. */
  readonly size: number;
  /** The id of the newest event kept, if any. */
  readonly lastId: string | undefined;
}

/**
 * Where the server keeps history. Calls are synchronous, which makes "replay then
 * live" atomic for each subscriber: nothing can be published between the read and
 * the moment the subscriber joins the channel.
 */
export interface HistoryStore {
  /** The current history epoch; part of every id. */
  readonly epoch: string;
  /**
   * The newest position in the store, across all channels (`<epoch>-0` before the first
   * event). Resuming any channel from it replays nothing and misses nothing after it.
   */
  position(): string;
  /** Assigns the next position to an event and keeps it. */
  append(event: NewEvent): HistoryEntry;
  /** Events of `channel` after the position `since` (all kept events and a gap when it is gone). */
  read(channel: string, since: string): Replay;
  /**
   * The first page of `read(channel, since)`: the same gap, and the oldest of the same events
   * within `limit`. A replay reads a page at a time, as its connection drains, so that a long
   * resume is never held in memory at once. A store without it is paged over `read`.
   */
  readPage?(channel: string, since: string, limit: PageLimit): ReplayPage;
  /** Size and newest id of a channel's history. */
  info(channel: string): ChannelHistoryInfo;
  /** Channels that currently have history. */
  channels(): Iterable<string>;
  /**
   * Stops the store's own timers, if it has any; the store still answers afterwards.
   * A server calls it from `close()` for the store it created itself; a store passed in
   * as `options.store` is the caller's to close.
   */
  close?(): void;
}
