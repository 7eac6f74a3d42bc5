import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../testing/chromium';
import { createTidewireServer, type TidewireServer } from '../../../server/src/index';

// A page on one origin using a Tidewire server on another: Chromium enforces CORS for real,
// so every request header the client sends must pass the protocol's preflight.
const bundlePath = new URL('../../dist/tidewire.min.js', import.meta.url);

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

describe('a cross-origin page', () => {
  let api: Server;
  let pages: Server;
  let tw: TidewireServer;
  let chromium: Browser;
  let pageOrigin: string;
  let apiUrl: string;
  /** A second server whose allow-list does not name the page's origin. */
  let refusing: Server;
  let refusingTw: TidewireServer;
  let refusingUrl: string;
  let refusedRequests = 0;

  beforeAll(async () => {
    if (!existsSync(bundlePath))
      throw new Error('dist/tidewire.min.js is missing: run `pnpm build` first');
    const bundle = readFileSync(bundlePath, 'utf8');
    pages = createServer((req, res) => {
      if (req.url === '/tidewire.min.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
        return;
      }
      const probe = `
        window.got = [];
        const api = new URLSearchParams(location.search).get('api') ?? '${apiUrl}';
        const client = Tidewire.createClient({ url: api, getToken: () => 'tok', retryDelay: () => 50 });
        window.client = client;
        client.on('error', ({ error }) => window.got.push('error:' + error.code));
        const sub = client.subscribe('news', { transport: 'sse' });
        window.sub = sub;
        sub.on('event', (e) => window.got.push(e.data));`;
      if (req.url === '/probe.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(probe);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        '<!doctype html><script src="/tidewire.min.js"></script><script src="/probe.js"></script>',
      );
    });
    // The page's origin uses "localhost" so that it differs from the API's 127.0.0.1.
    pageOrigin = `http://localhost:${await listen(pages)}`;
    tw = createTidewireServer({ cors: { origins: [pageOrigin] } });
    api = createServer();
    tw.attach(api);
    apiUrl = `http://127.0.0.1:${await listen(api)}/tidewire`;
    refusingTw = createTidewireServer({
      cors: { origins: ['https://app.example'] },
      logger: { warn() {}, error() {} },
    });
    refusing = createServer();
    refusingTw.attach(refusing);
    refusing.prependListener('request', () => {
      refusedRequests += 1;
    });
    refusingUrl = `http://127.0.0.1:${await listen(refusing)}/tidewire`;
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await tw?.close();
    await new Promise((r) => api?.close(r));
    await new Promise((r) => pages?.close(r));
    await refusingTw?.close();
    await new Promise((r) => refusing?.close(r));
  });

  it('should stop when the server refuses the origin, after one request', async () => {
    const tab = await chromium.newPage();
    await tab.goto(`${pageOrigin}/?api=${encodeURIComponent(refusingUrl)}`);
    type Probe = { sub: { getSnapshot(): { status: string; error?: { code: string } } } };
    await tab.waitForFunction(
      () => (window as unknown as Probe).sub.getSnapshot().status === 'failed',
    );
    const code = await tab.evaluate(
      () => (window as unknown as Probe).sub.getSnapshot().error?.code,
    );
    // Over SSE the refusal reads as its status, 403: the fatal `forbidden` (the client does not
    // read error bodies, which a proxy's may never end); the development build's message names
    // the server's cors.origins.
    expect(code).toBe('forbidden');
    // Fatal: the refusal is not retried. (A browser may send a preflight first: at most two.)
    await new Promise((r) => setTimeout(r, 500));
    expect(refusedRequests).toBeGreaterThanOrEqual(1);
    expect(refusedRequests).toBeLessThanOrEqual(2);
    await tab.close();
  });

  it('should stream over SSE and publish over POST through the CORS preflight', async () => {
    const tab = await chromium.newPage();
    const problems: string[] = [];
    tab.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    await tab.goto(`${pageOrigin}/`);
    for (let i = 0; i < 200 && (await tw.stats()).subscriptions < 1; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect((await tw.stats()).connections.sse).toBe(1);
    tw.publish('news', 'from the server');
    const id = await tab.evaluate(() =>
      (
        window as unknown as { client: { publish(c: string, d: string): Promise<{ id: string }> } }
      ).client
        .publish('news', 'from the page')
        .then((r) => r.id),
    );
    expect(id).toMatch(/-\d+$/);
    await tab.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length >= 2);
    expect(await tab.evaluate(() => (window as unknown as { got: unknown[] }).got)).toEqual([
      'from the server',
      'from the page',
    ]);
    expect(problems).toEqual([]);
    await tab.close();
  });
});
