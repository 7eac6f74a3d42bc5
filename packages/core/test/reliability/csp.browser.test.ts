import { existsSync, readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../testing/chromium';
import { authenticate, type Node, startNode, TOKEN_PREFIX } from './harness';

// The script-tag build, in Chromium, under a CSP with neither unsafe-eval nor unsafe-inline:
// it must connect over both transports, receive, publish and close without a violation.

const bundlePath = new URL('../../dist/tidewire.min.js', import.meta.url);

const page = `<!doctype html><meta charset="utf-8"><title>csp</title>
<script src="/tidewire.min.js"></script><script src="/probe.js"></script>`;

// Plain script file: no eval, no inline handler, no string timers.
const probe = `
const out = { sse: [], ws: [], errors: [], violations: [], published: null, closed: false };
document.addEventListener('securitypolicyviolation', (e) => out.violations.push(e.violatedDirective + ' ' + e.blockedURI));
const client = Tidewire.createClient({
  url: location.origin + '/tidewire',
  getToken: () => '${TOKEN_PREFIX}browser',
  retryDelay: () => 50,
});
client.on('error', ({ error }) => out.errors.push(error.code));
client.subscribe('news', { transport: 'sse' }).on('event', (e) => out.sse.push(e.data));
const chat = client.subscribe('chat', { transport: 'websocket' });
chat.on('event', (e) => out.ws.push(e.data));
chat.on('change', () => {
  if (chat.getSnapshot().status !== 'live' || out.published) return;
  out.published = 'pending';
  client.publish('chat', 'from the page').then((r) => { out.published = r.id; }, (e) => { out.published = e.code; });
});
window.done = () => { client.close(); out.closed = true; };
window.out = out;
document.title = 'started';
`;

describe('the global build under a strict CSP', () => {
  let node: Node;
  let chromium: Browser;

  beforeAll(async () => {
    if (!existsSync(bundlePath))
      throw new Error('dist/tidewire.min.js is missing: run `pnpm build` first');
    const bundle = readFileSync(bundlePath, 'utf8');
    let csp = '';
    // The page is served by the same http server: attach() hands it every other path.
    node = await startNode({ authenticate }, [], (req, res) => {
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
      res.writeHead(200, {
        'content-type': `${req.url === '/' ? 'text/html' : 'text/javascript'}; charset=utf-8`,
        'content-security-policy': csp,
      });
      res.end(body);
    });
    csp = [
      "default-src 'none'",
      "script-src 'self'",
      `connect-src 'self' ws://127.0.0.1:${node.port}`,
    ].join('; ');
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await node?.stop();
  });

  it('should connect over SSE and WebSocket, receive, publish and close with no CSP violation', async () => {
    const tab = await chromium.newPage();
    const problems: string[] = [];
    tab.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    tab.on('pageerror', (e) => problems.push(e.message));
    await tab.goto(`http://127.0.0.1:${node.port}/`);
    await tab.waitForFunction(() => document.title === 'started');
    // The global exposes the whole public API of the main entry.
    expect(
      await tab.evaluate(() => Object.keys((window as unknown as { Tidewire: object }).Tidewire)),
    ).toEqual(expect.arrayContaining(['createClient', 'exponentialBackoff', 'transition']));
    const subscribed = async () => {
      for (let i = 0; i < 200 && (await node.tw.stats()).subscriptions < 2; i++)
        await new Promise((r) => setTimeout(r, 25));
      return (await node.tw.stats()).subscriptions;
    };
    expect(await subscribed()).toBe(2);
    for (let i = 0; i < 3; i++) {
      node.tw.publish('news', `n${i}`);
      node.tw.publish('chat', `c${i}`);
    }
    type Out = { sse: unknown[]; ws: unknown[]; published: unknown };
    await tab.waitForFunction(() => {
      const o = (window as unknown as { out: Out }).out;
      return o.sse.length === 3 && o.ws.length === 4 && typeof o.published === 'string';
    });
    const out = await tab.evaluate(() => (window as unknown as { out: Out }).out);
    expect(out).toMatchObject({
      sse: ['n0', 'n1', 'n2'],
      errors: [],
      violations: [],
      published: expect.stringMatching(/-\d+$/),
    });
    expect([...out.ws].sort()).toEqual(['c0', 'c1', 'c2', 'from the page']);
    // The token went in headers and the auth frame, never in a URL.
    expect(node.log.map((r) => r.url).join(' ')).not.toContain(TOKEN_PREFIX);
    expect(node.log.some((r) => r.kind === 'upgrade')).toBe(true);
    await tab.evaluate(() => (window as unknown as { done: () => void }).done());
    for (let i = 0; i < 100; i++) {
      const { sse, websocket } = (await node.tw.stats()).connections;
      if (sse + websocket === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await node.tw.stats()).connections).toEqual({ sse: 0, websocket: 0 });
    expect(problems).toEqual([]);
    await tab.close();
  });
});
