/**
 * The panel in Debian's Chromium, in the playground's three pages under their strict CSP:
 * records flow, the event log fills, filter, pause and export work, a forced fallback shows in
 * the timeline with its reason, nothing scrolls sideways at 390 px, and a production build of
 * the core gets the panel's plain notice. Needs `pnpm build` first (the pages load the built
 * bundles). Screenshots go to `.artifacts/devtools/`.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Playground, startPlayground } from '../../../playground/src/server/playground';
import { launchChromium } from '../../../testing/chromium';

const root = join(import.meta.dirname, '..', '..', '..');
const artifacts = join(root, '.artifacts', 'devtools');

let playground: Playground;
let browser: Browser;
const contexts: BrowserContext[] = [];

/** A page of the playground in a fresh context, with its console errors and uncaught exceptions. */
async function open(path: string, width = 1280, height = 800) {
  const context = await browser.newContext({
    viewport: { width, height },
    deviceScaleFactor: 1,
    acceptDownloads: true,
  });
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  return { page, problems, goto: () => page.goto(`${playground.url}${path}`) };
}

/** Selectors inside the panel (Playwright's CSS selectors pierce its open shadow root). */
const $ = (s: string) => `tidewire-devtools ${s}`;

async function openPanel(page: Page, tab?: string): Promise<void> {
  await page.click($('.toggle'));
  await page.locator($('.panel')).waitFor();
  if (tab) await page.click($(`[data-tab="${tab}"]`));
}

const ids = (page: Page) =>
  page.$$eval('tidewire-devtools .ev', (els) =>
    els.map((el) => ({
      seq: Number(el.getAttribute('data-seq')),
      channel: el.getAttribute('data-channel'),
      type: el.getAttribute('data-type'),
    })),
  );

async function waitUntil<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  ms = 15_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Problems that chaos does not explain (the browser logs refused upgrades as errors). */
const unexpected = (problem: string): boolean =>
  problem.startsWith('uncaught') || /Content Security Policy|Refused to/i.test(problem);

const chaos = (action: string) =>
  fetch(`${playground.url}api/chaos/${action}`, { method: 'POST' }).then((r) => r.json());

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  playground = await startPlayground({
    port: 0,
    intervals: { metrics: 200, notifications: 600, chat: 1500, jobStep: 40, token: 12 },
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await playground?.close();
});

