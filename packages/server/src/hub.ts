import type { GapReason } from '@tidewire/core/protocol';
import { OutgoingEvent } from './encoding/outgoing-event.js';
import type { Engine, NewEvent, PageLimit, StoredEvent } from './engine/engine.js';
import type { Logger } from './logger.js';
import { createReplayCursor, type ReplayCursor, type ReplayStep } from './replay-cursor.js';
import type { ReplayPacer } from './replay-pacer.js';

/** A connection's side of a subscription: what the hub gives it to write, in order. */
export interface Subscriber {
  /**
   * A live event: the connection queues it, and drops itself when its send buffer overflows.
   * A function property, called without `this`: once live it is the fan-out's own target.
   */
  readonly deliver: (event: OutgoingEvent) => void;
  /** An event of a replay page: the pacer read the page because it fits in the send buffer. */
  replay(event: OutgoingEvent): void;
  /** `channel`'s position could not be replayed exactly; comes before its next event. */
  gap(channel: string, reason: GapReason): void;
  /**
   * The replay reached the head: every channel of the subscription is complete up to
   * `position` (which may be the id of the last event given). Live events follow. Called
   * at the end of every replay, and never for a subscription that starts live.
   */
  reached?(position: string): void;
  /** The replay could not be read: the connection ends, so that its client resumes later. */
  fail(): void;
}

/** A channel of a subscription, and the position it resumes from. */
export interface SubscribeStart {
  readonly channel: string;
  /** Without one the channel starts live, unless another channel of the subscription has one. */
  readonly since?: string | undefined;
  /**
   * Without `since`: replay up to this many of the channel's newest events first (the caller
   * caps it). A position wins over a rewind.
   */
  readonly rewind?: number | undefined;
}

/** What {@link Hub.subscribe} needs. */
export interface SubscribeRequest {
  /** The channels, each with the position it resumes from, if any. */
  readonly starts: readonly SubscribeStart[];
  /** Where the connection takes what the hub gives it. */
  readonly subscriber: Subscriber;
  /** The connection's flow control: the replay reads a page each time one fits. */
  readonly pacer: ReplayPacer;
  /** How much one page of the replay may hold. */
  readonly page: PageLimit;
}

/** A subscriber's membership of its channels. */
export interface Subscription {
  /**
   * The engine's position when the subscriber joined (`subscribed.position`): resuming any
   * of its channels from it misses nothing published after.
   */
  readonly position: string;
  /** Leaves every channel and stops the replay. */
  leave(): void;
}

/** Options of {@link createHub}. */
export interface HubOptions {
  /** Receives delivery and replay failures. */
  logger: Logger;
  /** The engine's listener was reset: the server ends every connection. */
  onReset: (reason: string) => void;
}

/** Channels, their subscribers, the subscribe handshake and fan-out. */
export interface Hub {
  /** The engine's current epoch. */
  readonly epoch: string;
  /**
   * Joins `starts` to the live fan-out and replays the channels that have a position, a
   * page at a time as `pacer` finds room, then goes live: every event once, in seq order
   * across the channels, gaps before events. When one channel has a position, every
   * channel is replayed, the others from the join position, so that the subscription is
   * one sequence (an SSE stream's last id then resumes all of its channels). The
   * subscriber receives nothing before this returns.
   */
  subscribe(request: SubscribeRequest): Subscription;
  /**
   * Stores an event. It reaches the subscribers through the engine's listener, on this node
   * and every other. Rejects when the engine cannot store it.
   */
  publish(event: NewEvent): Promise<StoredEvent>;
  /** Subscribers of one channel. */
  subscriberCount(channel: string): number;
  /** Channel memberships across all connections. */
  subscriptionCount(): number;
  /** Channels with at least one subscriber. */
  activeChannels(): Iterable<string>;
  /** Stops listening to the engine. */
  close(): void;
}

/** One subscription in a channel's fan-out. */
interface Member {
  /** The subscriber's `deliver` once the subscription is live; until then, its holding pen. */
  deliver: (event: OutgoingEvent) => void;
}

