// The single-node nginx configuration of docs/deploying.md ("## nginx"), run as the guide gives
// it: read from the Markdown, with only its listen, HTTP/2, server_name and TLS lines made one
// `listen 127.0.0.1:<port>` and its upstream pointed at a real Tidewire server on loopback. The
// real client, as a page served by that nginx would be (its requests carry the proxy's origin):
// - a listen-only channel over SSE and a duplex one over WebSocket go live through it, and an
//   event arrives within 3 s: the SSE stream is not held back (the client never finds it
//   `buffered`);
// - it publishes by HTTP POST and over the WebSocket;
// - the guide's reason for `proxy_set_header Host $http_host`: a stream with the proxy's
//   `Origin` is let in by the same-origin check, with no `cors` option; the same configuration
//   without that one line is refused with 403.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { deployingBlock } from '../../../testing/guide';
import {
  type Nginx,
  nginxForLoopback,
  nginxSkipReason,
  startNginx,
  stopEveryNginx,
} from '../../../testing/nginx';
import { type Client, createClient } from '../src/client';
import type { TidewireError } from '../src/errors';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { cleanup, startServer, type TestServer, until } from './int-server';

/** Every wait of these tests on nginx or the server: a prompt proxy answers well within it. */
const PROMPT_MS = 3000;

/** The line of the guide these tests are about. */
const HOST_LINE = /^.*proxy_set_header Host \$http_host;.*\n/m;

/** What a page whose origin is `origin` sends: every request and upgrade carries `Origin`. */
function pageClient(url: string, origin: string, publishes: string[] = []): Client {
  /** `ws` with the browser's `Origin` header. */
  class PageWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { origin });
    }
  }
  return createClient({
    url,
    WebSocket: PageWebSocket as unknown as WebSocketConstructor,
    fetch: (input, init) => {
      const target = String(input instanceof Request ? input.url : input);
      if (target.endsWith('/publish')) publishes.push(target);
      const headers = new Headers(init?.headers);
      headers.set('origin', origin);
      return fetch(input, { ...init, headers });
    },
    retryDelay: () => 100,
    closeDelay: 0,
  });
}

/**
 * A stream request as the guide's "Checking a deployment" sends it, with `Origin: origin`: its
 * status, and its body up to the `welcome` frame (or, refused, all of it), within PROMPT_MS.
 */
async function openStream(base: string, origin: string) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), PROMPT_MS);
  try {
    const response = await fetch(`${base}/tidewire/sse?v=2&channel=test`, {
      headers: { accept: 'text/event-stream', origin },
      signal: controller.signal,
    });
    let text = '';
    const decoder = new TextDecoder();
    const reader = response.body?.getReader();
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
      if (text.includes('event: @welcome')) break;
    }
    return { status: response.status, text };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** A WebSocket upgrade with `Origin: origin`: `101`, or the status and body of its refusal. */
