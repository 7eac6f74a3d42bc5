import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { FakeSocket, fakeSseFetch, subscribed, welcome } from './fakes';
import { fakeEnvironment } from './helpers';

// `@tidewire/core/sse` and `@tidewire/core/websocket` are the core built with the other
// transport's flag false (see src/transports.ts). Here the flag is set before a fresh import of
// the client, as the build's define does; `scripts/size.mjs` checks the bundles themselves.

const globals = globalThis as { __SSE__?: boolean; __WEBSOCKET__?: boolean };

async function clientWith(flags: { __SSE__?: boolean; __WEBSOCKET__?: boolean }) {
  Object.assign(globals, flags);
  vi.resetModules();
  const { createClient } = await import('../src/client');
  const net = fakeSseFetch();
  const client = createClient({
    url: 'http://127.0.0.1:1/tw',
    fetch: net.fetch,
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    environment: fakeEnvironment().env,
    retryDelay: () => 100,
  });
  return { client, net };
}

const tick = async () => {
  for (let i = 0; i < 6; i++) await vi.advanceTimersByTimeAsync(0);
};

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => {
  delete globals.__SSE__;
  delete globals.__WEBSOCKET__;
  vi.resetModules();
  vi.useRealTimers();
});

describe('a build with one transport', () => {
  it('should put every channel on SSE, publish by HTTP, and open no socket, without WebSocket', async () => {
    const { client, net } = await clientWith({ __WEBSOCKET__: false });
    const chat = client.subscribe('chat', { transport: 'websocket', duplex: true });
    await tick();
    expect(chat.getSnapshot().transport).toBe('sse');
    net.last().block([welcome, subscribed('chat')]);
    await tick();
    expect(chat.getSnapshot().status).toBe('live');
    await expect(client.publish('chat', { text: 'hi' })).resolves.toEqual({ id: 'p1' });
    expect(FakeSocket.all).toHaveLength(0);
    expect(client.getState().websocket.status).toBe('idle');
    client.close();
  });

  it('should put every channel on the socket, and open no stream, without SSE', async () => {
    const { client, net } = await clientWith({ __SSE__: false });
    const prices = client.subscribe('prices', { transport: 'sse' });
    await tick();
    expect(prices.getSnapshot().transport).toBe('websocket');
    FakeSocket.last().welcome();
    expect(FakeSocket.last().sent).toContainEqual({ type: 'subscribe', channel: 'prices' });
    expect(net.streams).toHaveLength(0);
    client.close();
  });
});
