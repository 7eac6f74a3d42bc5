import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Client, type ClientOptions, createClient } from '../src/client';
import type { InspectRecord } from '../src/inspect';
import { openStream } from '../src/stream';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { event, FakeSocket, fakeSseFetch, subscribed, welcome } from './fakes';
import { fakeEnvironment } from './helpers';

// Tests run the development build (src/dev.ts): options are checked when a client is created,
// and the logger hears every decision. scripts/check-packages.mjs checks the production build
// carries none of it.

const tick = async (n = 6) => {
  for (let i = 0; i < n; i++) await vi.advanceTimersByTimeAsync(0);
};

const attempt = (options: unknown) => {
  try {
    createClient(options as ClientOptions).close();
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('createClient accepted the options');
};

describe('options checked at construction', () => {
  it('should refuse a missing options object or url, naming what it expects', () => {
    expect(attempt(undefined)).toMatchObject({
      name: 'TidewireError',
      code: 'invalid_options',
      fatal: true,
      message:
        "invalid_options: createClient takes an options object, e.g. createClient({ url: 'https://api.example.com/tidewire' })",
    });
    expect(attempt({}).message).toBe(
      "invalid_options: url must be a URL string, e.g. 'https://api.example.com/tidewire', got undefined",
    );
  });

  it('should refuse a WebSocket URL and other schemes', () => {
    expect(attempt({ url: 'ws://example.com/tw' }).message).toBe(
      "invalid_options: url must be an http:// or https:// URL (the WebSocket URL is derived from it), got 'ws://example.com/tw'",
    );
    expect(attempt({ url: 'ftp://example.com/tw' }).message).toContain(
      'url must be a URL starting with http:// or https://',
    );
  });

  it('should refuse a relative URL outside a browser when it connects, not when it is created', async () => {
    vi.stubGlobal('location', undefined);
    vi.useFakeTimers();
    try {
      // Server rendering creates clients it never connects: that must not throw.
      const client = createClient({
        url: '/tidewire?token=secret',
        environment: fakeEnvironment().env,
      });
      const sub = client.subscribe('prices');
      await tick();
      expect(sub.getSnapshot()).toMatchObject({ status: 'failed' });
      const message = sub.getSnapshot().error?.message;
      expect(message).toBe(
        "invalid_options: url must be an absolute URL outside a browser (there is no page to resolve it against), e.g. 'http://localhost:8080/tidewire', got '/tidewire'",
      );
      await expect(client.publish('alerts', 1)).rejects.toMatchObject({
        name: 'PublishError',
        code: 'invalid_options',
      });
      client.close();
      expect(() => openStream('/feed')).toThrow(
        'openStream(url) must be an absolute URL outside a browser',
      );
    } finally {
      vi.useRealTimers();
      vi.unstubAllGlobals();
    }
    // In a page the same URL is fine.
    expect(() => createClient({ url: '/tidewire' }).close()).not.toThrow();
  });

  it('should name an option of the wrong kind, never showing a value given for a function', () => {
    const url = 'https://example.com/tw';
    expect(attempt({ url, transport: 'polling' }).message).toBe(
      "invalid_options: transport must be 'auto', 'sse' or 'websocket', got 'polling'",
    );
    expect(attempt({ url, connectTimeout: -1 }).message).toBe(
      'invalid_options: connectTimeout must be a number of milliseconds from 0 to 2147483647, got -1',
    );
    expect(attempt({ url, maxQueue: 0 }).message).toBe(
      'invalid_options: maxQueue must be a whole number above 0, got 0',
    );
    const error = attempt({ url, getToken: 'secret-token' });
    expect(error.message).toBe('invalid_options: getToken must be a function, got string');
    expect(error.message).not.toContain('secret');
  });

  it('should check openStream too', () => {
    expect(() =>
      openStream('wss://example.com/feed', { transport: 'websocket' }).close(),
    ).not.toThrow();
    expect(() => openStream('ftp://example.com/feed')).toThrow(
      'openStream(url) must be a URL starting with http:// or https:// or ws:// or wss://',
    );
    expect(() => openStream('https://example.com/feed', { stableAfter: Number.NaN })).toThrow(
      'stableAfter must be a number of milliseconds',
    );
  });
});

describe('what errors say', () => {
  it('should tell how to fix a missing WebSocket', async () => {
    vi.useFakeTimers();
    const f = fakeEnvironment();
    const client = createClient({
      url: 'http://127.0.0.1:1/tw',
      environment: f.env,
      transport: 'websocket',
    });
    vi.stubGlobal('WebSocket', undefined);
    try {
      client.subscribe('chat');
      await tick();
      const state = client.getState().websocket;
      expect(state.status).toBe('failed');
      expect(state.status === 'failed' && state.error.message).toBe(
        "unsupported: No WebSocket or fetch here: pass WebSocket (in Node, from the 'ws' package) or fetch in the options.",
      );
    } finally {
      client.close();
      vi.unstubAllGlobals();
      vi.useRealTimers();
    }
  });
});

describe('decision logs', () => {
  let client: Client<Record<string, unknown>> | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => {
    client?.close();
    vi.useRealTimers();
  });

  it('should log subscriptions, placements, resume positions, gaps, tokens and publishes, never a token', async () => {
    const logs: string[] = [];
    const net = fakeSseFetch();
    const f = fakeEnvironment();
    client = createClient({
      url: 'http://127.0.0.1:1/tw',
      fetch: net.fetch,
      WebSocket: FakeSocket as unknown as WebSocketConstructor,
      getToken: () => 'secret-token',
      environment: f.env,
      retryDelay: () => 100,
      logger: (message) => logs.push(message),
    });
    const prices = client.subscribe('prices', { since: 'e-5' });
    const chat = client.subscribe('chat', { duplex: true });
    await tick();
    net.last().push(welcome);
    net.last().push({ type: 'gap', channel: 'prices', reason: 'trimmed' });
    FakeSocket.last().welcome();
    FakeSocket.last().receive(subscribed('chat'));
    FakeSocket.last().receive(event('chat', 'e-7'));
    const published = client.publish('chat', { text: 'hi' });
    await tick();
    FakeSocket.last().receive({ type: 'ack', ref: '1', id: 'e-8' });
    await published;
    await tick();
    prices.unsubscribe();
    chat.unsubscribe();
    const text = logs.join('\n');
    for (const line of [
      'tidewire: subscribe prices',
      'tidewire: prices on sse (subscribe)',
      'tidewire: chat on websocket (subscribe)',
      'tidewire: token asked (connect, attempt 0)',
      'tidewire: prices joins on sse after e-5',
      'tidewire: chat joins on websocket',
      'tidewire: prices gap (trimmed)',
      'tidewire: published on chat: e-8',
      'tidewire: unsubscribe prices',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).not.toContain('secret-token');
  });

  it('should log to the console with debug', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    client = createClient({
      url: 'http://127.0.0.1:1/tw',
      fetch: fakeSseFetch().fetch,
      environment: fakeEnvironment().env,
      debug: true,
    });
    client.subscribe('prices');
    expect(info).toHaveBeenCalledWith('tidewire: subscribe prices', {
      type: 'subscribe',
      channel: 'prices',
      options: {},
    });
  });
});

