import { afterEach, describe, expect, it } from 'vitest';
import { createBufferingProxy } from '../../../testing/buffering-proxy';
import { startNginx } from '../../../testing/nginx';
import { exponentialBackoff } from '../src/backoff';
import type { ConnectionState } from '../src/connection';
import { cleanup, connect, sleep, startServer, until } from './int-server';

// A proxy that buffers streamed responses, and no WebSocket: the client finds the stream held
// back (headers, no welcome), polls, and loses nothing. Once through a small proxy that holds
// each response body until it ends, once through a real nginx with buffering forced on.

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  await cleanup();
  for (const stop of stops.splice(0)) await stop();
});

/** The server behind a buffering front; returns the front's base URL. */
async function behind(front: 'proxy' | 'nginx') {
  const server = await startServer();
  // WebSocket is unavailable too (nginx would not forward the upgrade either).
  server.tw.setWebSocketEnabled(false);
  const upstreamPort = Number(new URL(server.url).port);
  const proxy =
    front === 'proxy'
      ? await createBufferingProxy({ targetPort: upstreamPort })
      : await startNginx(
          (port) => `
server {
  listen 127.0.0.1:${port};
  location / {
    proxy_pass http://127.0.0.1:${upstreamPort};
    proxy_buffering on;
    proxy_ignore_headers X-Accel-Buffering;
  }
}`,
        );
  stops.push(() =>
    front === 'proxy'
      ? (proxy as { close(): Promise<void> }).close()
      : (proxy as { stop(): Promise<void> }).stop(),
  );
  return { server, url: `http://127.0.0.1:${proxy.port}/tidewire` };
}

describe.each(['proxy', 'nginx'] as const)('through a buffering %s', (front) => {
  it('should poll, have every channel live within 10 s, and lose nothing', async () => {
    const { server, url } = await behind(front);
    const client = connect(url, { retryDelay: exponentialBackoff() });
    const states: ConnectionState[] = [];
    client.on('state', ({ transport, next }) => {
      if (transport === 'sse') states.push(next);
    });
    const started = Date.now();
    const quiet = client.subscribe('quiet');
    const busy = client.subscribe('busy');
    await until(
      () => quiet.getSnapshot().status === 'live' && busy.getSnapshot().status === 'live',
      15_000,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    // The stream was found held back, and said so.
    expect(states).toContainEqual(
      expect.objectContaining({
        status: 'waiting',
        error: expect.objectContaining({ code: 'buffered' }),
      }),
    );
    const got = { quiet: [] as number[], busy: [] as number[] };
    quiet.on('event', (e) => got.quiet.push(e.data as number));
    busy.on('event', (e) => got.busy.push(e.data as number));
    // About one event a millisecond on one channel, a few on the other.
    for (let n = 0; n < 300; n++) {
      server.tw.publish('busy', n);
      if (n % 50 === 0) server.tw.publish('quiet', n);
      if (n % 10 === 0) await sleep(10);
    }
    await until(() => got.busy.length >= 300 && got.quiet.length >= 6, 15_000);
    await sleep(200);
    expect(got.busy).toEqual(Array.from({ length: 300 }, (_, n) => n));
    expect(got.quiet).toEqual([0, 50, 100, 150, 200, 250]);
    expect(busy.getSnapshot()).toMatchObject({ transport: 'sse', duplicates: 0, gaps: 0 });
  });
});
