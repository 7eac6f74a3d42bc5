// The throughput run inside a real browser: Debian's Chromium driven by
// playwright-core. The page is served from a loopback server; each trial gets a
// fresh tab and a fresh server worker (the same servers as the Node runs), and
// the page reports its count over a control WebSocket so the server's credit
// window follows it. Also counts the connections 10 SSE channels take.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { WebSocketServer } from 'ws';
import { nowUs } from './lib/event.mjs';
import { servePage } from './lib/page.mjs';
import { int, median, printTable, ratio } from './lib/report.mjs';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const defaults = {
  rounds: 3,
  warmupMs: 500,
  durationMs: 2000,
  window: 2048,
  sseChannels: 10,
};

// Consumers run inside the page: each is serialized with its source, so it may
// only use the page's globals. open(url, onEvent) resolves to a close function.
const pageConsumers = {
  'WebSocket (raw, JSON.parse)': {
    transport: 'websocket',
    server: 'ws-raw',
    baseline: true,
    open: async (url, onEvent) => {
      const ws = new WebSocket(url);
      ws.onmessage = (e) => onEvent(JSON.parse(e.data));
      await new Promise((resolve) => {
        ws.onopen = resolve;
      });
      return () => ws.close();
    },
  },
  'fetch SSE reader (raw)': {
    transport: 'sse',
    server: 'sse-raw',
    baseline: true,
    open: async (url, onEvent) => {
      const controller = new AbortController();
      const response = await fetch(url, { signal: controller.signal });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let start = 0;
          let end = buffer.indexOf('\n\n');
          while (end !== -1) {
            if (buffer.startsWith('data: ', start))
              onEvent(JSON.parse(buffer.slice(start + 6, end)));
            start = end + 2;
            end = buffer.indexOf('\n\n', start);
          }
          buffer = buffer.slice(start);
        }
      })().catch(() => {});
      return () => controller.abort();
    },
  },
  'EventSource (the browser’s own)': {
    transport: 'sse',
    server: 'sse-raw',
    open: async (url, onEvent) => {
      const source = new EventSource(url);
      source.onmessage = (e) => onEvent(JSON.parse(e.data));
      await new Promise((resolve) => {
        source.onopen = resolve;
      });
      return () => source.close();
    },
  },
  'Tidewire WebSocket (global build)': tidewireSlot('websocket'),
  'Tidewire SSE (global build)': tidewireSlot('sse'),
};

