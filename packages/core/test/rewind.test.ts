import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Client, createClient } from '../src/client';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { FakeSocket, fakeSseFetch, welcome } from './fakes';
import { fakeEnvironment } from './helpers';

const tick = async (n = 6) => {
  for (let i = 0; i < n; i++) await vi.advanceTimersByTimeAsync(0);
};

let client: Client | undefined;
let net: ReturnType<typeof fakeSseFetch>;

function make() {
  net = fakeSseFetch();
  client = createClient({
    url: 'http://127.0.0.1:1/tw',
    fetch: net.fetch,
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    environment: fakeEnvironment().env,
    retryDelay: () => 100,
  });
  return client;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => {
  client?.close();
  vi.useRealTimers();
});

describe('rewind', () => {
  it('should ask an SSE stream for the newest events of a channel without a position', async () => {
    const client = make();
    client.subscribe('prices', { rewind: 10 });
    client.subscribe('news', { rewind: 5, since: 'e-3' });
    client.subscribe('chat');
    await tick();
    expect(net.last().channels).toEqual(['prices~10', 'news@e-3', 'chat']);
  });

  it('should ask over WebSocket, and resume from a position once the channel has one', async () => {
    const client = make();
    client.subscribe('room', { rewind: 3, transport: 'websocket' });
    await tick();
    const socket = FakeSocket.last();
    socket.welcome();
    expect(socket.sent).toContainEqual({ type: 'subscribe', channel: 'room', rewind: 3 });
    socket.receive({ type: 'subscribed', channel: 'room', position: 'e-9' });
    socket.drop(1006);
    await vi.advanceTimersByTimeAsync(150);
    await tick();
    const again = FakeSocket.last();
    expect(again).not.toBe(socket);
    again.welcome();
    // The position wins: the server replays after it, never the last three again.
    expect(again.sent).toContainEqual({
      type: 'subscribe',
      channel: 'room',
      since: 'e-9',
      rewind: 3,
    });
  });

  it('should refuse a rewind that is not a whole number, naming the channel', () => {
    const client = make();
    expect(() => client.subscribe('prices', { rewind: -1 })).toThrow(
      "invalid_options on 'prices': rewind must be a whole number of events from 0, got -1",
    );
    expect(() => client.subscribe('prices', { rewind: 1.5 })).toThrow(/got 1.5/);
  });

  it('should reconnect an SSE stream from the position the server gave', async () => {
    const client = make();
    client.subscribe('prices', { rewind: 10 });
    await tick();
    net.last().push(welcome);
    net.last().push({ type: 'subscribed', channel: 'prices', position: 'e-4' });
    net.last().end();
    await vi.advanceTimersByTimeAsync(150);
    await tick();
    expect(net.last().channels).toEqual(['prices@e-4']);
  });
});
