// The single entry of the benchmark suite. From the repository root:
//   pnpm bench                        build, then run every benchmark
//   node bench/run.mjs size latency   run only these (after `pnpm build`)
//   node bench/run.mjs --quick        short smoke run of everything
//   options: --rounds N  --duration MS  --consumers "name,name"  --verbose
// Prints tables and merges each benchmark's figures into bench/results.json.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { machine } from './lib/machine.mjs';
import { snapshotBuild } from './lib/snapshot.mjs';

const benchmarks = {
  size: () => import('./size.mjs'),
  throughput: () => import('./throughput.mjs'),
  latency: () => import('./latency.mjs'),
  recovery: () => import('./recovery.mjs'),
  footprint: () => import('./footprint.mjs'),
  browser: () => import('./browser.mjs'),
  fanout: () => import('./server-fanout.mjs'),
  share: () => import('./share-relay.mjs'),
  wire: () => import('./wire.mjs'),
  cluster: () => import('./cluster.mjs'),
};

/** Short runs for a smoke check: each figure still comes from interleaved rounds. */
const quick = {
  throughput: { rounds: 5, warmupMs: 300, durationMs: 500, pairedSlices: 4, pairedProcesses: 1 },
  latency: { rounds: 5, warmupMs: 300, durationMs: 500 },
  recovery: {
    rounds: 2,
    restartRounds: 1,
    drop: { warmupMs: 300, durationMs: 4000 },
    restart: { clients: 1000, downMs: 500, warmupMs: 300, durationMs: 6000 },
  },
  footprint: { rounds: 1 },
  browser: { rounds: 3, durationMs: 700 },
  fanout: { rounds: 3 },
  share: { rounds: 1, configs: [{ batch: 100, events: 300_000 }] },
  cluster: {
    publishSeconds: 1,
    tailEvents: 100_000,
    tailRounds: 1,
    resumeClients: 60,
    resumeRounds: 1,
    readinessClients: 20,
  },
};

const { values, positionals } = parseArgs({
  // `pnpm bench -- --quick` may hand over the `--` itself.
  args: process.argv.slice(2).filter((a) => a !== '--'),
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    consumers: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

const unknown = positionals.filter((p) => !(p in benchmarks));
if (unknown.length) {
  console.error(
    `unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(benchmarks).join(', ')}`,
  );
  process.exit(2);
}
const selected = positionals.length ? positionals : Object.keys(benchmarks);

function optionsFor(name) {
  const o = { ...(values.quick ? quick[name] : {}) };
  if (values.rounds) o.rounds = Number(values.rounds);
  if (values.duration) o.durationMs = Number(values.duration);
  // Names contain ", " (`ws (raw, JSON.parse)`): only a comma not followed by a space separates.
  if (values.consumers) o.consumers = values.consumers.split(/,(?! )/).map((s) => s.trim());
  if (values.verbose) o.log = console.log;
  return o;
}

const needsBuild = selected.some((name) => name !== 'size');
if (needsBuild && !(await snapshotBuild())) {
  console.log('no complete build of @tidewire/core and /server: Tidewire rows will be pending');
}

const resultsPath = new URL('./results.json', import.meta.url);
const results = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {};
const conditions = machine();
console.log(
  `${conditions.cpu}, ${conditions.cores} cores, Node ${conditions.node}, load ${conditions.loadAverage.join(' ')}`,
);

for (const name of selected) {
  const started = performance.now();
  const module = await benchmarks[name]();
  const result = await module.run(optionsFor(name));
  const seconds = (performance.now() - started) / 1000;
  console.log(`(${name}: ${seconds.toFixed(0)} s)`);
  results[name] = { machine: { ...conditions, quick: values.quick }, seconds, ...result };
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
}