/** Creates the hub: it listens to `engine` until `close()`. */
export function createHub(engine: Engine, options: HubOptions): Hub {
  const { logger, onReset } = options;
  const channels = new Map<string, Set<Member>>();
  let memberships = 0;

  // The one fan-out path, for events published on this node or another: the event is
  // encoded at most once here, however many subscribers get it.
  const unlisten = engine.listen({
    event(stored) {
      const members = channels.get(stored.channel);
      if (members === undefined) return;
      const outgoing = new OutgoingEvent(stored);
      for (const member of members) {
        try {
          member.deliver(outgoing);
        } catch (error) {
          logger.error('delivery failed', { channel: stored.channel, error: String(error) });
        }
      }
    },
    reset: onReset,
  });

  const join = (channel: string, member: Member): (() => void) => {
    let members = channels.get(channel);
    if (members === undefined) {
      members = new Set();
      channels.set(channel, members);
    }
    if (members.has(member)) throw new Error(`already joined ${channel}`);
    members.add(member);
    memberships += 1;
    const set = members;
    let joined = true;
    return () => {
      if (!joined) return;
      joined = false;
      set.delete(member);
      memberships -= 1;
      if (set.size === 0 && channels.get(channel) === set) channels.delete(channel);
    };
  };

  const subscribe = ({ starts, subscriber, pacer, page }: SubscribeRequest): Subscription => {
    const position = engine.position();
    const live = starts.every((start) => start.since === undefined && !start.rewind);
    let active = true;
    /**
     * Live events that arrive while a page read is in flight. Between reads there is none,
     * and live events are left to the next page, which reads them from history.
     */
    let arriving: OutgoingEvent[] | undefined;
    const member: Member = {
      deliver: live ? subscriber.deliver : (event) => arriving?.push(event),
    };
    const leaves = starts.map(({ channel }) => join(channel, member));
    let stopReplay = (): void => {};
    if (!live) {
      /**
       * Where each channel's replay starts: its position, else where its rewind starts (never
       * after the join position, so that no event published since is missed), else the join
       * position. Rewinds are looked up in the first step, the only one that awaits them.
       */
      const replayStarts = () =>
        Promise.all(
          starts.map(async ({ channel, since, rewind }) => ({
            channel,
            since: since ?? (rewind ? await engine.rewind(channel, rewind, position) : position),
          })),
        );
      let cursor: ReplayCursor | undefined;
      /** The last event given to the subscriber. */
      let last: StoredEvent | undefined;
      stopReplay = pacer.add(async () => {
        arriving = [];
        let result: ReplayStep;
        try {
          cursor ??= createReplayCursor(engine, await replayStarts(), page);
          result = await cursor.step();
        } catch (error) {
          arriving = undefined;
          if (active) {
            logger.error('replay failed', { error: String(error) });
            subscriber.fail();
          }
          return true;
        }
        const arrived = arriving;
        arriving = undefined;
        if (!active) return true;
        for (const { channel, reason } of result.gaps) subscriber.gap(channel, reason);
        for (const entry of result.entries) subscriber.replay(new OutgoingEvent(entry));
        last = result.entries.at(-1) ?? last;
        // Not at the head yet: the next page holds what arrived meanwhile.
        if (!result.done) return false;
        // The page ends where the read started; what arrived since follows it, then live.
        // None of it is in the page unless the engine's position lags its listeners: skipped.
        for (const event of arrived) {
          if (last !== undefined && event.stored.seq <= last.seq) continue;
          subscriber.deliver(event);
          last = event.stored;
        }
        member.deliver = subscriber.deliver;
        subscriber.reached?.(engine.position());
        return true;
      });
    }

    return {
      position,
      leave() {
        if (!active) return;
        active = false;
        stopReplay();
        for (const leave of leaves) leave();
      },
    };
  };

  return {
    get epoch() {
      return engine.epoch;
    },
    subscribe,
    publish: (event) => engine.append(event),
    subscriberCount(channel) {
      return channels.get(channel)?.size ?? 0;
    },
    subscriptionCount() {
      return memberships;
    },
    activeChannels() {
      return channels.keys();
    },
    close: unlisten,
  };
}
