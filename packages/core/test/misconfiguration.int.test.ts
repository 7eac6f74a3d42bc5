import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client';
import { cleanup, connect, startServer, until } from './int-server';

afterEach(cleanup);

// What a newcomer's first mistakes look like against a real server, in the development build
// that Node runs: the error names the request and says what to do, and is not retried.
describe('a client pointed at the wrong place', () => {
  it('should stop with not_found naming the stream path, without its query', async () => {
    const server = await startServer();
    const wrong = server.url.replace(/\/tidewire$/, '/realtime');
    const client = connect(wrong);
    const sub = client.subscribe('feed', { since: 'e-1' });
    await until(() => sub.getSnapshot().status === 'failed');
    const error = sub.getSnapshot().error;
    expect(error).toMatchObject({ code: 'not_found', status: 404, fatal: true });
    expect(error?.message).toBe(
      `not_found 404: request to ${wrong}/sse. No Tidewire endpoint at this path: the url option is the base path the server is mounted on, without /sse or /ws.`,
    );
    expect(client.getState().sse).toMatchObject({ status: 'failed' });
  });

  it('should reject a publish with not_found naming the request', async () => {
    const server = await startServer();
    const wrong = server.url.replace(/\/tidewire$/, '/realtime');
    const client = connect(wrong);
    await expect(client.publish('feed', 1)).rejects.toMatchObject({
      name: 'PublishError',
      code: 'not_found',
      message: `not_found 404 on 'feed': POST ${wrong}/publish. No Tidewire endpoint at this path: the url option is the base path the server is mounted on, without /sse or /ws.`,
    });
  });

  it('should say to pass WebSocket when Node has none', async () => {
    const server = await startServer();
    const hadGlobal = 'WebSocket' in globalThis;
    const original = (globalThis as { WebSocket?: unknown }).WebSocket;
    (globalThis as { WebSocket?: unknown }).WebSocket = undefined;
    const client = createClient({ url: server.url });
    try {
      const sub = client.subscribe('room', { transport: 'websocket' });
      await until(() => sub.getSnapshot().status === 'failed');
      expect(sub.getSnapshot().error?.message).toBe(
        "unsupported: No WebSocket or fetch here: pass WebSocket (in Node, from the 'ws' package) or fetch in the options.",
      );
    } finally {
      client.close();
      if (hadGlobal) (globalThis as { WebSocket?: unknown }).WebSocket = original;
      else delete (globalThis as { WebSocket?: unknown }).WebSocket;
    }
  });
});
