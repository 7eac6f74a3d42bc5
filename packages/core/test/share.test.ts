import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TidewireError } from '../src/errors';
import { createSharedClient } from '../src/share';
import { FakeSocket } from './fakes';
import { fakeEnvironment } from './helpers';
import { fakeBrowser, fakeServer } from './share-fakes';

/** Lets messages, replies and microtasks run: 1 ms a step, as zero-delay timers set during a step wait for the next. */
const tick = async (n = 10) => {
  for (let i = 0; i < n; i++) await vi.advanceTimersByTimeAsync(1);
};
const ids = (channel: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${channel}-${from + i}`);

let server: ReturnType<typeof fakeServer>;
let browser: ReturnType<typeof fakeBrowser>;

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
  server = fakeServer();
  browser = fakeBrowser(server);
});
afterEach(async () => {
  for (const t of browser.tabs) t.client.close();
  await tick();
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

/** Publishes `count` events on a channel and lets every tab take them in. */
const publish = async (channel: string, count: number) => {
  for (let i = 0; i < count; i++) server.publish(channel);
  await tick();
};

describe('createSharedClient: election', () => {
  it('should elect one leader, connect only from it, and relay to every tab', async () => {
    const tabs = [browser.tab(), browser.tab(), browser.tab()];
    const seen = tabs.map((t) => t.record('news'));
    await tick();
    expect(tabs.map((t) => t.leader())).toEqual([true, false, false]);
    expect(server.open()).toHaveLength(1);
    await publish('news', 3);
    for (const s of seen) expect([...s]).toEqual(ids('news', 1, 3));
    expect(tabs.map((t) => t.getToken.mock.calls.length)).toEqual([1, 0, 0]);
    for (const s of seen)
      expect(s.sub.getSnapshot()).toMatchObject({
        status: 'live',
        transport: 'websocket',
        received: 3,
      });
  });

  it('should subscribe the leader to the union of the channels of all tabs', async () => {
    const [a, b, c] = [browser.tab(), browser.tab(), browser.tab()];
    a.record('one');
    const two = b.record('two');
    const three = c.record('three');
    await tick();
    expect([...server.subs.get(server.open()[0]!)!].sort()).toEqual(['one', 'three', 'two']);
    await publish('two', 1);
    await publish('three', 2);
    expect([...two]).toEqual(['two-1']);
    expect([...three]).toEqual(ids('three', 1, 2));
    three.sub.unsubscribe();
    await vi.advanceTimersByTimeAsync(1000);
    await tick();
    expect([...server.subs.get(server.open()[0]!)!].sort()).toEqual(['one', 'two']);
  });

  it('should mirror the leader’s connection state and report the role', async () => {
    const a = browser.tab();
    const b = browser.tab();
    const roles: boolean[] = [];
    b.client.on('leader', ({ leader }: { leader: boolean }) => roles.push(leader));
    b.record('news');
    await tick();
    expect(b.client.getState()).toMatchObject({ websocket: { status: 'open' }, leader: false });
    expect(b.client.getState()).toBe(b.client.getState());
    a.client.close();
    await tick();
    expect(roles).toEqual([true]);
    expect(b.client.getState()).toMatchObject({ websocket: { status: 'open' }, leader: true });
  });

  it('should never share between two keys', async () => {
    const a = browser.tab({ key: 'alice' });
    const b = browser.tab({ key: 'bob' });
    a.record('news');
    b.record('news');
    await tick();
    expect([a.leader(), b.leader()]).toEqual([true, true]);
    expect(server.open()).toHaveLength(2);
    expect(b.getToken).toHaveBeenCalled();
  });

  it('should run a connection of its own without Web Locks or BroadcastChannel', async () => {
    const f = fakeEnvironment();
    for (const environment of [{ locks: undefined }, { BroadcastChannel: undefined }]) {
      const client = createSharedClient<Record<string, number>>({
        url: 'http://127.0.0.1:1/tw',
        WebSocket: server.Socket,
        transport: 'websocket',
        environment: f.env,
        share: { key: 'k', environment },
      });
      const seen: number[] = [];
      client.subscribe('solo').on('event', (e) => seen.push(e.data));
      await tick();
      expect(client.getState().leader).toBe(true);
      const first = server.publish('solo');
      await publish('solo', 1);
      expect(seen).toEqual([Number(first.slice(5)), Number(first.slice(5)) + 1]);
      client.close();
      await tick();
    }
    expect(server.sockets).toHaveLength(2);
  });
});

describe('createSharedClient: handovers', () => {
  it('should hand over when the leader closes, losing and repeating nothing', async () => {
    const [a, b, c] = [browser.tab(), browser.tab(), browser.tab()];
    const seen = [b, c].map((t) => t.record('news'));
    a.record('news');
    await tick();
    await publish('news', 3);
    a.client.close();
    server.publish('news');
    server.publish('news');
    await tick();
    expect(b.leader()).toBe(true);
    await publish('news', 2);
    for (const s of seen) expect([...s]).toEqual(ids('news', 1, 7));
    expect(server.open()).toHaveLength(1);
    expect(b.getToken).toHaveBeenCalledTimes(1);
  });

  it('should catch a tab up from the new leader’s log when it was behind', async () => {
    const [a, b, c] = [browser.tab(), browser.tab(), browser.tab()];
    const seenB = b.record('news');
    const seenC = c.record('news');
    await tick();
    await publish('news', 3);
    c.hold();
    await publish('news', 2);
    // The old leader's last batches never reach c: it is behind b, which takes over.
    c.discard();
    a.client.close();
    await tick();
    expect(b.leader()).toBe(true);
    await publish('news', 1);
    expect([...seenB]).toEqual(ids('news', 1, 6));
    expect([...seenC]).toEqual(ids('news', 1, 6));
  });

  it('should let a tab ahead of the new leader skip what it already has', async () => {
    const [a, b, c] = [browser.tab(), browser.tab(), browser.tab()];
    const seenB = b.record('news');
    const seenC = c.record('news');
    await tick();
    await publish('news', 3);
    b.hold();
    await publish('news', 2);
    // b takes over from news-3, which c has passed: c must not take news-4 and news-5 again.
    b.discard();
    a.client.close();
    await tick();
    await publish('news', 1);
    expect(b.leader()).toBe(true);
    expect([...seenB]).toEqual(ids('news', 1, 6));
    expect([...seenC]).toEqual(ids('news', 1, 6));
  });

  it('should ignore what a deposed leader still sends', async () => {
    const [a, b] = [browser.tab(), browser.tab()];
    a.record('news');
    const seen = b.record('news');
    await tick();
    await publish('news', 2);
    b.hold();
    await publish('news', 2);
    a.client.close();
    await vi.advanceTimersByTimeAsync(0);
    // b reads a's last batch only after it leads: it must not take it on top of its own replay.
    b.release();
    await tick();
    await publish('news', 1);
    expect([...seen]).toEqual(ids('news', 1, 5));
  });

  it('should notice lost messages and catch up from the leader’s log', async () => {
    const [a, b] = [browser.tab(), browser.tab()];
    a.record('news');
    const seen = b.record('news');
    await tick();
    await publish('news', 2);
    b.deafen();
    await publish('news', 3);
    b.hearAgain();
    await publish('news', 1);
    await tick();
    await publish('news', 1);
    expect([...seen]).toEqual(ids('news', 1, 7));
    expect(seen.sub.getSnapshot().gaps).toBe(0);
  });

  it('should find the leader again after missing its lead', async () => {
    const [a, b, c] = [browser.tab(), browser.tab(), browser.tab()];
    const seen = c.record('news');
    await tick();
    await publish('news', 1);
    c.deafen();
    a.client.close();
    await tick();
    await publish('news', 2);
    c.hearAgain();
    await vi.advanceTimersByTimeAsync(1600);
    await tick();
    await publish('news', 1);
    expect(b.leader()).toBe(true);
    expect(browser.locks.steals).toHaveLength(0);
    expect([...seen]).toEqual(ids('news', 1, 4));
  });

  it('should raise a gap for a position the leader cannot place, and go on', async () => {
    const a = browser.tab();
    a.record('news');
    await tick();
    await publish('news', 3);
    const b = browser.tab();
    const seen = b.record('news', 'news-from-elsewhere');
    await tick();
    await publish('news', 1);
    expect([...seen]).toEqual(['gap', 'news-4']);
    expect(seen.sub.getSnapshot().gaps).toBe(1);
  });

  it('should resume a new tab from a position in the leader’s log', async () => {
    const a = browser.tab();
    a.record('news');
    await tick();
    await publish('news', 5);
    const b = browser.tab();
    const seen = b.record('news', 'news-2');
    await tick();
    await publish('news', 1);
    expect([...seen]).toEqual(ids('news', 3, 6));
  });

  it('should end catching up with a gap when the server cannot replay', async () => {
    const [a, b, c] = [browser.tab(), browser.tab(), browser.tab()];
    const seenB = b.record('news');
    const seenC = c.record('news');
    await tick();
    await publish('news', 3);
    b.hold();
    await publish('news', 2);
    b.discard();
    server.trim('news');
    a.client.close();
    await tick();
    await publish('news', 1);
    expect([...seenB]).toEqual([...ids('news', 1, 3), 'gap', 'news-6']);
    expect([...seenC]).toEqual([...ids('news', 1, 5), 'gap', 'news-6']);
  });

  it('should replace a hung leader within 5 s, and make it step down when it runs again', async () => {
    const [a, b, c] = [browser.tab(), browser.tab(), browser.tab()];
    const seen = [b, c].map((t) => t.record('news'));
    await tick();
    await publish('news', 2);
    a.freeze();
    await publish('news', 2);
    const frozenAt = Date.now();
    for (let i = 0; i < 50 && !b.leader() && !c.leader(); i++)
      await vi.advanceTimersByTimeAsync(100);
    expect(Date.now() - frozenAt).toBeLessThanOrEqual(5000);
    expect(browser.locks.steals).toHaveLength(1);
    await publish('news', 1);
    a.thaw();
    await tick();
    expect(a.leader()).toBe(false);
    await publish('news', 1);
    for (const s of seen) expect([...s]).toEqual(ids('news', 1, 6));
    expect(server.open()).toHaveLength(1);
  });

  it('should back off between steals, and never steal from a hidden tab', async () => {
    const a = browser.tab();
    const b = browser.tab();
    await tick();
    // A leader that keeps taking the lock back: b's steals are spaced 5 s, 10 s, 20 s apart.
    const wedged = () =>
      browser.locks
        .force('tidewire:share:http://127.0.0.1:1/tw:user-1', () => new Promise(() => {}))
        .catch(() => {});
    a.client.close();
    await tick();
    expect(b.leader()).toBe(true);
    for (let i = 0; i < 3; i++) {
      wedged();
      await tick();
      expect(b.leader()).toBe(false);
      const before = browser.locks.steals.length;
      for (let t = 0; t < 40_000 && browser.locks.steals.length === before; t += 100)
        await vi.advanceTimersByTimeAsync(100);
    }
    const s = browser.locks.steals.filter((_, i) => i % 2 === 1);
    expect(s[1]! - s[0]!).toBeGreaterThanOrEqual(5000);
    expect(s[2]! - s[1]!).toBeGreaterThanOrEqual(10_000);
    // Hidden: no steal however long the silence.
    b.env.state.visible = false;
    wedged();
    const before = browser.locks.steals.length;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(browser.locks.steals.length).toBe(before);
  });

  it('should not take over on the first round after its own stall', async () => {
    const [a, b] = [browser.tab(), browser.tab()];
    await tick();
    a.freeze();
    // Frozen, a would not run at all: here its timers do, so it must not take the lead back.
    a.env.state.visible = false;
    // b's own timers were late by 10 s (a frozen or throttled tab): its messages may be unread yet.
    vi.setSystemTime(Date.now() + 10_000);
    await vi.advanceTimersByTimeAsync(1500);
    expect(browser.locks.steals).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(browser.locks.steals).toHaveLength(1);
    expect(b.leader()).toBe(true);
    a.thaw();
    await tick();
    expect(a.leader()).toBe(false);
  });

  it('should release the lead on pagehide and rejoin on pageshow, catching up', async () => {
    const [a, b] = [browser.tab(), browser.tab()];
    const seenA = a.record('news');
    const seenB = b.record('news');
    await tick();
    await publish('news', 2);
    a.hide();
    await tick();
    expect([a.leader(), b.leader()]).toEqual([false, true]);
    await publish('news', 3);
    a.show();
    await tick();
    await publish('news', 1);
    expect([a.leader(), b.leader()]).toEqual([false, true]);
    expect([...seenA]).toEqual(ids('news', 1, 6));
    expect([...seenB]).toEqual(ids('news', 1, 6));
    expect(server.open()).toHaveLength(1);
  });
});

describe('createSharedClient: tabs that end without a goodbye', () => {
  /** The channels the leader's socket is subscribed to on the server. */
  const subscribed = () => [...server.subs.get(server.open()[0]!)!].sort();

  it('should let go of the channels of a tab that crashed, once the browser frees its lock', async () => {
    const [a, b] = [browser.tab(), browser.tab()];
    const shared = a.record('shared');
    b.record('shared');
    b.record('mine');
    await tick();
    expect(a.leader()).toBe(true);
    expect(subscribed()).toEqual(['mine', 'shared']);
    b.crash();
    await tick();
    expect(subscribed()).toEqual(['shared']);
    await publish('shared', 2);
    expect([...shared]).toEqual(ids('shared', 1, 2));
  });

  it('should keep the channels of a tab that hangs, which still holds its lock', async () => {
    const [a, b] = [browser.tab(), browser.tab()];
    a.record('shared');
    b.record('mine');
    await tick();
    b.freeze();
    await tick(3000);
    expect(a.leader()).toBe(true);
    expect(subscribed()).toEqual(['mine', 'shared']);
    b.thaw();
  });
});

describe('createSharedClient: publishing and closing', () => {
  it('should refuse options without a share key (development build)', () => {
    expect(() => createSharedClient({ url: 'http://127.0.0.1:1/tw', share: {} as never })).toThrow(
      'share.key must be a string',
    );
  });

  it('should relay publishes to the leader and their acknowledgements back', async () => {
    const [a, b] = [browser.tab(), browser.tab()];
    const seen = a.record('chat');
    await tick();
    const result = b.client.publish('chat', 1);
    await tick();
    await expect(result).resolves.toEqual({ id: 'chat-1' });
    expect([...seen]).toEqual(['chat-1']);
    expect(b.getToken).not.toHaveBeenCalled();
  });

  it('should fail unanswered publishes with unconfirmed at a handover', async () => {
    const [a, b, c] = [browser.tab(), browser.tab(), browser.tab()];
    c.record('chat');
    await tick();
    server.silent.add('chat');
    const result = c.client.publish('chat', 1);
    const caught = result.catch((e: TidewireError) => e.code);
    await tick();
    a.client.close();
    await tick();
    expect(b.leader()).toBe(true);
    expect(await caught).toBe('unconfirmed');
    server.silent.clear();
    const next = c.client.publish('chat', 2);
    await tick();
    await expect(next).resolves.toEqual({ id: 'chat-1' });
  });

  it('should close every tab of the group on closeGroup()', async () => {
    const tabs = [browser.tab(), browser.tab(), browser.tab()];
    const subs = tabs.map((t) => t.record('news').sub);
    const other = browser.tab({ key: 'someone-else' });
    other.record('news');
    await tick();
    tabs[1]!.client.closeGroup();
    await tick();
    for (const s of subs) expect(s.getSnapshot().status).toBe('closed');
    for (const t of tabs) expect(() => t.client.subscribe('news')).toThrow('client_closed');
    expect(other.leader()).toBe(true);
    expect(server.open()).toHaveLength(1);
  });
});
