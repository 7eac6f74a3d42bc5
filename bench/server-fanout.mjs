// Fan-out throughput of @tidewire/server: S subscribers on one channel, E events of
// about 100 bytes published as fast as the server accepts them; the figure is
// deliveries (S × E) per second, from the first publish to the last delivery,
// and the server's own cost per delivery: the time its event loop was busy
// (publishing, framing, writing, GC) until the last delivery, and the time
// from the first publish until every event was written to the sockets (the
// publishes and the end-of-tick writes, before the next macrotask).
//
// The server runs on this thread, the subscribers on a worker thread, all on
// 127.0.0.1. Run after `pnpm build`, as part of the suite or alone:
//   node bench/run.mjs fanout                (figures into bench/results.json)
//   node bench/server-fanout.mjs [--subscribers 1000] [--events 200] [--rounds 5]
// TIDEWIRE_SERVER_MODULE overrides the module under test (default: the built
// @tidewire/server): `label=path` or `path` entries separated by commas are
// measured in interleaved rounds (A, B, A, B, …), to compare a change with
// what it replaces.
import { createServer, get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { int, median, printTable } from './lib/report.mjs';
import { tidewireModule } from './lib/snapshot.mjs';

const TIME_LIMIT_MS = 60_000;

export const defaults = { subscribers: 1000, events: 200, rounds: 5 };

/**
 * The builds under test: TIDEWIRE_SERVER_MODULE as `label=path` or `path`
 * entries separated by commas, else the built @tidewire/server.
 */
function modulesUnderTest() {
  const spec = process.env.TIDEWIRE_SERVER_MODULE;
  if (!spec) return [{ label: 'current build', path: tidewireModule('server') }];
  return spec.split(',').map((entry) => {
    const at = entry.indexOf('=');
    return at === -1
      ? { label: entry.split('/').slice(-2).join('/'), path: entry }
      : { label: entry.slice(0, at), path: entry.slice(at + 1) };
  });
}

/** Interleaved rounds of every build, per transport; one row per build and transport. */
export async function run(options = {}) {
  const o = { ...defaults, ...options };
  const count = Math.min(o.subscribers, 5000);
  const events = Math.min(o.events, 10_000);
  const modules = [];
  for (const m of modulesUnderTest()) modules.push({ ...m, ...(await import(m.path)) });
  const rows = [];
  for (const transport of ['sse', 'websocket']) {
    const results = modules.map(() => []);
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, m] of modules.entries()) {
        results[i].push(await trial(m.createTidewireServer, transport, count, events));
        o.log?.(`  round ${round + 1}/${o.rounds} ${m.label} ${transport}`);
      }
    }
    for (const [i, m] of modules.entries()) {
      const mid = (key) => median(results[i].map((r) => r[key]));
      rows.push({
        build: m.label,
        transport,
        rounds: results[i].length,
        rate: mid('rate'),
        busyUsPerDelivery: mid('busyUsPerDelivery'),
        handoffUsPerDelivery: mid('handoffUsPerDelivery'),
        publishMs: mid('publishMs'),
        totalMs: mid('totalMs'),
      });
    }
  }
  printTable(
    `Fan-out of @tidewire/server: ${count} subscribers × ${events} events of ~100 bytes (median of ${o.rounds} interleaved rounds)`,
    [
      'build',
      'transport',
      'deliveries/s',
      'busy µs/delivery',
      'written µs/delivery',
      'publish loop',
    ],
    rows.map((r) => [
      r.build,
      r.transport,
      int(r.rate),
      r.busyUsPerDelivery.toFixed(2),
      r.handoffUsPerDelivery.toFixed(2),
      `${r.publishMs.toFixed(1)} ms`,
    ]),
  );
  return { options: { ...o, subscribers: count, events, log: undefined }, rows };
}

if (!isMainThread) await subscribers(workerData);
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: String(defaults.subscribers) },
      events: { type: 'string', default: String(defaults.events) },
      rounds: { type: 'string', default: String(defaults.rounds) },
    },
  });
  await run({
    subscribers: Number(values.subscribers),
    events: Number(values.events),
    rounds: Math.min(Number(values.rounds), 10),
  });
}

