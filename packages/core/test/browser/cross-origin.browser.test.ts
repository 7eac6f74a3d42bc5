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
        const client = Tidewire.createClient({ url: '${apiUrl}', getToken: () => 'tok', retryDelay: () => 50 });
        window.client = client;
        client.on('error', ({ error }) => window.got.push('error:' + error.code));
        client.subscribe('news', { transport: 'sse' }).on('event', (e) => window.got.push(e.data));`;
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
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await tw?.close();
    await new Promise((r) => api?.close(r));
    await new Promise((r) => pages?.close(r));
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
