/**
 * The playground's React page with `?share`: several tabs of one browser hold one SSE stream
 * and at most one WebSocket between them, and when the leading tab closes another takes over
 * with nothing lost or repeated, as the pages count it. Needs `pnpm build` first.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../testing/chromium';
import { type Playground, startPlayground } from '../src/server/playground';

let playground: Playground;
let browser: Browser;
let context: BrowserContext;
const tabs: Page[] = [];

/** The server's connection counts, from the playground's stats. */
async function connections(): Promise<{ sse: number; websocket: number }> {
  const stats = (await (await fetch(`${playground.url}api/stats`)).json()) as {
    connections: { sse: number; websocket: number };
  };
  return stats.connections;
}

/** A page's inspector rows: channel → lost, duplicates and received. */
const rowsOf = (page: Page) =>
  page.$$eval('tr[data-channel]', (rows) =>
    rows.map((row) => ({ ...(row as HTMLElement).dataset }) as Record<string, string>),
  );

async function until<T>(probe: () => Promise<T | false | undefined>, what: string, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every persistent channel of `page` live with events received. */
const streaming = async (page: Page) => {
  const rows = await rowsOf(page);
  return (
    rows.length >= 3 &&
    rows
      .filter((r) => ['metrics', 'notifications', 'chat'].includes(r.channel ?? ''))
      .every((r) => r.status === 'live' && Number(r.received) > 0)
  );
};

beforeAll(async () => {
  playground = await startPlayground({
    port: 0,
    intervals: { metrics: 100, notifications: 300, chat: 700, jobStep: 40, token: 12 },
  });
  browser = await launchChromium();
  context = await browser.newContext();
});

afterAll(async () => {
  await browser?.close();
  await playground?.close();
});

describe('the playground shared across tabs', () => {
  it('should hold one SSE stream and at most one WebSocket for three tabs', async () => {
    for (let i = 0; i < 3; i++) {
      const tab = await context.newPage();
      await tab.goto(`${playground.url}react?share`);
      tabs.push(tab);
    }
    for (const tab of tabs) await until(() => streaming(tab), 'every tab streaming');
    const counted = await connections();
    expect(counted.sse).toBe(1);
    expect(counted.websocket).toBeLessThanOrEqual(1);
  });

  it('should hand over when the leading tab closes, with nothing lost or repeated', async () => {
    type Shared = { client: { getState(): { leader?: boolean } } };
    const leaders = await until(async () => {
      const roles = await Promise.all(
        tabs.map((tab) =>
          tab.evaluate(() => (window as unknown as Shared).client.getState().leader),
        ),
      );
      return roles.filter(Boolean).length === 1 ? roles : undefined;
    }, 'exactly one leader');
    const leader = tabs[leaders.indexOf(true)];
    const survivors = tabs.filter((tab) => tab !== leader);
    await leader?.close();
    const before = await Promise.all(survivors.map(async (tab) => rowsOf(tab)));
    // Events keep coming in the surviving tabs, through the new leader.
    await until(async () => {
      const now = await Promise.all(survivors.map((tab) => rowsOf(tab)));
      return now.every((rows, i) =>
        rows.some((r) => {
          const was = before[i]?.find((b) => b.channel === r.channel);
          return r.channel === 'metrics' && Number(r.received) > Number(was?.received ?? 0) + 5;
        }),
      );
    }, 'events after the handover');
    for (const tab of survivors) {
      for (const row of await rowsOf(tab)) {
        expect(row.lost, `${row.channel} lost`).toBe('0');
        expect(row.duplicates, `${row.channel} duplicated`).toBe('0');
      }
    }
    const counted = await connections();
    expect(counted.sse).toBe(1);
    expect(counted.websocket).toBeLessThanOrEqual(1);
  });
});
