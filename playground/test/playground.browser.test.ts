/**
 * The playground in Debian's Chromium: the three pages load under the strict CSP, every
 * use case streams, and every chaos control ends in recovery with zero lost and zero
 * duplicated events, as the pages themselves count them against the server's published
 * counts. Needs `pnpm build` first (the pages load the built bundles).
 *
 * The three pages stay open side by side through the whole file: each chaos control acts
 * on the one server, so every page must recover from every control.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../testing/chromium';
import { type Playground, startPlayground } from '../src/server/playground';

const names = ['vanilla', 'react', 'vue'] as const;
type Name = (typeof names)[number];
const persistent = ['metrics', 'notifications', 'chat'];
const artifacts = join(import.meta.dirname, '..', '..', '.artifacts', 'playground');

/** What an inspector row shows, read from its `data-*` attributes. */
interface RowData {
  channel: string;
  status: string;
  transport: string;
  received: string;
  published: string;
  lost: string;
  duplicates: string;
  gaps: string;
  /** The newest gap's reason, when there was one. */
  gapReason: string;
  /** Where the channel moved from and why, when it moved. */
  moved: string;
  reconnects: string;
}

let playground: Playground;
let browser: Browser;
const pages = {} as Record<Name, Page>;
/** Console errors and uncaught exceptions per page. */
const problems = {} as Record<Name, string[]>;

/**
 * Polls `probe` until it returns something other than undefined/false. On a timeout the
 * error carries `page`'s inspector rows and timeline, to show what it was stuck on.
 */
