import { readFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../testing/chromium';
import { createTidewireServer, type TidewireServer } from '../../../server/src/index';

// Ten tabs of one browser, no sharing, over HTTP/2: every SSE stream is a stream of one
// connection, so none waits for HTTP/1.1's six connections per host. WebSocket upgrades go
// over HTTP/1.1 on the same port (allowHTTP1).
const tls = new URL('../../../../testing/tls/', import.meta.url);
const bundle = readFileSync(new URL('../../dist/tidewire.min.js', import.meta.url), 'utf8');
const TABS = 10;

describe('ten tabs over HTTP/2', () => {
  let server: Http2SecureServer;
  let tw: TidewireServer;
  let browser: Browser;
  let origin: string;
  const sessions = new Set<ServerHttp2Session>();
  let http2Streams = 0;

  beforeAll(async () => {
    tw = createTidewireServer({ logger: { warn() {}, error() {} } });
    server = createSecureServer({
      key: readFileSync(new URL('localhost-key.pem', tls)),
      cert: readFileSync(new URL('localhost.pem', tls)),
      allowHTTP1: true,
    });
    server.on('session', (session) => sessions.add(session));
    server.on('request', (req, res) => {
      if (req.url === '/tidewire.min.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      } else if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(
          `<!doctype html><script src="/tidewire.min.js"></script><script>
            window.got = [];
            const client = Tidewire.createClient({ url: location.origin + '/tidewire' });
            client.subscribe('feed').on('event', (e) => window.got.push(e.data));
            client.subscribe('room', { duplex: true }).on('event', (e) => window.got.push(e.data));
            window.client = client;
          </script>`,
        );
      }
    });
    tw.attach(server);
    server.prependListener('request', (req) => {
      if (req.url.startsWith('/tidewire/sse') && req.httpVersionMajor === 2) http2Streams += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await tw?.close();
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('should keep every tab live, its streams sharing one HTTP/2 connection', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const pages = [];
    for (let i = 0; i < TABS; i++) {
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      pages.push(page);
    }
    // Every tab connected on both transports, and both of its channels subscribed (a channel
    // without a position receives only what is published after it joins).
    const ready = async () => {
      const { connections, subscriptions } = await tw.stats();
      return (
        connections.sse === TABS && connections.websocket === TABS && subscriptions === 2 * TABS
      );
    };
    for (let i = 0; i < 400 && !(await ready()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const stats = await tw.stats();
    expect(stats.connections.sse).toBe(TABS);
    expect(stats.connections.websocket).toBe(TABS);
    expect(http2Streams).toBeGreaterThanOrEqual(TABS);
    await tw.publish('feed', 'over sse');
    await tw.publish('room', 'over websocket');
    for (const page of pages) {
      await page.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length >= 2);
      // Two channels on two transports: each arrives, in no set order between them.
      const got = await page.evaluate(() => (window as unknown as { got: string[] }).got);
      expect([...got].sort()).toEqual(['over sse', 'over websocket']);
    }
    // One browser context: its HTTP/2 requests share a connection (or very few).
    expect(sessions.size).toBeLessThanOrEqual(2);
    // A publish from a page goes over the socket or HTTP/2 POST alike.
    const id = await pages[0]?.evaluate(() =>
      (
        window as unknown as { client: { publish(c: string, d: string): Promise<{ id: string }> } }
      ).client
        .publish('feed', 'from a tab')
        .then((r) => r.id),
    );
    expect(id).toMatch(/-\d+$/);
    await context.close();
  });
});
