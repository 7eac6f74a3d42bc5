// Latency: publish → listener p50/p99 with events sent one per millisecond (no
// queueing), and round trips (send → answer) one after another on duplex clients.
// Per row: the median over interleaved rounds of each round's p50 and p99.
import { baselineOf, consumers } from './lib/consumers.mjs';
import { interleaved } from './lib/interleave.mjs';
import { median, ms, printTable, ratio } from './lib/report.mjs';
import { ratioOf } from './throughput.mjs';
import { isMainClientRow } from './tidewire.mjs';

export const defaults = { rounds: 5, warmupMs: 500, durationMs: 2000, intervalMs: 1 };

function summarize(results) {
  return Object.entries(results).map(([name, rounds]) => {
    const c = consumers[name];
    const base = results[baselineOf(c.transport)] ?? [];
    const ok = rounds.filter((r) => r.ok);
    const p99Ratios = rounds
      .map((r, i) => (r.ok && base[i]?.ok ? r.p99 / base[i].p99 : Number.NaN))
      .filter(Number.isFinite);
    const failed = rounds.find((r) => !r.ok);
    return {
      name,
      transport: c.transport,
      tidewire: Boolean(c.tidewire),
      endToEnd: Boolean(c.endToEnd),
      rounds: ok.length,
      samples: ok.reduce((n, r) => n + r.samples, 0),
      p50: median(ok.map((r) => r.p50)),
      p99: median(ok.map((r) => r.p99)),
      p99Ratio: median(p99Ratios),
      status: ok.length ? 'measured' : failed?.pending ? 'pending' : `failed: ${failed?.error}`,
    };
  });
}

function print(title, rows) {
  printTable(
    title,
    ['consumer', 'transport', 'p50', 'p99', 'p99 vs baseline', 'samples'],
    rows.map((r) =>
      r.status === 'measured'
        ? [r.name, r.transport, ms(r.p50, 3), ms(r.p99, 3), ratio(r.p99Ratio), r.samples]
        : [r.name, r.transport, r.status, '', '', 0],
    ),
  );
}

/**
 * p99 within 1.2 × raw ws, on each transport (SSE compared with raw ws too): the median
 * over rounds of the within-round ratio of p99s, the statistic of the table's ratios.
 */
function latencyTargets(oneWay, results) {
  const ws = results[baselineOf('websocket')];
  return ['websocket', 'sse'].map((transport) => {
    const ours = oneWay.find((r) => isMainClientRow(r, transport));
    const name = `latency ${transport}: p99 ≤ 1.2 × raw ws p99`;
    const value = ours ? ratioOf(results[ours.name], ws, (r) => r.p99) : Number.NaN;
    if (!Number.isFinite(value)) return { name, status: 'pending' };
    return { name, status: value <= 1.2 ? 'met' : 'missed', value };
  });
}

export async function run(options = {}) {
  const o = { ...defaults, ...options };
  const names = o.consumers ?? Object.keys(consumers);
  const base = { warmupMs: o.warmupMs, durationMs: o.durationMs };
  const oneWayResults = await interleaved(
    names,
    { ...base, measure: 'latency', serverMode: 'paced', intervalMs: o.intervalMs },
    o.rounds,
    o.log,
  );
  const oneWay = summarize(oneWayResults);
  print(
    `Latency, publish → listener (one event per ${o.intervalMs} ms, median of ${o.rounds} rounds)`,
    oneWay,
  );
  const duplex = names.filter((n) => consumers[n].duplex);
  const roundTrip = summarize(
    await interleaved(
      duplex,
      { ...base, measure: 'roundTrip', serverMode: 'idle' },
      o.rounds,
      o.log,
    ),
  );
  print(`Round trip on duplex clients (sequential, median of ${o.rounds} rounds)`, roundTrip);
  const targets = latencyTargets(oneWay, oneWayResults);
  for (const t of targets) console.log(`target: ${t.name}: ${t.status}`);
  return { options: o, oneWay, roundTrip, targets };
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