function tidewireSlot(transport) {
  return {
    transport,
    server: 'tidewire',
    tidewire: true,
    // `transport` reaches the page through `options`, as functions lose their closure.
    options: { transport },
    open: async (url, onEvent, { transport: t, channels = 1 }) => {
      if (!window.Tidewire?.createClient) throw new Error('pending: no Tidewire global build');
      const client = window.Tidewire.createClient({ url, transport: t });
      const subs = Array.from({ length: channels }, (_, i) => {
        const sub = client.subscribe(`bench-${i}`, { transport: t, duplex: t === 'websocket' });
        sub.on('event', (e) => onEvent(e.data));
        return sub;
      });
      const deadline = Date.now() + 10_000;
      while (!subs.every((s) => s.getSnapshot().status === 'live')) {
        if (Date.now() > deadline) {
          client.close();
          throw new Error(`not live after 10 s: ${JSON.stringify(subs[0].getSnapshot())}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return () => client.close();
    },
  };
}

/** Runs inside the page: one throughput measurement. */
async function pageTrial({ url, control, warmupMs, durationMs, options }) {
  const open = window.benchOpen;
  const ctl = new WebSocket(control);
  await new Promise((resolve) => {
    ctl.onopen = resolve;
  });
  let count = 0;
  const close = await open(
    url,
    () => {
      if ((++count & 255) === 0) ctl.send(String(count));
    },
    options,
  );
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(warmupMs);
  const before = count;
  const start = performance.now();
  await sleep(durationMs);
  const seconds = (performance.now() - start) / 1000;
  const events = count - before;
  close();
  ctl.close();
  return { events, seconds, rate: events / seconds };
}

/** The page's own origin: the page (see lib/page.mjs) and the control socket. */
async function startPageServer(onCount) {
  const server = http.createServer(servePage);
  const wss = new WebSocketServer({ server, path: '/control' });
  wss.on('connection', (ws) => ws.on('message', (m) => onCount(Number(m))));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    control: `ws://127.0.0.1:${port}/control`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function startWorker(kind, mode, counter, o) {
  const worker = new Worker(new URL('./lib/servers.mjs', import.meta.url), {
    workerData: { kind, mode, window: o.window, counter },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', ({ url }) => resolve({ worker, url }));
    worker.once('error', reject);
  });
}

async function stopWorker(worker) {
  worker.postMessage({ type: 'close' });
  await Promise.race([
    new Promise((resolve) => worker.once('exit', resolve)),
    new Promise((resolve) => setTimeout(resolve, 3000)),
  ]);
}

/** Ask a worker for an action by name (see `actions` in servers.mjs). */
function call(worker, name, ...args) {
  return new Promise((resolve) => {
    const onMessage = (m) => {
      if (m?.called !== name) return;
      worker.off('message', onMessage);
      resolve(m.result);
    };
    worker.on('message', onMessage);
    worker.postMessage({ type: 'call', name, args });
  });
}

/**
 * Tidewire's page is served by the Tidewire server itself (same origin): its SSE
 * request sends Cache-Control, which the protocol's CORS preflight does not allow,
 * so a cross-origin page cannot open the stream (reported in BENCHMARKS.md).
 */
function pageUrl(page, consumer, url) {
  return consumer.tidewire ? `${new URL(url).origin}/bench-page` : page.origin;
}

/** Puts a consumer's `open` into the page as `window.benchOpen`. */
function definePageConsumer(tab, consumer) {
  return tab.addScriptTag({ content: `window.benchOpen = ${consumer.open.toString()};` });
}

async function trial(context, page, name, o) {
  const c = pageConsumers[name];
  const counter = new SharedArrayBuffer(8);
  const delivered = new Int32Array(counter);
  page.setCount((n) => {
    Atomics.store(delivered, 0, n);
    if (n >= Atomics.load(delivered, 1)) Atomics.notify(delivered, 0);
  });
  const { worker, url } = await startWorker(c.server, 'credit', counter, o);
  const tab = await context.newPage();
  tab.on('crash', () => o.log?.(`  ${name}: the tab crashed`));
  tab.on('pageerror', (error) => o.log?.(`  ${name}: ${error.message}`));
  tab.on('console', (m) => m.type() === 'error' && o.log?.(`  ${name}: console: ${m.text()}`));
  try {
    await tab.goto(pageUrl(page, c, url));
    await definePageConsumer(tab, c);
    return {
      ok: true,
      ...(await tab.evaluate(pageTrial, {
        url,
        control: page.control,
        warmupMs: o.warmupMs,
        durationMs: o.durationMs,
        options: c.options ?? {},
      })),
    };
  } catch (error) {
    const message = String(error?.message ?? error);
    return { ok: false, pending: message.includes('pending'), error: message.split('\n')[0] };
  } finally {
    await tab.close();
    await stopWorker(worker);
  }
}

/** Server-side TCP connections for 10 SSE channels: Tidewire vs one EventSource each. */
async function sseConnections(context, page, o) {
  const rows = [];
  const cases = [
    ['Tidewire SSE (global build)', 'tidewire', 'tidewire'],
    ['EventSource per channel', 'sse-raw', 'naive'],
  ];
  for (const [name, kind, how] of cases) {
    const { worker, url } = await startWorker(kind, 'idle', new SharedArrayBuffer(8), o);
    const tab = await context.newPage();
    try {
      await tab.goto(pageUrl(page, { tidewire: kind === 'tidewire' }, url));
      await definePageConsumer(tab, pageConsumers['Tidewire SSE (global build)']);
      const since = nowUs();
      const opened = await tab.evaluate(
        async ({ how, url, channels }) => {
          if (how === 'naive') {
            for (let i = 0; i < channels; i++) new EventSource(`${url}?channel=bench-${i}`);
            await new Promise((resolve) => setTimeout(resolve, 1000));
            return channels;
          }
          await window.benchOpen(url, () => {}, { transport: 'sse', channels });
          return channels;
        },
        { how, url, channels: o.sseChannels },
      );
      const accepted = (await call(worker, 'acceptedSince', since)).length;
      const streams = await call(worker, 'streams');
      rows.push({
        name,
        ok: true,
        channels: opened,
        accepted,
        open: await call(worker, 'openCount'),
        streams,
      });
    } catch (error) {
      const message = String(error?.message ?? error);
      rows.push({
        name,
        ok: false,
        pending: message.includes('pending'),
        error: message.split('\n')[0],
      });
    } finally {
      await tab.close();
      await stopWorker(worker);
    }
  }
  return rows;
}

export async function run(options = {}) {
  const o = { ...defaults, ...options };
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'tidewire-bench-'));
  let onCount = () => {};
  const page = await startPageServer((n) => onCount(n));
  page.setCount = (f) => {
    onCount = f;
  };
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
  });
  try {
    const names = Object.keys(pageConsumers).filter((n) => !o.consumers || o.consumers.includes(n));
    const results = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < o.rounds; round++) {
      for (const name of names) {
        const first = results[name][0];
        const result =
          first && !first.ok && first.pending ? first : await trial(context, page, name, o);
        results[name].push(result);
        o.log?.(
          `  browser round ${round + 1}/${o.rounds} ${name}: ${result.ok ? 'ok' : result.error}`,
        );
      }
    }
    const rows = names.map((name) => {
      const c = pageConsumers[name];
      const base =
        results[
          names.find((n) => pageConsumers[n].baseline && pageConsumers[n].transport === c.transport)
        ];
      const ok = results[name].filter((r) => r.ok);
      const ratios = results[name]
        .map((r, i) => (r.ok && base[i]?.ok ? r.rate / base[i].rate : Number.NaN))
        .filter(Number.isFinite);
      const failed = results[name].find((r) => !r.ok);
      return {
        name,
        transport: c.transport,
        tidewire: Boolean(c.tidewire),
        rounds: ok.length,
        median: median(ok.map((r) => r.rate)),
        ratio: median(ratios),
        status: ok.length ? 'measured' : failed?.pending ? 'pending' : `failed: ${failed?.error}`,
      };
    });
    printTable(
      `Throughput in Chromium (events/s to the listener, median of ${o.rounds} interleaved rounds)`,
      ['consumer', 'transport', 'events/s', 'vs baseline', 'rounds'],
      rows.map((r) =>
        r.status === 'measured'
          ? [r.name, r.transport, int(r.median), ratio(r.ratio), r.rounds]
          : [r.name, r.transport, r.status, '', 0],
      ),
    );
    const connections = await sseConnections(context, page, o);
    printTable(
      `${o.sseChannels} SSE channels in Chromium, seen by the server (HTTP/1.1: at most 6 connections per host)`,
      ['client', 'event streams served', 'TCP connections open', 'new TCP connections'],
      connections.map((r) =>
        r.ok ? [r.name, r.streams, r.open, r.accepted] : [r.name, r.error, '', ''],
      ),
    );
    return { options: o, rows, connections };
  } finally {
    await context.close();
    await page.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
