import type { GapReason } from '@tidewire/core/protocol';

/**
 * What a publish gives the engine: `data` already serialized, so that it is serialized
 * once however many nodes and subscribers receive it.
 */
export interface NewEvent {
  /** The channel it is published on. */
  readonly channel: string;
  /** The application event type (`message` when the publisher named none). */
  readonly event: string;
  /** The event's data as JSON. */
  readonly dataJson: string;
}

/** One event as the engine stored it. Wire forms are built from these parts by the server. */
export interface StoredEvent extends NewEvent {
  /**
   * Position in the engine's one counter: strictly increasing across every channel and,
   * on a shared engine, across every node.
   */
  readonly seq: number;
  /** The event id: `<epoch>-<seq>`. */
  readonly id: string;
  /** When it was stored, in milliseconds since 1970. */
  readonly time: number;
}

/** How much one {@link Engine.readPage} may return. */
export interface PageLimit {
  /** Most events in the page. */
  readonly maxEvents: number;
  /**
   * Most bytes of data in the page, counted as the UTF-16 length of each `dataJson`. A page
   * holds at least one event when any is left, however large.
   */
  readonly maxBytes: number;
}

/** One page of a resume. */
export interface ReplayPage {
  /**
   * Set when the position cannot be replayed exactly: `trimmed` (history after it is gone),
   * `epoch` (it was issued under an epoch whose events did not all survive), `invalid` (not a
   * position this engine issued). `entries` then start from the oldest event kept.
   */
  readonly gap: GapReason | undefined;
  /** Events of the channel after the position, oldest first, within the page's limit. */
  readonly entries: readonly StoredEvent[];
  /** True when the channel has events after the page's last one. */
  readonly more: boolean;
}

/** What an engine knows about one channel, for `stats()`. */
export interface ChannelHistoryInfo {
  /** Events kept. */
  readonly size: number;
  /** The newest event's id, when any is kept. */
  readonly lastId: string | undefined;
}

/** Receives every event the engine delivers to this node, in `seq` order. */
export interface EngineListener {
  /** An event, published on this node or another. */
  event(event: StoredEvent): void;
  /**
   * The node can no longer promise that its live events follow on from what it delivered:
   * it missed events (its cursor was trimmed away) or history was rewritten (a failover
   * lost events this node had delivered). The server ends every connection with a
   * retryable close, so that clients resume by position and learn of any gap.
   */
  reset(reason: string): void;
}

/** Whether the engine can serve. */
export type EngineHealth =
  | { readonly ready: true }
  | {
      readonly ready: false;
      /** Why, for logs and the readiness endpoint. */
      readonly reason: string;
      /**
       * When the engine last knew it was well (for a networked engine, its last answer from
       * its store), in milliseconds on the server's `now` clock, when it knows. The server
       * counts `staleAfterMs` from it rather than from its own first look, so that the time
       * it took to notice is not added.
       */
      readonly since?: number;
    };

/**
 * Where a server keeps history and how events reach every node: the one seam between
 * `@tidewire/server` and its storage. The default keeps history in memory for one process;
 * `@tidewire/redis` shares it between processes. Every method may be called by several
 * connections at once; reads and appends return promises, so an engine may live across
 * the network.
 */
export interface Engine {
  /** The current epoch: the first part of every id issued now. It changes after a failover. */
  readonly epoch: string;
  /**
   * The newest position delivered to this node's listeners (`<epoch>-0` before the first
   * event). A subscriber that joins now and resumes from it misses nothing published after.
   */
  position(): string;
  /**
   * Assigns the next position to an event and keeps it. Resolves once it is stored; the
   * event reaches listeners (on every node) through {@link Engine.listen}, in `seq` order.
   * Rejects when the engine cannot store it (for example, its connection is lost).
   */
  append(event: NewEvent): Promise<StoredEvent>;
  /**
   * The first page of `channel`'s events after the position `since`. It holds every event of
   * the channel that this node's listeners had received when it was called (within the
   * page's limit); it may hold newer ones too.
   */
  readPage(channel: string, since: string, limit: PageLimit): Promise<ReplayPage>;
  /**
   * Where a rewind of `channel` by `count` events starts: the position after which its newest
   * `count` events up to the position `until` follow, counting only events the engine still
   * keeps (and would replay without a gap). `until` itself when there is none. A subscription
   * that asks for the last events (`rewind`) replays from it.
   */
  rewind(channel: string, count: number, until: string): Promise<string>;
  /** Size and newest id of a channel's history. */
  info(channel: string): Promise<ChannelHistoryInfo>;
  /**
   * Channels that currently have history, for `stats()`. Optional: an engine that cannot
   * list them cheaply leaves it out, and `stats()` then lists the channels with subscribers.
   */
  channels?(): Promise<readonly string[]>;
  /** Starts delivering events to `listener`. Returns its disposer. */
  listen(listener: EngineListener): () => void;
  /** Whether the engine can serve now; a server reports it on its readiness endpoint. */
  health(): EngineHealth;
  /**
   * Stops the engine's timers and connections. A server calls it from `close()` for the
   * engine it created itself; an engine passed in `options.engine` is the caller's to close.
   */
  close(): Promise<void>;
}
