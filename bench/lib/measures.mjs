// What a trial can measure. Each measure is an async function of
// { spec, server, open, counter } returning the trial's figures; `open(onEvent)`
// connects the trial's consumer, `server.call(name, ...args)` asks the server
// worker for an action (see `actions` in servers.mjs).
import { measures as footprint } from '../footprint.mjs';
import { measures as recovery } from '../recovery.mjs';
import { nowUs } from './event.mjs';
import { percentile } from './report.mjs';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Share of wall time each event loop was busy, to tell which side limited a run. */
function utilization(worker) {
  const client = performance.eventLoopUtilization();
  const server = worker.performance.eventLoopUtilization();
  return () => ({
    clientBusy: performance.eventLoopUtilization(client).utilization,
    serverBusy: worker.performance.eventLoopUtilization(server).utilization,
  });
}

/** Latency samples (µs) → ms percentiles. */
export function summarizeUs(samplesUs) {
  const ms = samplesUs.map((us) => us / 1000);
  return {
    samples: ms.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: percentile(ms, 100),
  };
}

/**
 * The listener of a credit server's consumer: it counts events and reports the count every 256
 * events, which the server's credit window follows. It wakes the server only once the server
 * asked to be (half a window behind it).
 */
function creditListener(counter) {
  const shared = new Int32Array(counter);
  let count = 0;
  return {
    shared,
    count: () => count,
    onEvent: () => {
      if ((++count & 255) === 0) {
        Atomics.store(shared, 0, count);
        if (count >= Atomics.load(shared, 1)) Atomics.notify(shared, 0);
      }
    },
  };
}

/** Events/s delivered while the server stays `window` events ahead of the listener. */
async function throughput({ spec, server, open, counter }) {
  const listener = creditListener(counter);
  await open(listener.onEvent);
  await sleep(spec.warmupMs);
  const busy = utilization(server.worker);
  const before = listener.count();
  const start = performance.now();
  await sleep(spec.durationMs);
  const seconds = (performance.now() - start) / 1000;
  const events = listener.count() - before;
  return { events, seconds, rate: events / seconds, ...busy() };
}

/**
 * Throughput in slices that the parent process asks for, one at a time (`{ ms }` messages,
 * each answered with the slice's `{ rate }`; `{ done: true }` ends the trial). Between slices
 * the server is held back and what was in flight is let through first, so that another trial
 * process can take its own slice on a quiet machine (see bench/lib/paired.mjs).
 */
async function slices({ spec, open, counter }) {
  const { shared, count, onEvent } = creditListener(counter);
  await open(onEvent);
  const gate = (open) => {
    Atomics.store(shared, 2, open ? 1 : 0);
    Atomics.notify(shared, 2);
  };
  const settled = async () => {
    for (let last = -1; last !== count(); await sleep(20)) last = count();
  };
  await sleep(spec.warmupMs);
  gate(false);
  await settled();
  await new Promise((resolve) => {
    process.on('message', async (message) => {
      if (message.done) return resolve();
      const before = count();
      const start = performance.now();
      gate(true);
      await sleep(message.ms);
      const rate = (count() - before) / ((performance.now() - start) / 1000);
      gate(false);
      await settled();
      process.send({ rate });
    });
    process.send({ ready: true });
  });
  return {};
}
// The same server as `throughput` (a consumer may be served by another per measure).
slices.serverAs = 'throughput';

/** Publish → listener latency of events the server sends one per `intervalMs`. */
async function latency({ spec, server, open }) {
  const samples = [];
  let measuring = false;
  await open((event) => {
    if (measuring) samples.push(nowUs() - event.t);
  });
  await sleep(spec.warmupMs);
  const busy = utilization(server.worker);
  measuring = true;
  await sleep(spec.durationMs);
  measuring = false;
  return { ...summarizeUs(samples), ...busy() };
}

/** Round trips (send → the server's answer), one after another. */
async function roundTrip({ spec, server, open }) {
  const connection = await open(() => {});
  const end = () => performance.now() + spec.durationMs;
  for (let until = performance.now() + spec.warmupMs; performance.now() < until; ) {
    await connection.echo();
  }
  const busy = utilization(server.worker);
  const samples = [];
  for (const until = end(); performance.now() < until; ) {
    const start = nowUs();
    await connection.echo();
    samples.push(nowUs() - start);
  }
  return { ...summarizeUs(samples), ...busy() };
}
roundTrip.duplex = true;

export const measures = { throughput, slices, latency, roundTrip, ...recovery, ...footprint };