/** One round: start a server, connect the subscribers, publish, wait for every delivery. */
async function trial(createTidewireServer, transport, count, events) {
  const logged = new Set();
  const once = (message) => {
    if (!logged.has(message)) console.error(message);
    logged.add(message);
  };
  const tw = createTidewireServer({
    heartbeatMs: 60_000,
    logger: { warn: () => {}, error: once },
    limits: { sendBufferBytes: 8 << 20, maxChannelsPerConnection: 1 },
  });
  const http = createServer();
  tw.attach(http);
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const base = `127.0.0.1:${http.address().port}/tidewire`;
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { transport, base, count, events },
  });
  const messages = [];
  let notify = () => {};
  worker.on('message', (m) => {
    messages.push(m);
    notify();
  });
  worker.on('error', (e) => {
    messages.push({ type: 'error', error: String(e) });
    notify();
  });
  const next = (type) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${type}`)),
        TIME_LIMIT_MS,
      );
      const check = () => {
        const found = messages.find((m) => m.type === type || m.type === 'error');
        if (!found) return;
        clearTimeout(timer);
        if (found.type === 'error') reject(new Error(found.error));
        else resolve(found);
      };
      notify = check;
      check();
    });
  try {
    await next('ready');
    const data = { text: 'x'.repeat(80) };
    const elu = performance.eventLoopUtilization();
    const start = performance.now();
    for (let i = 0; i < events; i++) tw.publish('bench', { i, ...data });
    const publishMs = performance.now() - start;
    // Until the next macrotask: the publishes plus the end-of-tick writes to every socket.
    await new Promise(setImmediate);
    const handoffMs = performance.now() - start;
    const done = await next('done');
    // Busy time of this thread (the server's) from the first publish to the last delivery.
    const busyMs = performance.eventLoopUtilization(elu).active;
    const totalMs = done.at - (performance.timeOrigin + start);
    return {
      rate: (count * events) / (totalMs / 1000),
      busyUsPerDelivery: (busyMs * 1000) / (count * events),
      publishMs,
      handoffUsPerDelivery: (handoffMs * 1000) / (count * events),
      totalMs,
    };
  } finally {
    await worker.terminate();
    await tw.close();
    await new Promise((resolve) => {
      http.close(resolve);
      http.closeAllConnections();
    });
  }
}

/** Worker: opens the subscribers, says `ready`, then `done` when all got every event. */
async function subscribers({ transport, base, count, events }) {
  let subscribed = 0;
  let complete = 0;
  const onSubscribed = () => {
    subscribed += 1;
    if (subscribed === count) parentPort.postMessage({ type: 'ready' });
  };
  const onEvent = (received) => {
    if (received !== events) return;
    complete += 1;
    if (complete === count) {
      parentPort.postMessage({ type: 'done', at: performance.timeOrigin + performance.now() });
    }
  };
  for (let i = 0; i < count; i++) {
    if (transport === 'sse') openSse(base, onSubscribed, onEvent);
    else openWs(base, onSubscribed, onEvent);
    // Open in small batches so that the listen backlog never overflows.
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function openSse(base, onSubscribed, onEvent) {
  let received = 0;
  let buffer = '';
  // Protocol version 2 in the batched form the Tidewire client asks for.
  get(`http://${base}/sse?v=2&batch=1&channel=bench`, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        // A block names its channel (or `@` and a control frame's type) in `event:`, then
        // holds a `data:` line per event.
        const lines = buffer.slice(0, end).split('\n');
        const name = lines.find((line) => line.startsWith('event: '))?.slice(7);
        if (name === '@subscribed') onSubscribed();
        else if (name === 'bench') {
          for (const line of lines) if (line.startsWith('data: ')) onEvent(++received);
        }
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
    });
  }).on('error', (error) => parentPort.postMessage({ type: 'error', error: String(error) }));
}

function openWs(base, onSubscribed, onEvent) {
  let received = 0;
  const ws = new WebSocket(`ws://${base}/ws?v=2`);
  ws.on('open', () => {
    ws.send('{"type":"auth"}');
    ws.send('{"type":"subscribe","channel":"bench"}');
  });
  ws.on('message', (data) => {
    // A message holds one or more lines separated by LF: a JSON frame, or an event line.
    for (const line of String(data).split('\n')) {
      if (line[0] !== '{') onEvent(++received);
      else if (JSON.parse(line).type === 'subscribed') onSubscribed();
    }
  });
  ws.on('error', (error) => parentPort.postMessage({ type: 'error', error: String(error) }));
}
