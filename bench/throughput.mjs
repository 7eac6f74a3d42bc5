// Throughput: events/s delivered to a subscriber's listener, 100-byte JSON events,
// the server sending as fast as the consumer keeps up (credit window).
//
// Every consumer runs once per round, rounds interleaved; a row's figure is the
// median over rounds, and its ratio is the median over rounds of
// (its rate / the same transport's baseline rate in that round).
import { baselineOf, consumers } from './lib/consumers.mjs';
import { interleaved } from './lib/interleave.mjs';
import { int, median, printTable, ratio } from './lib/report.mjs';
import { isMainClientRow } from './tidewire.mjs';

export const defaults = { rounds: 5, warmupMs: 500, durationMs: 2000, window: 2048 };

/** Summarizes interleaved results per consumer, with per-round ratios to the baseline. */
export function summarize(results, value) {
  return Object.entries(results).map(([name, rounds]) => {
    const c = consumers[name];
    const base = results[baselineOf(c.transport)] ?? [];
    const ok = rounds.filter((r) => r.ok);
    const ratios = rounds
      .map((r, i) => (r.ok && base[i]?.ok ? value(r) / value(base[i]) : Number.NaN))
      .filter(Number.isFinite);
    const failed = rounds.find((r) => !r.ok);
    return {
      name,
      transport: c.transport,
      tidewire: Boolean(c.tidewire),
      endToEnd: Boolean(c.endToEnd),
      baseline: Boolean(c.baseline),
      rounds: ok.length,
      median: median(ok.map(value)),
      min: Math.min(...ok.map(value)),
      max: Math.max(...ok.map(value)),
      ratio: median(ratios),
      clientBusy: median(ok.map((r) => r.clientBusy)),
      serverBusy: median(ok.map((r) => r.serverBusy)),
      status: ok.length ? 'measured' : failed?.pending ? 'pending' : `failed: ${failed?.error}`,
    };
  });
}

/** Targets: ≥ 0.9 × baseline on each transport, and ahead of every peer on that transport. */
export function throughputTargets(rows) {
  return ['websocket', 'sse'].map((transport) => {
    // The client row (fed by the frame server, batched, one channel): not the
    // end-to-end @tidewire/server row, the 100-channel row or the unbatched rows.
    const ours = rows.find((r) => isMainClientRow(r, transport));
    const peers = rows.filter((r) => !r.tidewire && !r.baseline && r.transport === transport);
    const name = `throughput ${transport}: ≥ 0.9 × baseline and ahead of every peer`;
    if (ours?.status !== 'measured') return { name, status: 'pending' };
    const behind = peers.filter((p) => p.status === 'measured' && p.median >= ours.median);
    const met = ours.ratio >= 0.9 && behind.length === 0;
    return {
      name,
      status: met ? 'met' : 'missed',
      value: ours.ratio,
      detail: behind.length ? `behind ${behind.map((p) => p.name).join(', ')}` : undefined,
    };
  });
}

export function printRows(title, rows, unit, format) {
  printTable(
    title,
    [
      'consumer',
      'transport',
      unit,
      'min–max',
      'vs baseline',
      'client busy',
      'server busy',
      'rounds',
    ],
    rows.map((r) =>
      r.status === 'measured'
        ? [
            r.name,
            r.transport,
            format(r.median),
            `${format(r.min)}–${format(r.max)}`,
            ratio(r.ratio),
            r.clientBusy.toFixed(2),
            r.serverBusy.toFixed(2),
            r.rounds,
          ]
        : [r.name, r.transport, r.status, '', '', '', '', 0],
    ),
  );
}

export async function run(options = {}) {
  const o = { ...defaults, ...options };
  const names = o.consumers ?? Object.keys(consumers);
  const spec = {
    measure: 'throughput',
    serverMode: 'credit',
    warmupMs: o.warmupMs,
    durationMs: o.durationMs,
    window: o.window,
  };
  const results = await interleaved(names, spec, o.rounds, o.log);
  const rows = summarize(results, (r) => r.rate);
  printRows(
    `Throughput (events/s to the listener, median of ${o.rounds} interleaved rounds of ${o.durationMs} ms)`,
    rows,
    'events/s',
    int,
  );
  const targets = throughputTargets(rows);
  for (const t of targets)
    console.log(`target: ${t.name}: ${t.status}${t.detail ? ` (${t.detail})` : ''}`);
  return { options: o, rows, targets };
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
