import type { Logger } from './logger.js';
import type { SseFrame } from './sse-blocks.js';
import type { HistoryEntry, HistoryStore, NewEvent } from './store/history-store.js';
import { textFrame } from './websocket-frames.js';
import type { WsFrame } from './websocket-messages.js';

/**
 * One event on its way out, with each wire form encoded at most once however
 * many subscribers receive it: a subscriber queues a reference to it, and its
 * connection joins the pieces it needs when the tick ends.
 */
export class OutgoingEvent implements WsFrame, SseFrame {
  readonly entry: HistoryEntry;
  #json: Buffer | undefined;
  #wsMessage: Buffer | undefined;
  #sseData: Buffer | undefined;
  #sseId: Buffer | undefined;
  #sseBlock: Buffer | undefined;

  constructor(entry: HistoryEntry) {
    this.entry = entry;
  }

  /** The `event` frame's JSON in UTF-8. */
  get json(): Buffer {
    this.#json ??= Buffer.from(this.entry.frame);
    return this.#json;
  }

  /** The `event` frame alone as a complete WebSocket text message, header included. */
  get wsMessage(): Buffer {
    this.#wsMessage ??= textFrame(this.entry.frame);
    return this.#wsMessage;
  }

  /** The `data:` line of the SSE stream. */
  get sseData(): Buffer {
    this.#sseData ??= Buffer.from(`data: ${this.entry.frame}\n`);
    return this.#sseData;
  }

  /** The `id:` line of the SSE stream. */
  get sseId(): Buffer {
    this.#sseId ??= Buffer.from(`id: ${this.entry.id}\n`);
    return this.#sseId;
  }

  /** The event alone as a complete SSE block. */
  get sseBlock(): Buffer {
    this.#sseBlock ??= Buffer.from(`data: ${this.entry.frame}\nid: ${this.entry.id}\n\n`);
    return this.#sseBlock;
  }
}

/** A connection's side of a channel membership. */
export interface Subscriber {
  deliver(event: OutgoingEvent): void;
}

/** Channels, their subscribers and fan-out. */
export interface Hub {
  readonly store: HistoryStore;
  /** Adds `subscriber` to `channel`'s live fan-out. Returns its disposer. */
  join(channel: string, subscriber: Subscriber): () => void;
  /** Stores an event and delivers it to every subscriber of its channel. */
  publish(event: NewEvent): HistoryEntry;
  /** Subscribers of one channel. */
  subscriberCount(channel: string): number;
  /** Channel memberships across all connections. */
  subscriptionCount(): number;
  /** Channels with at least one subscriber. */
  activeChannels(): Iterable<string>;
}

/** Creates the hub over a history store. */
export function createHub(store: HistoryStore, logger: Logger): Hub {
  const channels = new Map<string, Set<Subscriber>>();
  let memberships = 0;

  return {
    store,
    join(channel, subscriber) {
      let set = channels.get(channel);
      if (set === undefined) {
        set = new Set();
        channels.set(channel, set);
      }
      if (set.has(subscriber)) throw new Error(`already joined ${channel}`);
      set.add(subscriber);
      memberships += 1;
      const members = set;
      let joined = true;
      return () => {
        if (!joined) return;
        joined = false;
        members.delete(subscriber);
        memberships -= 1;
        if (members.size === 0 && channels.get(channel) === members) channels.delete(channel);
      };
    },
    publish(event) {
      const entry = store.append(event);
      const set = channels.get(event.channel);
      if (set === undefined) return entry;
      const outgoing = new OutgoingEvent(entry);
      for (const subscriber of set) {
        try {
          subscriber.deliver(outgoing);
        } catch (error) {
          logger.error('delivery failed', { channel: event.channel, error: String(error) });
        }
      }
      return entry;
    },
    subscriberCount(channel) {
      return channels.get(channel)?.size ?? 0;
    },
    subscriptionCount() {
      return memberships;
    },
    activeChannels() {
      return channels.keys();
    },
  };
}
