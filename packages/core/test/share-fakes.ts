import { vi } from 'vitest';
import type { ServerFrame } from '../src/protocol';
import {
  type BroadcastChannelLike,
  createSharedClient,
  type LockManagerLike,
  type SharedClient,
  type SharedClientOptions,
} from '../src/share';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { FakeSocket } from './fakes';
import { fakeEnvironment } from './helpers';

const abortError = () => new DOMException('The request was aborted', 'AbortError');

interface Entry {
  callback: () => Promise<void> | undefined;
  resolve(value?: unknown): void;
  reject(error: unknown): void;
}

/**
 * `navigator.locks` for many tabs of one realm, after the Web Locks spec: exclusive locks granted
 * in request order, a queued request aborted by its signal, and `steal` taking the lock at once
 * (the holder's request rejects with `AbortError`).
 */
export function fakeLocks() {
  const held = new Map<string, Entry>();
  const queues = new Map<string, Entry[]>();
  /** When each steal was asked for (fake clock). */
  const steals: number[] = [];
  const grant = (name: string, entry: Entry) => {
    held.set(name, entry);
    Promise.resolve()
      .then(() => entry.callback())
      .then(
        () => entry.resolve(),
        (error) => entry.reject(error),
      )
      .finally(() => {
        if (held.get(name) !== entry) return;
        held.delete(name);
        const next = queues.get(name)?.shift();
        if (next) grant(name, next);
      });
  };
  const locks: LockManagerLike = {
    request(name, options, callback) {
      return new Promise((resolve, reject) => {
        const entry: Entry = { callback, resolve, reject };
        if (options.steal) {
          steals.push(Date.now());
          held.get(name)?.reject(abortError());
          return grant(name, entry);
        }
        if (options.signal?.aborted) return reject(abortError());
        if (!held.has(name)) return grant(name, entry);
        const queue = queues.get(name) ?? [];
        queues.set(name, queue);
        queue.push(entry);
        options.signal?.addEventListener('abort', () => {
          const i = queue.indexOf(entry);
          if (i < 0) return;
          queue.splice(i, 1);
          reject(abortError());
        });
      });
    },
  };
  /** Frees a lock whatever its holder does, as the browser does when the holder's tab crashes. */
  const drop = (name: string) => {
    if (!held.delete(name)) return;
    const next = queues.get(name)?.shift();
    if (next) grant(name, next);
  };
  /** Takes the lock from its holder for `callback`, as a misbehaving tab would. */
  const force = (name: string, callback: () => Promise<void>) =>
    locks.request(name, { steal: true }, callback);
  return { locks, held, queues, steals, force, drop };
}

/** A Tidewire server over FakeSockets: history per channel, replay after `since`, publish acks. */
export function fakeServer() {
  const history = new Map<string, string[]>();
  const sockets: ServerSocket[] = [];
  const subs = new Map<ServerSocket, Set<string>>();
  /** Channels whose publishes are never acknowledged. */
  const silent = new Set<string>();
  let trimmed = 0;
  const handle = (s: ServerSocket, f: Record<string, string>) => {
    if (s.readyState !== 1) return;
    const c = f.channel!;
    if (f.type === 'subscribe') {
      subs.get(s)!.add(c);
      const h = history.get(c) ?? [];
      const since = f.since;
      const i = since === undefined ? h.length : since === `${c}-0` ? 0 : h.indexOf(since) + 1;
      s.receive({ type: 'subscribed', channel: c, position: h.at(-1) ?? `${c}-0` });
      if (i === 0 && since !== undefined && since !== `${c}-0`)
        s.receive({ type: 'gap', channel: c, reason: 'trimmed' });
      for (const id of h.slice(i)) s.receive(event(c, id));
    } else if (f.type === 'unsubscribe') subs.get(s)!.delete(c);
    else if (f.type === 'publish' && !silent.has(c))
      s.receive({ type: 'ack', ref: f.ref!, id: publish(c) });
  };
  class ServerSocket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
      subs.set(this, new Set());
      setTimeout(() => this.readyState === 0 && this.welcome(), 0);
    }
    override send(data: string) {
      super.send(data);
      setTimeout(() => handle(this, JSON.parse(data)), 0);
    }
  }
  const event = (channel: string, id: string): ServerFrame => ({
    type: 'event',
    channel,
    id,
    event: 'message',
    data: Number(id.slice(channel.length + 1)),
  });
  /** Publishes the channel's next event (data: its number) to every subscribed socket. */
  const publish = (channel: string) => {
    const h = history.get(channel) ?? [];
    history.set(channel, h);
    const id = `${channel}-${h.length + trimmed + 1}`;
    h.push(id);
    for (const s of sockets)
      if (s.readyState === 1 && subs.get(s)!.has(channel)) s.receive(event(channel, id));
    return id;
  };
  /** Forgets a channel's history, as a server whose history was cut. */
  const trim = (channel: string) => {
    trimmed += history.get(channel)?.length ?? 0;
    history.set(channel, []);
  };
  const open = () => sockets.filter((s) => s.readyState === 1);
  return {
    Socket: ServerSocket as unknown as WebSocketConstructor,
    sockets,
    open,
    publish,
    trim,
    silent,
    subs,
  };
}

