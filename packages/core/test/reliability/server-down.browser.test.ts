import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { launchChromium } from '../../../../testing/chromium';
import { type Counts, expectPolite, startDownServer, WINDOW_MS } from './down-server';

// The global build in Chromium, with DEFAULT retry settings, against a server that is down:
// every TCP connection is accepted, its request read and the socket destroyed, so fetch and
// WebSocket both fail with network errors. The server counts each connection (a CORS preflight
// is one too: the page is on another port): the honest measure of how hard the page knocks.
// The policy under test: full-jitter exponential backoff from 1 s to 30 s, one schedule shared
// by both transports, so about 5–7 attempts in 15 s; 12 is the ceiling.

const bundlePath = new URL('../../dist/tidewire.min.js', import.meta.url);

/** A state change as the page records it (the error object stays in the page). */
interface Seen {
  transport: string;
  status: string;
  attempt?: number;
  delay?: number;
}

interface Recorded {
  tokens: number;
  seen: Seen[];
}

/** What the probe puts on `window`. */
interface Probe {
  start(url: string, channel: string, duplex: boolean): void;
  /** Records what was seen, then closes the client. */
  finish(): Recorded;
}

// A plain script: the client with its defaults but a counting getToken.
const probe = `
window.start = (url, channel, duplex) => {
  const out = { tokens: 0, seen: [] };
  const client = Tidewire.createClient({ url, getToken: () => { out.tokens++; return 'tok'; } });
  client.on('state', ({ transport, next }) =>
    out.seen.push({ transport, status: next.status, attempt: next.attempt, delay: next.delay }));
  client.subscribe(channel, duplex ? { duplex: true } : undefined);
  window.finish = () => {
    const recorded = { tokens: out.tokens, seen: out.seen.slice() };
    client.close();
    return recorded;
  };
};
document.title = 'ready';
`;

const page = `<!doctype html><meta charset="utf-8"><title>server down</title>
<script src="/tidewire.min.js"></script><script src="/probe.js"></script>`;

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

const describeSeen = (s: Seen) => `${s.transport}:${s.status}#${s.attempt ?? '-'}`;

const scenarios = [
  { name: "'auto' listen-only", channel: 'prices', duplex: false },
  { name: "'auto' duplex", channel: 'room', duplex: true },
];

describe.concurrent('a page whose client has default retry settings while the server is down', () => {
  let pages: Server;
  let pageOrigin: string;
  let chromium: Browser;

  beforeAll(async () => {
    if (!existsSync(bundlePath))
      throw new Error('dist/tidewire.min.js is missing: run `pnpm build` first');
    const bundle = readFileSync(bundlePath, 'utf8');
    pages = createHttpServer((req, res) => {
      const [type, body] =
        req.url === '/tidewire.min.js'
          ? ['text/javascript', bundle]
          : req.url === '/probe.js'
            ? ['text/javascript', probe]
            : ['text/html', page];
      res.writeHead(200, { 'content-type': `${type}; charset=utf-8` }).end(body);
    });
    pageOrigin = `http://127.0.0.1:${await listen(pages)}`;
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await new Promise((r) => pages?.close(r));
  });

  for (const { name, channel, duplex } of scenarios)
    it(`should not hammer the server (${name})`, { timeout: WINDOW_MS + 30_000 }, async ({
      expect,
    }) => {
      const down = await startDownServer();
      // A context of its own: its own renderer and sessionStorage, so the scenarios stay apart.
      const context = await chromium.newContext();
      const pageErrors: string[] = [];
      let recorded: Recorded;
      let counts: Counts;
      try {
        const tab = await context.newPage();
        tab.on('pageerror', (e) => pageErrors.push(e.message));
        await tab.goto(`${pageOrigin}/`);
        await tab.waitForFunction(() => document.title === 'ready');
        await tab.evaluate(
          ([url, channel, duplex]) => (window as unknown as Probe).start(url, channel, duplex),
          [down.url, channel, duplex] as const,
        );
        await sleep(WINDOW_MS);
        // The page's figures first: the client is closed with them, so every connection the
        // server counts afterwards had its getToken call recorded already.
        recorded = await tab.evaluate(() => (window as unknown as Probe).finish());
        counts = down.counts();
      } finally {
        await context.close();
        await down.close();
      }

      const { tokens, seen } = recorded;
      const attempts = counts.total;
      const delays = seen.flatMap((s) => (s.status === 'waiting' ? [s.delay] : []));
      const numbered = seen.filter((s) => s.attempt !== undefined);
      const decreases = numbered.flatMap((s, i) => {
        const prev = numbered[i - 1];
        return prev && s.attempt! < prev.attempt!
          ? [`${describeSeen(prev)} -> ${describeSeen(s)}`]
          : [];
      });
      const finite = delays.filter((d): d is number => Number.isFinite(d));
      console.log(
        `[server-down chromium] ${name}: ${attempts} connections in ${WINDOW_MS / 1000} s ` +
          `(sse ${counts.sse} incl. ${counts.preflight} preflights, websocket ${counts.websocket}, ` +
          `other ${counts.other}); getToken ${tokens}; waits ${delays.length}, ` +
          `max delay ${Math.max(0, ...finite)} ms; attempt decreases ${decreases.length}`,
      );

      expect.soft(pageErrors, 'uncaught errors in the page').toEqual([]);
      expectPolite(expect, { attempts, tokens, delays, decreases });
    });
});
