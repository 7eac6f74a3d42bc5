// One measurement in a fresh process: start the consumer's server in a worker
// thread, run one measure on the main thread, close everything, print one JSON
// line. A fresh process per trial keeps one library's JIT and heap state from
// colouring the next one's figure.
//
// argv[2]: JSON { measure, consumer, serverMode, warmupMs, durationMs, ... }
//   measure     a name in `measures` (bench/lib/measures.mjs)
//   serverMode  the server worker's mode (see bench/lib/servers.mjs)
import { Worker } from 'node:worker_threads';
import { consumers } from './consumers.mjs';
import { measures } from './measures.mjs';

const spec = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const print = (result) => process.stdout.write(`${JSON.stringify(result)}\n`);

// Never outlive the trial's budget, whatever a library leaves open.
setTimeout(
  () => {
    print({ ok: false, error: 'trial timed out' });
    process.exit(1);
  },
  spec.warmupMs + spec.durationMs + (spec.extraMs ?? 15_000),
);

/** Starts the server worker; resolves to { url, worker, call(name, ...args) }. */
async function startServer(consumer, counter, measure) {
  const worker = new Worker(new URL('./servers.mjs', import.meta.url), {
    workerData: {
      // A consumer may be served by another server for some measures (see bench/tidewire.mjs).
      kind: consumer.serverFor?.[measure.serverAs ?? spec.measure] ?? consumer.server,
      mode: spec.serverMode,
      window: spec.window,
      intervalMs: spec.intervalMs,
      counter,
      options: { ...consumer.serverOptions, ...spec.serverOptions },
    },
  });
  const { url } = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const call = (name, ...args) =>
    new Promise((resolve) => {
      const onMessage = (m) => {
        if (m?.called !== name) return;
        worker.off('message', onMessage);
        resolve(m.result);
      };
      worker.on('message', onMessage);
      worker.postMessage({ type: 'call', name, args });
    });
  return { url, worker, call };
}

async function main() {
  const consumer = consumers[spec.consumer];
  const measure = measures[spec.measure];
  if (!consumer || !measure)
    return { ok: false, error: `unknown ${spec.consumer}/${spec.measure}` };
  if (measure.duplex && !consumer.duplex) return { ok: false, error: 'not duplex' };
  // [0] delivered, [1] the server's wake-up mark, [2] the server's gate (open).
  const counter = new SharedArrayBuffer(12);
  new Int32Array(counter)[2] = 1;
  let server;
  try {
    server = await startServer(consumer, counter, measure);
  } catch (error) {
    return { ok: false, error: `server did not start: ${error?.message ?? error}` };
  }
  const opened = [];
  const open = async (onEvent, options) => {
    const connection = await consumer.open({ url: server.url, onEvent, ...options });
    opened.push(connection);
    return connection;
  };
  try {
    return { ok: true, ...(await measure({ spec, server, open, counter, consumer })) };
  } catch (error) {
    return {
      ok: false,
      pending: error?.name === 'PendingError',
      error: String(error?.message ?? error),
    };
  } finally {
    for (const connection of opened) connection.close();
    server.worker.postMessage({ type: 'close' });
    await Promise.race([
      new Promise((resolve) => server.worker.once('exit', resolve)),
      sleep(3000),
    ]);
  }
}

print(await main());
process.exit(0);