type Server = ReturnType<typeof fakeServer>;

/**
 * Tabs of one browser profile: a shared lock manager and BroadcastChannel, each tab with its own
 * clock-driven environment, page events and a bus it can hold (a lagging or frozen tab).
 */
export function fakeBrowser(server: Server) {
  const { locks, ...lockState } = fakeLocks();
  const buses = new Set<TabBus>();
  let n = 0;
  const tabs: { client: SharedClient<Record<string, number>> }[] = [];

  class TabBus implements BroadcastChannelLike {
    onmessage: ((event: { data: never }) => void) | null = null;
    closed = false;
    constructor(
      readonly name: string,
      readonly tab: TabState,
    ) {
      buses.add(this);
    }
    postMessage(message: unknown) {
      if (this.closed) throw new DOMException('closed', 'InvalidStateError');
      const data = structuredClone(message);
      if (this.tab.frozen) this.tab.outbox.push(data);
      else this.send(data);
    }
    send(data: unknown) {
      for (const b of buses)
        if (b !== this && b.name === this.name) setTimeout(() => b.take(data), 0);
    }
    take(data: unknown) {
      if (this.closed || this.tab.deaf) return;
      if (this.tab.frozen || this.tab.holding) this.tab.inbox.push([this, data]);
      else this.onmessage?.({ data: data as never });
    }
    close() {
      this.closed = true;
      buses.delete(this);
    }
  }

  interface TabState {
    frozen: boolean;
    holding: boolean;
    deaf: boolean;
    inbox: [TabBus, unknown][];
    outbox: unknown[];
    bus?: TabBus;
  }

  function tab(options: Partial<SharedClientOptions> & { key?: string } = {}) {
    const id = ++n;
    const f = fakeEnvironment();
    let r = 0;
    const state: TabState = {
      frozen: false,
      holding: false,
      deaf: false,
      inbox: [],
      outbox: [],
    };
    const page = new EventTarget();
    const getToken = vi.fn(() => 'tok');
    /** The locks this tab holds now (its callback's promise has not settled). */
    const mine = new Set<string>();
    const tabLocks: LockManagerLike = {
      request: (name, options, callback) =>
        locks.request(name, options, () => {
          mine.add(name);
          const result = callback();
          void Promise.resolve(result).finally(() => mine.delete(name));
          return result;
        }),
    };
    const { key = 'user-1', ...rest } = options;
    const client = createSharedClient<Record<string, number>>({
      url: 'http://127.0.0.1:1/tw/',
      WebSocket: server.Socket,
      transport: 'websocket',
      getToken,
      retryDelay: () => 50,
      environment: { ...f.env, random: () => ((id * 7919 + ++r * 104729) % 999983) / 999983 },
      share: {
        key,
        environment: {
          locks: tabLocks,
          BroadcastChannel: class extends TabBus {
            constructor(name: string) {
              super(name, state);
              state.bus = this;
            }
          },
          window: page as never,
        },
      },
      ...rest,
    });
    const deliver = () => {
      for (const [bus, data] of state.inbox.splice(0)) bus.take(data);
    };
    const t = {
      id,
      client,
      getToken,
      env: f,
      page,
      leader: () => client.getState().leader,
      /** Records the ids a subscription delivers, and its gaps as `gap`. */
      record(channel: string, since?: string) {
        const seen: string[] = [];
        const sub = client.subscribe(channel, { since });
        sub.on('event', (e) => seen.push(e.id));
        sub.on('gap', () => seen.push('gap'));
        return Object.assign(seen, { sub });
      },
      /** Messages to this tab wait (a tab that is slow to read them). */
      hold() {
        state.holding = true;
      },
      /** Drops what waits, and reads again. */
      discard() {
        state.inbox.length = 0;
        state.holding = false;
      },
      release() {
        state.holding = false;
        deliver();
      },
      /** Messages to this tab are lost, as Chromium does to a page paused meanwhile. */
      deafen() {
        state.deaf = true;
      },
      hearAgain() {
        state.deaf = false;
      },
      /** Neither reads nor sends (a paused main thread); its timers still run. */
      freeze() {
        state.frozen = true;
      },
      thaw() {
        state.frozen = false;
        for (const data of state.outbox.splice(0)) state.bus?.send(data);
        deliver();
      },
      /**
       * The tab's renderer crashes: it neither reads nor sends again (its timers still run, to
       * no effect), and the browser frees the locks it held, without a `pagehide`.
       */
      crash() {
        state.frozen = true;
        state.deaf = true;
        for (const name of mine) lockState.drop(name);
        mine.clear();
      },
      hide() {
        const e = Object.assign(new Event('pagehide'), { persisted: true });
        page.dispatchEvent(e);
      },
      show() {
        const e = Object.assign(new Event('pageshow'), { persisted: true });
        page.dispatchEvent(e);
      },
    };
    tabs.push(t);
    return t;
  }
  return { tab, tabs, locks: lockState, buses };
}
