// Footprint:
// - heap per idle subscription: after warm-up clients (three rounds of one with 1
//   channel and one with 1,000, opened and closed), one client with 1 channel, then
//   one with 1,000 channels on one connection; (second − first) / 999, each after a
//   full GC.
// - connections for 10 SSE channels: Tidewire multiplexes them on one stream;
//   the naive way is one EventSource per channel.
import { getHeapStatistics } from 'node:v8';
import { nowUs } from './lib/event.mjs';
import { interleaved } from './lib/interleave.mjs';
import { median, printTable } from './lib/report.mjs';

const sleep = (t) => new Promise((resolve) => setTimeout(resolve, t));

async function heapAfterGc() {
  await sleep(50);
  globalThis.gc?.();
  globalThis.gc?.();
  return getHeapStatistics().used_heap_size;
}

/** Clients that can put many channels on one connection. */
export const multiplexing = ['Tidewire WebSocket', 'Tidewire SSE', 'phoenix'];

async function heap({ spec, open }) {
  if (!globalThis.gc) throw new Error('run with --expose-gc');
  // Clients opened and closed first load and compile the library's code (and the server's
  // answers), so that neither figure below carries what is paid once per process. Three
  // rounds of both sizes: with one, the HTTP client's code compiled while the 1,000-channel
  // stream opened (feedback vectors, baseline code, about 250 KB on SSE) was counted as
  // 250 bytes per subscription.
  for (let round = 0; round < 3; round++) {
    const a = await open(() => {}, { channels: 1 });
    const b = await open(() => {}, { channels: spec.channels });
    a.close();
    b.close();
  }
  const start = await heapAfterGc();
  await open(() => {}, { channels: 1 });
  const one = await heapAfterGc();
  await open(() => {}, { channels: spec.channels });
  const many = await heapAfterGc();
  return {
    channels: spec.channels,
    firstClientBytes: one - start,
    bytesPerSubscription: (many - one - (one - start)) / (spec.channels - 1),
  };
}

async function connections({ spec, server, open, consumer }) {
  const since = nowUs();
  if (consumer.tidewire) await open(() => {}, { channels: spec.channels });
  else for (let i = 0; i < spec.channels; i++) await open(() => {});
  await sleep(spec.warmupMs);
  const accepted = await server.call('acceptedSince', since);
  return {
    channels: spec.channels,
    accepted: accepted.length,
    open: await server.call('openCount'),
    streams: await server.call('streams'),
  };
}

export const measures = { heap, connections };

export const defaults = { rounds: 3, channels: 1000, sseChannels: 10 };

export async function run(options = {}) {
  const o = { ...defaults, ...options };
  const limits = { maxChannelsPerConnection: o.channels };
  const heapResults = await interleaved(
    multiplexing,
    {
      measure: 'heap',
      serverMode: 'idle',
      channels: o.channels,
      serverOptions: { limits },
      warmupMs: 0,
      durationMs: 0,
      extraMs: 30_000,
    },
    o.rounds,
    o.log,
  );
  const heapRows = multiplexing.map((name) => {
    const ok = heapResults[name].filter((r) => r.ok);
    const failed = heapResults[name].find((r) => !r.ok);
    return {
      name,
      status: ok.length ? 'measured' : failed?.pending ? 'pending' : `failed: ${failed?.error}`,
      bytesPerSubscription: median(ok.map((r) => r.bytesPerSubscription)),
    };
  });
  printTable(
    `Heap per idle subscription, ${o.channels} channels on one connection (median of ${o.rounds})`,
    ['client', 'bytes per subscription'],
    heapRows.map((r) => [
      r.name,
      r.status === 'measured' ? Math.round(r.bytesPerSubscription) : r.status,
    ]),
  );
  const naive = ['Tidewire SSE', 'eventsource'];
  const connResults = await interleaved(
    naive,
    {
      measure: 'connections',
      serverMode: 'idle',
      channels: o.sseChannels,
      warmupMs: 300,
      durationMs: 0,
    },
    1,
    o.log,
  );
  const connRows = naive.map((name) => ({ name, ...connResults[name][0] }));
  printTable(
    `Connections for ${o.sseChannels} SSE channels (Node; see the browser benchmark for Chromium)`,
    ['client', 'event streams served', 'TCP connections open', 'new TCP connections'],
    connRows.map((r) =>
      r.ok
        ? [r.name, r.streams, r.open, r.accepted]
        : [r.name, r.pending ? 'pending' : r.error, '', ''],
    ),
  );
  return { options: o, heap: heapRows, connections: connRows };
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
