import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../testing/chromium';

const bundlePath = new URL('../../dist/tidewire.min.js', import.meta.url);

// The strictest policy a page can reasonably set: no eval, no inline script.
const csp = "default-src 'none'; script-src 'self'; connect-src 'self'";
const page = `<!doctype html><meta charset="utf-8"><title>global build</title>
<script src="/tidewire.min.js"></script><script src="/probe.js"></script>`;
const probe = `document.title = typeof Tidewire.createClient === 'function' ? 'ready' : 'missing';`;

describe('the global build (script tag)', () => {
  let server: Server;
  let origin: string;
  let chromium: Browser;

  beforeAll(async () => {
    if (!existsSync(bundlePath))
      throw new Error('dist/tidewire.min.js is missing: run `pnpm build` first');
    const bundle = readFileSync(bundlePath, 'utf8');
    server = createServer((req, res) => {
      const body =
        req.url === '/'
          ? page
          : req.url === '/tidewire.min.js'
            ? bundle
            : req.url === '/probe.js'
              ? probe
              : null;
      if (body === null) {
        res.writeHead(404).end();
        return;
      }
      const type = req.url === '/' ? 'text/html' : 'text/javascript';
      res.writeHead(200, {
        'content-type': `${type}; charset=utf-8`,
        'content-security-policy': csp,
      });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('should expose window.Tidewire under a CSP without unsafe-eval', async () => {
    const tab = await chromium.newPage();
    const problems: string[] = [];
    tab.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    tab.on('pageerror', (e) => problems.push(e.message));
    await tab.goto(`${origin}/`);
    await tab.waitForFunction(() => document.title !== 'global build');
    expect(await tab.title()).toBe('ready');
    expect(
      await tab.evaluate(() => Object.keys((window as unknown as { Tidewire: object }).Tidewire)),
    ).toContain('openStream');
    expect(problems).toEqual([]);
    await tab.close();
  });
});
