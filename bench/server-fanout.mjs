// Fan-out throughput of @tidewire/server: S subscribers on one channel, E events of
// about 100 bytes published as fast as the server accepts them; the figure is
// deliveries (S × E) per second, from the first publish to the last delivery,
// and the server's own cost per delivery: the time its event loop was busy
// (publishing, framing, writing, GC) until the last delivery, and the time
// from the first publish until every event was written to the sockets (the
// publishes and the end-of-tick writes, before the next macrotask).
//
// The server runs on this thread, the subscribers on a worker thread, all on
// 127.0.0.1. Run after `pnpm build`:
//   node bench/server-fanout.mjs [--subscribers 1000] [--events 200] [--rounds 3]
// TIDEWIRE_SERVER_MODULE overrides the module under test (default: the built
// dist); several modules separated by commas are measured in interleaved rounds
// (A, B, A, B, …), to compare a change with what it replaces.
import { createServer, get } from 'node:http';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const TIME_LIMIT_MS = 60_000;

if (isMainThread) await main();
else await subscribers(workerData);

async function main() {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '1000' },
      events: { type: 'string', default: '200' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const count = Math.min(Number(values.subscribers), 5000);
  const events = Math.min(Number(values.events), 10_000);
  const rounds = Math.min(Number(values.rounds), 10);
  const modulePaths = (
    process.env.TIDEWIRE_SERVER_MODULE ??
    new URL('../packages/server/dist/index.js', import.meta.url).href
  ).split(',');
  const modules = [];
  for (const path of modulePaths) modules.push({ path, ...(await import(path)) });

  console.log(`fan-out: ${count} subscribers × ${events} events of ~100 bytes, ${rounds} rounds`);
  for (const transport of ['sse', 'websocket']) {
    const rates = modules.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, m] of modules.entries()) {
        rates[i].push(await trial(m.createTidewireServer, transport, count, events));
      }
    }
    for (const [i, m] of modules.entries()) {
      const mid = (key) => {
        const sorted = rates[i].map((r) => r[key]).sort((a, b) => a - b);
        return sorted[Math.floor(sorted.length / 2)];
      };
      const label = modules.length > 1 ? ` [${m.path.split('/').slice(-2).join('/')}]` : '';
      console.log(
        `${transport.padEnd(9)} ${Math.round(mid('rate')).toLocaleString('en-US')} deliveries/s, ` +
          `server busy ${mid('busyUsPerDelivery').toFixed(2)} µs per delivery, ` +
          `published and written to the sockets in ${mid('handoffUsPerDelivery').toFixed(2)} µs per delivery ` +
          `(median of rounds: ${rates[i].map((r) => Math.round(r.rate)).join(', ')}; ` +
          `publish loop ${mid('publishMs').toFixed(1)} ms, last delivery after ${mid('totalMs').toFixed(1)} ms)${label}`,
      );
    }
  }
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
  get(`http://${base}/sse?channel=bench`, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith('id: ')) onEvent(++received);
        else if (block.includes('"type":"subscribed"')) onSubscribed();
        end = buffer.indexOf('\n\n');
      }
    });
  }).on('error', (error) => parentPort.postMessage({ type: 'error', error: String(error) }));
}

function openWs(base, onSubscribed, onEvent) {
  let received = 0;
  const ws = new WebSocket(`ws://${base}/ws`);
  ws.on('open', () => {
    ws.send('{"type":"auth"}');
    ws.send('{"type":"subscribe","channel":"bench"}');
  });
  ws.on('message', (data) => {
    const frame = JSON.parse(data);
    if (frame.type === 'event') onEvent(++received);
    else if (frame.type === 'subscribed') onSubscribed();
  });
  ws.on('error', (error) => parentPort.postMessage({ type: 'error', error: String(error) }));
}