async function waitUntil<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  ms = 15_000,
  page?: Page,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      let detail = '';
      if (page !== undefined) {
        const rows = await rowsOf(page).catch(() => []);
        const log =
          (await page
            .locator('#log')
            .textContent()
            .catch(() => '')) ?? '';
        const name = names.find((n) => pages[n] === page);
        const logged = name === undefined ? [] : problems[name];
        detail = `\n${JSON.stringify(rows)}\n${log.slice(0, 1200)}\n${JSON.stringify(logged)}`;
      }
      throw new Error(`timed out after ${ms} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const rowsOf = (page: Page): Promise<RowData[]> =>
  page.$$eval('tr[data-channel]', (rows) =>
    rows.map((row) => ({ ...(row as HTMLElement).dataset }) as unknown as RowData),
  );

const rowOf = async (page: Page, channel: string): Promise<RowData | undefined> =>
  (await rowsOf(page)).find((r) => r.channel === channel);

/** Every page's persistent channels are live. */
function allLive(): Promise<void> {
  return Promise.all(
    names.map((name) =>
      waitUntil(
        async () => {
          const rows = (await rowsOf(pages[name])).filter((r) => persistent.includes(r.channel));
          return rows.length === persistent.length && rows.every((r) => r.status === 'live');
        },
        `${name}: every channel live`,
        15_000,
        pages[name],
      ),
    ),
  ).then(() => undefined);
}

/** Each page's reconnect and gap counters per channel. */
type Counters = Record<Name, Record<string, { reconnects: number; gaps: number }>>;

async function reconnects(): Promise<Counters> {
  const out = {} as Counters;
  for (const name of names) {
    out[name] = {};
    for (const row of await rowsOf(pages[name])) {
      out[name][row.channel] = { reconnects: Number(row.reconnects), gaps: Number(row.gaps) };
    }
  }
  return out;
}

/**
 * Pauses the publishers and waits until every page's inspector shows, for every channel,
 * as many events received as the server published, none lost and none twice.
 */
async function expectExactCounts(): Promise<void> {
  playground.pause();
  try {
    await Promise.all(
      names.map((name) =>
        waitUntil(
          async () => {
            const rows = await rowsOf(pages[name]);
            const settled = rows
              .filter((r) => persistent.includes(r.channel))
              .every(
                (r) =>
                  r.status === 'live' &&
                  r.published !== '' &&
                  r.received === r.published &&
                  r.lost === '0',
              );
            return settled && rows;
          },
          `${name}: received = published`,
          15_000,
          pages[name],
        ),
      ),
    );
    for (const name of names) {
      for (const row of await rowsOf(pages[name])) {
        expect(row.duplicates, `${name} ${row.channel} duplicates`).toBe('0');
        if (row.lost !== '') expect(row.lost, `${name} ${row.channel} lost`).toBe('0');
        expect(Number(row.received), `${name} ${row.channel}`).toBe(Number(row.published));
      }
    }
  } finally {
    playground.resume();
  }
}

/** Clicks a chaos control on `name`'s page and waits for the timeline to say it was done. */
async function chaos(name: Name, action: string): Promise<void> {
  const page = pages[name];
  const before = await page.locator('#log li').count();
  await page.click(`[data-action="${action}"]`);
  await waitUntil(
    async () =>
      (await page.locator('#log li .chaos').count()) > 0 &&
      (await page.locator('#log li').count()) > before,
    `${name}: ${action} logged`,
  );
}

/** Waits until every page reconnected every persistent channel since `before`. */
async function expectReconnected(before: Counters): Promise<void> {
  await Promise.all(
    names.map((name) =>
      waitUntil(
        async () => {
          const rows = (await rowsOf(pages[name])).filter((r) => persistent.includes(r.channel));
          // Resubscribed: confirmed again, or told of a gap (a channel that moved to the
          // other transport while its own was held back by the fallback memory).
          return rows.every((r) => {
            const was = before[name][r.channel] ?? { reconnects: 0, gaps: 0 };
            const again = Number(r.reconnects) > was.reconnects || Number(r.gaps) > was.gaps;
            return r.status === 'live' && again;
          });
        },
        `${name}: every channel reconnected`,
        20_000,
        pages[name],
      ),
    ),
  );
}

/**
 * Problems that chaos does not explain: uncaught exceptions and CSP violations. (The
 * browser itself logs refused upgrades and dropped streams as console errors.)
 */
const unexpected = (problem: string): boolean =>
  problem.startsWith('uncaught') || /Content Security Policy|Refused to/i.test(problem);

const screenshot = (name: string, page: Page) =>
  page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true, animations: 'disabled' });

/** Opens `name`'s page in a fresh browser context (so a fresh sessionStorage), recording problems. */
async function open(name: Name): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  problems[name] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems[name].push(message.text());
  });
  page.on('pageerror', (error) => problems[name].push(`uncaught: ${error.message}`));
  pages[name] = page;
  return page;
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  playground = await startPlayground({
    port: 0,
    // Faster publishers than the defaults, so that every use case shows events within a second.
    intervals: { metrics: 200, notifications: 600, chat: 1500, jobStep: 40, token: 12 },
  });
  browser = await launchChromium();
  for (const name of names) await open(name);
});

afterAll(async () => {
  await browser?.close();
  await playground?.close();
});

describe('the playground in Chromium', () => {
  it('should serve every page under a strict CSP and load it without a console error', async () => {
    for (const name of names) {
      const response = await pages[name].goto(`${playground.url}${name}`);
      const csp = response?.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe');
    }
    await allLive();
    // The Vanilla page takes the SDK from the script-tag build (its development variant, which
    // feeds the devtools panel).
    expect(
      await pages.vanilla.evaluate(() => ({
        global: typeof (window as unknown as { Tidewire?: { createClient?: unknown } }).Tidewire
          ?.createClient,
        script: [...document.scripts].map((s) => new URL(s.src).pathname),
      })),
    ).toEqual({ global: 'function', script: ['/js/tidewire.development.js', '/js/vanilla.js'] });
    for (const name of names) expect(problems[name], name).toEqual([]);
  });

  it('should show every built-in chaos control, and no note of any left out', async () => {
    for (const name of names) {
      const buttons = pages[name].locator('.chaos-btn');
      await buttons.first().waitFor();
      expect(await buttons.evaluateAll((all) => all.map((b) => b.textContent)), name).toEqual([
        'Drop connections',
        'Block WebSocket',
        'Expire tokens',
        'Stall streams',
        'Restart (keep history)',
        'Restart (lose history)',
        'Pause publishers',
      ]);
      expect(await pages[name].locator('.chaos-note').count(), name).toBe(0);
    }
  });

  it('should stream every use case on every page', async () => {
    await Promise.all(
      names.map(async (name) => {
        const page = pages[name];
        // Dashboard (SSE) and notification feed.
        await waitUntil(
          async () =>
            (await page.locator('[data-metric="cpu"] .value span').first().textContent()) !== '–',
          `${name}: a metrics sample`,
        );
        const metrics = await rowOf(page, 'metrics');
        expect(metrics?.transport).toBe('sse');
        await page.locator('.feed .note').first().waitFor();
        // Chat over WebSocket: a message sent here comes back.
        expect((await rowOf(page, 'chat'))?.transport).toBe('websocket');
        await page.fill('.chat-form input', `hello from ${name}`);
        await page.click('.chat-form button[type="submit"]');
        await page.locator('.msg.mine', { hasText: `hello from ${name}` }).waitFor();
        // Job: POST starts it, progress streams until complete, then the page lets go.
        await page.click('#job-start');
        await page.locator('[data-complete="true"]').waitFor({ timeout: 15_000 });
        const job = await waitUntil(async () => {
          const row = (await rowsOf(page)).find((r) => r.channel.startsWith('jobs/'));
          return row?.status === 'closed' && row.lost === '0' && row;
        }, `${name}: job row closed and counted`);
        expect(job.received).toBe('21'); // 20 progress steps and `complete`
        expect(job.duplicates).toBe('0');
        // Token streaming until `done`.
        await page.locator('[data-prompt]').first().click();
        await page.locator('#answer[data-done="true"]').waitFor({ timeout: 15_000 });
        const text = (await page.locator('#answer .text').textContent()) ?? '';
        expect(text).toMatch(/^Server-Sent Events are a one-way stream/);
        await waitUntil(async () => {
          const row = (await rowsOf(page)).find((r) => r.channel.startsWith('completions/'));
          return row?.status === 'closed' && row.lost === '0' && row.received === row.published;
        }, `${name}: completion row closed and counted`);
      }),
    );
    // Every page saw the others' chat messages.
    for (const name of names) {
      for (const other of names) {
        await pages[name].locator('.msg', { hasText: `hello from ${other}` }).waitFor();
      }
    }
    await expectExactCounts();
    for (const name of names) {
      expect(problems[name], name).toEqual([]);
      await screenshot(name, pages[name]);
      await pages[name].emulateMedia({ colorScheme: 'dark' });
      await screenshot(`${name}-dark`, pages[name]);
      await pages[name].emulateMedia({ colorScheme: 'light' });
    }
  });

  it('should recover from dropped connections with nothing lost or repeated', async () => {
    const before = await reconnects();
    await chaos('vanilla', 'drop');
    // Every open tab shows the chaos action, not only the one that clicked.
    for (const name of ['react', 'vue'] as const) {
      await pages[name]
        .locator('#log li .chaos', { hasText: 'Dropped every connection' })
        .first()
        .waitFor();
    }
    await expectReconnected(before);
    await expectExactCounts();
  });

  it('should refresh expired tokens and resume', async () => {
    const before = await reconnects();
    const tokens = Number(
      await pages.react.locator('#server .pill', { hasText: 'tokens' }).locator('b').textContent(),
    );
    await chaos('react', 'expire-tokens');
    await expectReconnected(before);
    await expectExactCounts();
    await waitUntil(
      async () =>
        Number(
          await pages.react
            .locator('#server .pill', { hasText: 'tokens' })
            .locator('b')
            .textContent(),
        ) >=
        tokens + 3,
      'new tokens issued',
    );
  });

  it('should notice stalled streams with the heartbeat watchdog and resume', async () => {
    const before = await reconnects();
    await chaos('vue', 'stall');
    await expectReconnected(before);
    for (const name of names) {
      await pages[name].locator('#log li', { hasText: 'heartbeat_timeout' }).first().waitFor();
    }
    await expectExactCounts();
  });

  it('should resume after a restart that keeps history, without a gap', async () => {
    const gaps = await gapsOf();
    const before = await reconnects();
    await chaos('vanilla', 'restart-kept');
    await expectReconnected(before);
    await expectExactCounts();
    expect(await gapsOf()).toEqual(gaps);
  });

  it('should report a gap after a restart that loses history, and still lose nothing published since', async () => {
    const gaps = await gapsOf();
    const before = await reconnects();
    await chaos('react', 'restart-lost');
    await expectReconnected(before);
    await expectExactCounts();
    const after = await gapsOf();
    for (const name of names) {
      for (const channel of persistent) {
        expect(after[name][channel], `${name} ${channel}`).toBe((gaps[name][channel] ?? 0) + 1);
        // The reason is shown: the old positions belong to a history that is gone.
        expect((await rowOf(pages[name], channel))?.gapReason, `${name} ${channel}`).toBe('epoch');
      }
      await pages[name].locator('#log li', { hasText: 'gap (epoch' }).first().waitFor();
      expect(problems[name].filter(unexpected)).toEqual([]);
      await screenshot(`${name}-after-chaos`, pages[name]);
    }
  });

  it('should keep the chat sending and receiving over SSE + POST while WebSocket is blocked', async () => {
    // Fresh pages: the chaos above made connections die within moments of opening, which
    // the SDK's fallback memory (rightly) holds against both transports for a while.
    for (const name of names) {
      await pages[name].context().close();
      await (await open(name)).goto(`${playground.url}${name}`);
    }
    await allLive();
    for (const name of names)
      expect((await rowOf(pages[name], 'chat'))?.transport).toBe('websocket');
    await chaos('vue', 'block-websocket');
    await Promise.all(
      names.map((name) =>
        waitUntil(
          async () => {
            const row = await rowOf(pages[name], 'chat');
            return row?.transport === 'sse' && row.status === 'live';
          },
          `${name}: chat on SSE`,
          15_000,
          pages[name],
        ),
      ),
    );
    for (const name of names) {
      await pages[name].fill('.chat-form input', `fallback from ${name}`);
      await pages[name].click('.chat-form button[type="submit"]');
    }
    for (const name of names) {
      for (const other of names) {
        await pages[name].locator('.msg', { hasText: `fallback from ${other}` }).waitFor();
      }
      await pages[name].locator('.note-line', { hasText: 'Sent as' }).waitFor();
    }
    await expectExactCounts();
    for (const name of names) {
      const chat = await rowOf(pages[name], 'chat');
      expect(chat?.transport).toBe('sse');
      // The move is shown with its reason and when WebSocket is tried again.
      expect(chat?.moved).toMatch(/^from WebSocket: websocket: \w+, back after \d\d:\d\d:\d\d$/);
      await pages[name]
        .locator('#log li', { hasText: 'Chat moved WebSocket → SSE' })
        .first()
        .waitFor();
      expect(problems[name].filter(unexpected)).toEqual([]);
      await screenshot(`${name}-websocket-blocked`, pages[name]);
    }
    await chaos('vue', 'allow-websocket');
  });
});

async function gapsOf(): Promise<Record<Name, Record<string, number>>> {
  const out = {} as Record<Name, Record<string, number>>;
  for (const name of names) {
    out[name] = {};
    for (const row of await rowsOf(pages[name])) out[name][row.channel] = Number(row.gaps);
  }
  return out;
}