describe('@tidewire/devtools in Chromium', () => {
  let react: Awaited<ReturnType<typeof open>>;

  it('should mount collapsed in every page under the strict CSP, and fill from the records', async () => {
    for (const name of ['vanilla', 'vue', 'react']) {
      const tab = await open(name);
      const csp = (await tab.goto())?.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe');
      const { page } = tab;
      await page.locator($('.toggle')).waitFor();
      expect(await page.locator($('.panel')).isHidden()).toBe(true);
      // Styles adopted into the shadow root: no <style> element, no style attribute.
      expect(
        await page.evaluate(() => {
          const shadow = document.querySelector('tidewire-devtools')?.shadowRoot;
          return {
            sheets: shadow?.adoptedStyleSheets.length,
            inline: shadow?.querySelectorAll('style, [style]').length,
          };
        }),
      ).toEqual({ sheets: 1, inline: 0 });
      await openPanel(page, 'events');
      await expect
        .poll(() => page.locator($('.bar .tag')).first().textContent())
        .toBe('development build');
      await waitUntil(async () => (await ids(page)).length >= 10, `${name}: ten events logged`);
      await page.click($('[data-tab="channels"]'));
      await page.locator($('[data-channel="metrics"][data-status="live"]')).waitFor();
      expect(tab.problems, name).toEqual([]);
      if (name === 'react') react = tab;
      else await page.context().close();
    }
    await react.page.click($('[data-tab="events"]'));
    await react.page.screenshot({ path: join(artifacts, 'react-1280.png') });
    await react.page.locator($('.panel')).screenshot({ path: join(artifacts, 'panel.png') });
  });

  it('should filter, pause and export the event log', async () => {
    const { page } = react;
    await page.selectOption($('[data-filter="channel"]'), 'metrics');
    await page.selectOption($('[data-filter="type"]'), 'sample');
    await waitUntil(async () => {
      const shown = await ids(page);
      return shown.length > 0 && shown.every((e) => e.channel === 'metrics' && e.type === 'sample');
    }, 'only metrics samples listed');

    await page.click($('[data-do="pause"]'));
    const frozen = (await ids(page))[0]?.seq;
    await page.waitForTimeout(800); // four samples are published meanwhile
    expect((await ids(page))[0]?.seq).toBe(frozen);
    await expect
      .poll(() => page.locator($('[data-events-status]')).textContent())
      .toMatch(/Paused: [1-9]\d* new since/);
    await page.click($('[data-do="pause"]'));
    await waitUntil(async () => ((await ids(page))[0]?.seq ?? 0) > (frozen ?? 0), 'log resumed');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click($('[data-do="export"]')),
    ]);
    expect(download.suggestedFilename()).toMatch(/^tidewire-.*\.json$/);
    const exported = JSON.parse(readFileSync((await download.path()) ?? '', 'utf8'));
    expect(exported.build).toBe('development');
    expect(exported.filter).toEqual({ channel: 'metrics', type: 'sample' });
    expect(exported.events.length).toBeGreaterThan(5);
    for (const e of exported.events) {
      expect(e).toMatchObject({ channel: 'metrics', type: 'sample', transport: 'sse' });
      // The demo stamps `data.at` when it publishes: the playground reads it for latency
      // (seconds for the history replayed at load, milliseconds for live ones).
      expect(e.latency).toBeGreaterThanOrEqual(0);
    }
    expect(exported.events.at(-1).latency).toBeLessThan(1_000);
    expect(exported.connections.map((c: { transport: string }) => c.transport)).toEqual([
      'sse',
      'websocket',
    ]);
    expect(exported.tokens.length).toBeGreaterThan(0);
    await page.selectOption($('[data-filter="channel"]'), '');
    await page.selectOption($('[data-filter="type"]'), '');
    expect(react.problems).toEqual([]);
  });

  it('should show a forced fallback in the timeline with its reason, and the channel moved', async () => {
    const { page } = react;
    await page.click($('[data-tab="channels"]'));
    await page.locator($('[data-channel="chat"][data-transport="websocket"]')).waitFor();
    await chaos('block-websocket');
    try {
      await page.click($('[data-tab="timeline"]'));
      const fallback = page.locator(
        $(
          '[data-kind="fallback"][data-transport="websocket"]:not([data-reason="a connection stayed open"])',
        ),
      );
      await fallback.first().waitFor({ timeout: 20_000 });
      const reason = await fallback.first().getAttribute('data-reason');
      expect(reason).toBeTruthy();
      expect(await fallback.first().textContent()).toMatch(
        new RegExp(`WebSocket avoided \\(${reason}\\).* until \\d\\d:\\d\\d:\\d\\d`),
      );
      await page
        .locator($('[data-kind="placement"]'), { hasText: 'chat moved WebSocket → SSE' })
        .first()
        .waitFor();
      await page.click($('[data-tab="connections"]'));
      expect(await page.locator($('[data-avoided]')).textContent()).toContain(`(${reason})`);
      await page.locator($('.panel')).screenshot({ path: join(artifacts, 'panel-fallback.png') });
      await page.click($('[data-tab="channels"]'));
      const chat = page.locator($('[data-channel="chat"]'));
      await page
        .locator($('[data-channel="chat"][data-transport="sse"][data-status="live"]'))
        .waitFor();
      expect(await chat.locator('[data-move]').textContent()).toContain('WebSocket → SSE');
      await page.click($('[data-tab="timeline"]'));
      await page.screenshot({ path: join(artifacts, 'react-1280-fallback.png') });
      expect(react.problems.filter(unexpected)).toEqual([]);
    } finally {
      await chaos('allow-websocket');
    }
  });

  it('should fit a 390 px screen without sideways scrolling, page and panel', async () => {
    const tab = await open('vue', 390, 844);
    await tab.goto();
    const { page } = tab;
    await page.locator('tr[data-channel="metrics"][data-status="live"]').waitFor();
    const sideways = () =>
      page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
    expect(await sideways()).toBe(0);
    // Nor the playground's own inspector inside its card.
    expect(await page.$eval('.table-wrap', (el) => el.scrollWidth - el.clientWidth)).toBe(0);
    await page.screenshot({ path: join(artifacts, 'vue-390-page.png'), fullPage: true });
    await openPanel(page);
    for (const name of ['connections', 'channels', 'events', 'timeline']) {
      await page.click($(`[data-tab="${name}"]`));
      if (name === 'events') await waitUntil(async () => (await ids(page)).length > 3, 'events');
      const overflow = await page.evaluate(() => {
        const shadow = document.querySelector('tidewire-devtools')?.shadowRoot;
        const panel = shadow?.querySelector('.panel');
        const body = shadow?.querySelector('.body');
        return {
          panel: panel ? Math.round(panel.getBoundingClientRect().width) : -1,
          body: body ? body.scrollWidth - body.clientWidth : -1,
        };
      });
      expect(overflow, name).toEqual({ panel: 390, body: 0 });
      expect(await sideways(), name).toBe(0);
      await page.screenshot({ path: join(artifacts, `vue-390-${name}.png`) });
    }
    expect(tab.problems).toEqual([]);
    await page.context().close();
  });

  it('should say plainly what needs the development build when the page runs the production build', async () => {
    const tab = await open('vanilla');
    const { page } = tab;
    const production = readFileSync(join(root, 'packages/core/dist/tidewire.min.js'), 'utf8');
    await page.route('**/js/tidewire.development.js', (route) =>
      route.fulfill({ body: production, contentType: 'text/javascript' }),
    );
    await tab.goto();
    await openPanel(page);
    await expect
      .poll(() => page.locator($('.bar .tag')).first().textContent())
      .toBe('production build');
    await page.locator($('[data-transport="sse"][data-status="open"]')).waitFor();
    await page.click($('[data-tab="events"]'));
    expect(await page.locator($('[data-notice="production"]')).textContent()).toContain(
      'tidewire.development.js',
    );
    await page.screenshot({ path: join(artifacts, 'vanilla-production.png') });
    expect(tab.problems).toEqual([]);
  });
});
