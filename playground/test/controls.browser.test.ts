/**
 * The chaos controls a host gives the playground, in Debian's Chromium: the three pages render
 * the controls the server lists (a host's button among them, the built-in ones left out gone,
 * with a note that says why), and clicking the host's button runs it and logs it in every
 * page's timeline. Needs `pnpm build` first (the pages load the built bundles).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../testing/chromium';
import { type Playground, startPlayground } from '../src/server/playground';

const names = ['vanilla', 'react', 'vue'] as const;
type Name = (typeof names)[number];

const reason = 'the pages connect to the nodes, not to the playground';

let playground: Playground;
let browser: Browser;
const pages = {} as Record<Name, Page>;
/** Uncaught exceptions per page. */
const problems = {} as Record<Name, string[]>;
/** The names the host's control was run with, in order: one per click. */
const kills: string[] = [];

/** The chaos buttons a page shows, in order, by the control each one runs. */
const buttons = (page: Page): Promise<string[]> =>
  page.$$eval('.chaos-btn', (all) => all.map((button) => button.getAttribute('data-action') ?? ''));

beforeAll(async () => {
  playground = await startPlayground({
    port: 0,
    intervals: { metrics: 500, notifications: 1000, chat: 2000, jobStep: 40, token: 12 },
    chaos: {
      controls: [
        {
          name: 'kill-node-1',
          label: 'Kill node 1',
          description: 'SIGKILL node 1; the cluster starts it again',
          async run() {
            kills.push('node 1');
            return { action: `Killed node 1 (${kills.length})` };
          },
        },
      ],
      unavailable: {
        drop: reason,
        'block-websocket': reason,
        'allow-websocket': reason,
        'expire-tokens': reason,
        stall: reason,
        'restart-kept': reason,
        'restart-lost': reason,
      },
    },
  });
  browser = await launchChromium();
  for (const name of names) {
    const page = await (await browser.newContext()).newPage();
    problems[name] = [];
    page.on('pageerror', (error) => problems[name].push(error.message));
    await page.goto(`${playground.url}${name}`);
    pages[name] = page;
  }
});

afterAll(async () => {
  await browser?.close();
  await playground?.close();
});

describe("the playground's chaos controls with a host's own", () => {
  it('should show the controls the server lists, and say why the others are left out', async () => {
    for (const name of names) {
      const page = pages[name];
      await page.locator('[data-action="kill-node-1"]').waitFor();
      expect(await buttons(page), name).toEqual(['kill-node-1', 'pause']);
      expect(await page.locator('[data-action="kill-node-1"]').textContent(), name).toBe(
        'Kill node 1',
      );
      expect(await page.locator('[data-action="kill-node-1"]').getAttribute('title'), name).toBe(
        'SIGKILL node 1; the cluster starts it again',
      );
      expect(await page.locator('.chaos-note').allTextContents(), name).toEqual([
        `Drop connections, Block WebSocket, Allow WebSocket, Expire tokens, Stall streams, Restart (keep history), Restart (lose history): left out, as ${reason}.`,
      ]);
    }
  });

  it("should run the host's control on a click and log it in every page's timeline", async () => {
    for (const [index, name] of names.entries()) {
      await pages[name].click('[data-action="kill-node-1"]');
      const action = `Killed node 1 (${index + 1})`;
      await pages[name].locator('#log li .chaos', { hasText: action }).first().waitFor();
      expect(kills).toHaveLength(index + 1);
      // The other pages hear of it from `/api/stats`.
      for (const other of names.filter((candidate) => candidate !== name)) {
        await pages[other]
          .locator('#log li .chaos', { hasText: `${action}, from another tab` })
          .first()
          .waitFor();
      }
    }
    // A built-in control that applies still swaps with its opposite.
    await pages.vue.click('[data-action="pause"]');
    for (const name of names) {
      await pages[name].locator('[data-action="resume"]').waitFor();
      expect(await buttons(pages[name]), name).toEqual(['kill-node-1', 'resume']);
      expect(problems[name], name).toEqual([]);
    }
  });
});
