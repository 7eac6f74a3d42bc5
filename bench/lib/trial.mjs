// One measurement in a fresh process: start the consumer's server in a worker
// thread, connect the consumer on the main thread, measure, close everything,
// print one JSON line. A fresh process per trial keeps one library's JIT and
// heap state from colouring the next one's figure.
//
// argv[2]: JSON { consumer, mode: 'credit'|'paced'|'idle', warmupMs, durationMs,
//                 window?, intervalMs? }
//   credit: events/s delivered to the listener
//   paced:  publish → listener latency of events sent every intervalMs
//   idle:   round trips (consumer.echo) one after another
import { Worker } from 'node:worker_threads';
import { consumers } from './consumers.mjs';
import { nowUs } from './event.mjs';
import { percentile } from './report.mjs';

const spec = JSON.parse(process.argv[2]);
const consumer = consumers[spec.consumer];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const print = (result) => process.stdout.write(`${JSON.stringify(result)}\n`);

// Never outlive the trial's budget, whatever a library leaves open.
setTimeout(
  () => {
    print({ ok: false, error: 'trial timed out' });
    process.exit(1);
  },
  spec.warmupMs + spec.durationMs + 15_000,
);

function summarize(samplesUs) {
  const ms = samplesUs.map((us) => us / 1000);
  return {
    samples: ms.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: percentile(ms, 100),
  };
}

/** Share of wall time each event loop was busy, to tell who limited the run. */
function utilization(worker) {
  const client = performance.eventLoopUtilization();
  const server = worker.performance.eventLoopUtilization();
  return () => ({
    clientBusy: performance.eventLoopUtilization(client).utilization,
    serverBusy: worker.performance.eventLoopUtilization(server).utilization,
  });
}

async function measure(connection, state, worker) {
  await sleep(spec.warmupMs);
  const busy = utilization(worker);
  if (spec.mode === 'idle') {
    const rtts = [];
    const end = performance.now() + spec.durationMs;
    while (performance.now() < end) {
      const start = nowUs();
      await connection.echo();
      rtts.push(nowUs() - start);
    }
    return { ...summarize(rtts), ...busy() };
  }
  const before = state.count;
  state.measuring = true;
  const start = performance.now();
  await sleep(spec.durationMs);
  const seconds = (performance.now() - start) / 1000;
  state.measuring = false;
  const events = state.count - before;
  const figures =
    spec.mode === 'credit'
      ? { events, seconds, rate: events / seconds }
      : summarize(state.latencies);
  return { ...figures, ...busy() };
}

async function main() {
  if (!consumer) return { ok: false, error: `unknown consumer ${spec.consumer}` };
  if (spec.mode === 'idle' && !consumer.duplex) return { ok: false, error: 'not duplex' };
  const counter = new SharedArrayBuffer(4);
  const delivered = new Int32Array(counter);
  const worker = new Worker(new URL('./servers.mjs', import.meta.url), {
    workerData: {
      kind: consumer.server,
      mode: spec.mode,
      window: spec.window,
      intervalMs: spec.intervalMs,
      counter,
      options: consumer.serverOptions,
    },
  });
  const { url } = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const state = { count: 0, measuring: false, latencies: [] };
  const onEvent =
    spec.mode === 'credit'
      ? () => {
          if ((++state.count & 255) === 0) {
            Atomics.store(delivered, 0, state.count);
            Atomics.notify(delivered, 0);
          }
        }
      : (event) => {
          state.count++;
          if (state.measuring) state.latencies.push(nowUs() - event.t);
        };
  let connection;
  try {
    connection = await consumer.open({ url, onEvent });
    return { ok: true, ...(await measure(connection, state, worker)) };
  } catch (error) {
    return {
      ok: false,
      pending: error?.name === 'PendingError',
      error: String(error?.message ?? error),
    };
  } finally {
    connection?.close();
    worker.postMessage({ type: 'close' });
    await Promise.race([new Promise((resolve) => worker.once('exit', resolve)), sleep(2000)]);
  }
}

print(await main());
process.exit(0);