function upgrade(base: string, origin: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/tidewire/ws?v=2`, { origin });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no answer to the upgrade within ${PROMPT_MS} ms`));
    }, PROMPT_MS);
    socket.once('open', () => {
      clearTimeout(timer);
      socket.close();
      resolve({ status: 101, body: '' });
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.once('end', () => {
        clearTimeout(timer);
        socket.terminate();
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe.skipIf(nginxSkipReason !== undefined)(
  `the guide's single-node nginx configuration${nginxSkipReason ? ` (skipped: ${nginxSkipReason})` : ''}`,
  () => {
    let server: TestServer;
    /** The guide's configuration. */
    let nginx: Nginx;
    /** The same without `proxy_set_header Host $http_host;`. */
    let withoutHost: Nginx;
    const clients: Client[] = [];

    beforeAll(async () => {
      // A real @tidewire/server on node:http, at its default path /tidewire, no `cors` option.
      server = await startServer();
      const upstreams = { tidewire: [Number(new URL(server.url).port)] };
      const guide = deployingBlock('## nginx', 'nginx');
      expect(guide).toMatch(HOST_LINE);
      nginx = await startNginx((port) => nginxForLoopback(guide, port, upstreams));
      withoutHost = await startNginx((port) =>
        nginxForLoopback(guide.replace(HOST_LINE, ''), port, upstreams),
      );
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.close();
    });
    afterAll(async () => {
      for (const client of clients.splice(0)) client.close();
      await stopEveryNginx();
      await cleanup();
    });

    it('should have an SSE and a WebSocket channel live, and deliver at once, never buffered', async () => {
      const client = pageClient(`${nginx.origin}/tidewire`, nginx.origin);
      clients.push(client);
      const errors: TidewireError[] = [];
      client.on('state', ({ next }) => {
        if (next.status === 'waiting' || next.status === 'failed') errors.push(next.error);
      });
      const news = client.subscribe('news');
      const chat = client.subscribe('chat', { duplex: true });
      const got: unknown[] = [];
      news.on('event', (event) => got.push(event.data));
      chat.on('event', (event) => got.push(event.data));
      await until(
        () => news.getSnapshot().status === 'live' && chat.getSnapshot().status === 'live',
        PROMPT_MS,
      );
      expect(news.getSnapshot().transport).toBe('sse');
      expect(chat.getSnapshot().transport).toBe('websocket');

      const published = performance.now();
      server.tw.publish('news', 'on the stream');
      server.tw.publish('chat', 'on the socket');
      await until(() => got.length === 2, PROMPT_MS);
      const deliveryMs = performance.now() - published;
      expect(got.sort()).toEqual(['on the socket', 'on the stream']);
      expect(deliveryMs).toBeLessThan(PROMPT_MS);
      // No stream held back, nor any other failure on the way.
      expect(errors.map((error) => error.code)).toEqual([]);
    });

    it('should publish by HTTP POST and over the WebSocket', async () => {
      const publishes: string[] = [];
      const client = pageClient(`${nginx.origin}/tidewire`, nginx.origin, publishes);
      clients.push(client);
      // On SSE by choice: under 'auto', a publish makes a channel duplex and moves it to the
      // WebSocket, and its publishes with it.
      const news = client.subscribe('news', { transport: 'sse' });
      const chat = client.subscribe('chat', { duplex: true });
      const got = { news: [] as unknown[], chat: [] as unknown[] };
      news.on('event', (event) => got.news.push(event.data));
      chat.on('event', (event) => got.chat.push(event.data));
      await until(
        () => news.getSnapshot().status === 'live' && chat.getSnapshot().status === 'live',
        PROMPT_MS,
      );

      // `news` is on SSE: its publish is a POST, through nginx.
      const byPost = await client.publish('news', 'by POST');
      expect(publishes).toEqual([`${nginx.origin}/tidewire/publish`]);
      // `chat` is on the WebSocket: acknowledged there, no request.
      const bySocket = await client.publish('chat', 'over the socket');
      expect(publishes).toHaveLength(1);

      await until(() => got.news.length === 1 && got.chat.length === 1, PROMPT_MS);
      expect(got).toEqual({ news: ['by POST'], chat: ['over the socket'] });
      expect(news.getSnapshot().lastEventId).toBe(byPost.id);
      expect(chat.getSnapshot().lastEventId).toBe(bySocket.id);
    });

    it("should let the proxy's origin in with `Host $http_host`, and refuse it without", async () => {
      // A page served by this nginx sends its origin, http://127.0.0.1:<nginx port>.
      const stream = await openStream(nginx.origin, nginx.origin);
      expect(stream.status).toBe(200);
      expect(stream.text).toContain('event: @welcome');
      expect(await upgrade(nginx.origin, nginx.origin)).toEqual({ status: 101, body: '' });

      // Without the line, nginx sends `Host: tidewire` (the upstream's name): no match.
      const refused = await openStream(withoutHost.origin, withoutHost.origin);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.text)).toEqual({ code: 'origin_not_allowed' });
      const refusedUpgrade = await upgrade(withoutHost.origin, withoutHost.origin);
      expect(refusedUpgrade.status).toBe(403);
      expect(refusedUpgrade.body).toContain('origin_not_allowed');

      // What the page's client makes of it: `forbidden` (403) on SSE, as the guide says.
      const client = pageClient(`${withoutHost.origin}/tidewire`, withoutHost.origin);
      clients.push(client);
      const news = client.subscribe('news');
      await until(() => news.getSnapshot().status === 'failed', PROMPT_MS);
      expect(news.getSnapshot().error).toMatchObject({ code: 'forbidden', status: 403 });
    });
  },
);
