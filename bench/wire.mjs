// Bytes on the wire per event: what @tidewire/server sends for one 100-byte payload, in each
// form a reader may ask for. A subscriber connects over loopback, the server publishes
// E events on one channel, and the figure is the bytes the subscriber received between
// its subscription's confirmation and the last event, divided by E (so the opening,
// the welcome and `subscribed`, is not counted; heartbeats are too rare to land here).
// Bytes of the stream itself: HTTP chunking and WebSocket framing are not counted. Events
// go back to back (the server joins what one tick publishes) and one per tick (the worst
// case: a block or message each); the target takes the larger.
//
// Forms: SSE as the Tidewire client reads it (POST, `v=2&batch=1`: form E), SSE as a
// standard EventSource reads it (GET `?v=2`: form C, an `id:` line per event), SSE of
// protocol version 1 (GET without `v`: a JSON envelope per event), and WebSocket lines of
// version 2. Run after `pnpm build`:
//   node bench/run.mjs wire
import { createServer, request } from 'node:http';
import WebSocket from 'ws';
import { EVENT_BYTES, makeEvent } from './lib/event.mjs';
import { printTable } from './lib/report.mjs';
import { tidewireModule } from './lib/snapshot.mjs';

export const defaults = { events: 2000 };

/** The SSE forms and how each is asked for. */
const sseForms = [
  { name: 'SSE, form E (Tidewire client)', method: 'POST', query: '', body: 'v=2&batch=1' },
  { name: 'SSE, form C (EventSource)', method: 'GET', query: 'v=2&', body: '' },
  { name: 'SSE, protocol version 1', method: 'GET', query: '', body: '' },
];

export async function run(options = {}) {
  const o = { ...defaults, ...options };
  const { createTidewireServer } = await import(tidewireModule('server'));
  const rows = [];
  for (const form of [...sseForms, { name: 'WebSocket, version 2 lines' }]) {
    const batched = await measure(createTidewireServer, form, o.events, false);
    const alone = await measure(createTidewireServer, form, o.events, true);
    rows.push({ name: form.name, bytesPerEvent: batched, alone });
  }
  const formE = Math.max(rows[0].bytesPerEvent, rows[0].alone);
  const targets = [
    {
      name: 'SSE bytes per 100-byte payload (form E): ≤ 145',
      status: formE <= 145 ? 'met' : 'missed',
      value: formE,
      unit: 'bytes',
    },
  ];
  printTable(
    `Bytes on the wire per ${EVENT_BYTES}-byte payload (${o.events} events on one channel)`,
    ['form', 'bytes per event, back to back', 'bytes per event, one per tick'],
    rows.map((r) => [r.name, r.bytesPerEvent.toFixed(1), r.alone.toFixed(1)]),
  );
  for (const t of targets) console.log(`target: ${t.name}: ${t.status}`);
  return { options: o, rows, targets };
}

/**
 * One subscriber in `form`; the bytes it receives per event for `events` published events,
 * back to back (the server batches what one tick publishes) or `spaced`, one per tick.
 */
async function measure(createTidewireServer, form, events, spaced) {
  const tw = createTidewireServer({ logger: { warn() {}, error() {} } });
  const server = createServer();
  tw.attach(server);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  try {
    const reader =
      form.method === undefined ? await subscribeWs(port) : await subscribeSse(port, form);
    const from = reader.bytes();
    for (let seq = 0; seq < events; seq++) {
      await tw.publish('bench', makeEvent(seq, 0));
      if (spaced) await new Promise((resolve) => setImmediate(resolve));
    }
    await reader.until((text) => text.includes(`"seq":${events - 1},`));
    const bytes = reader.bytes() - from;
    reader.close();
    return bytes / events;
  } finally {
    await tw.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** A byte-counting reader: resolves `until` once the received text passes `test`. */
function counter() {
  let total = 0;
  let tail = '';
  let waiting;
  return {
    add(chunk) {
      total += chunk.length;
      tail = (tail + chunk.toString('utf8')).slice(-4096);
      if (waiting?.test(tail)) waiting.resolve();
    },
    bytes: () => total,
    tail: () => tail,
    until(test) {
      return new Promise((resolve, reject) => {
        if (test(tail)) return resolve();
        const timer = setTimeout(() => reject(new Error('the last event never came')), 30_000);
        waiting = {
          test,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
  };
}

async function subscribeSse(port, form) {
  const count = counter();
  const req = request({
    host: '127.0.0.1',
    port,
    method: form.method,
    path: `/tidewire/sse?${form.query}channel=bench`,
    headers: { 'content-type': 'text/plain' },
  });
  req.on('response', (res) => res.on('data', (chunk) => count.add(chunk)));
  req.end(form.body ? `${form.body}` : undefined);
  await count.until((text) => text.includes('subscribed'));
  // Whatever follows `subscribed` in its chunk belongs to the opening too.
  return { ...count, close: () => req.destroy() };
}

async function subscribeWs(port) {
  const count = counter();
  const ws = new WebSocket(`ws://127.0.0.1:${port}/tidewire/ws?v=2`, { perMessageDeflate: false });
  ws.on('message', (data) => count.add(data));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'auth' }));
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'bench' }));
  await count.until((text) => text.includes('"subscribed"'));
  return { ...count, close: () => ws.terminate() };
}