describe('inspection records', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => vi.useRealTimers());

  it('should record decisions and frames, in order, stamped by the client clock, with no token', async () => {
    const net = fakeSseFetch();
    const f = fakeEnvironment();
    const client = createClient({
      url: 'http://127.0.0.1:1/tw',
      fetch: net.fetch,
      WebSocket: FakeSocket as unknown as WebSocketConstructor,
      getToken: () => 'secret-token',
      environment: f.env,
      retryDelay: () => 100,
      fallback: { after: 1, ttl: 60_000 },
    });
    const records: InspectRecord[] = [];
    const off = client.on('inspect', (record) => records.push(record));
    client.subscribe('room', { duplex: true });
    await tick();
    // The socket fails before it opens: 'auto' moves the duplex channel to SSE.
    FakeSocket.last().drop(1006);
    // The move continues the client's one retry schedule: SSE waits out the current delay.
    await vi.advanceTimersByTimeAsync(150);
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('room'));
    net.last().push(event('room', 'e-1'));
    await tick();
    off();
    client.close();
    const kinds = records.map((record) => record.type);
    expect(kinds.slice(0, 3)).toEqual(['subscribe', 'placement', 'state']);
    expect(records).toContainEqual(
      expect.objectContaining({
        type: 'placement',
        channel: 'room',
        from: undefined,
        to: 'websocket',
        reason: 'subscribe',
      }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ type: 'token', reason: 'connect', attempt: 0 }),
    );
    const fallback = records.find((record) => record.type === 'fallback');
    expect(fallback).toMatchObject({ transport: 'websocket', reason: 'network' });
    expect(fallback?.type === 'fallback' && fallback.until).toBe(fallback!.at + 60_000);
    expect(records).toContainEqual(
      expect.objectContaining({
        type: 'placement',
        channel: 'room',
        from: 'websocket',
        to: 'sse',
        reason: 'websocket: network',
      }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({
        type: 'join',
        channel: 'room',
        transport: 'sse',
        since: undefined,
      }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({
        type: 'frame',
        transport: 'sse',
        frame: expect.objectContaining({ type: 'event', id: 'e-1' }),
      }),
    );
    expect(records.every((record) => typeof record.at === 'number')).toBe(true);
    expect(JSON.stringify(records)).not.toContain('secret-token');
  });
});
