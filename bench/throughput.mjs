// Throughput: events/s delivered to a subscriber's listener, 100-byte JSON events,
// the server sending as fast as the consumer keeps up (credit window).
//
// Every consumer runs once per round, rounds interleaved; a row's figure is the
// median over rounds, and each of its ratios is the median over rounds of
// (its rate / the other row's rate in that round). Every target is judged on such
// a ratio, from runs of the default length (not `--quick`).
import { baselineOf, consumers, referenceOf } from './lib/consumers.mjs';
import { interleaved } from './lib/interleave.mjs';
import { pairCells, pairColumns, paired, pairedDefaults } from './lib/paired.mjs';
import { int, median, printTable, ratio } from './lib/report.mjs';
import { isMainClientRow } from './tidewire.mjs';

export const defaults = { rounds: 5, warmupMs: 500, durationMs: 2000, window: 2048 };

/** The median over rounds of `value(a) / value(b)` in the same round (NaN without one). */
export function ratioOf(a = [], b = [], value = (r) => r.rate) {
  return median(
    a
      .map((r, i) => (r.ok && b[i]?.ok ? value(r) / value(b[i]) : Number.NaN))
      .filter(Number.isFinite),
  );
}

/**
 * Summarizes interleaved results per consumer, with per-round ratios to the transport's
 * baseline (`ratio`) and, for Tidewire's rows and the readers, to the minimal reader of
 * Tidewire's wire on that transport (`readerRatio`).
 */
export function summarize(results, value) {
  return Object.entries(results).map(([name, rounds]) => {
    const c = consumers[name];
    const base = results[baselineOf(c.transport)];
    const reader = results[referenceOf(c.transport)];
    const ok = rounds.filter((r) => r.ok);
    const failed = rounds.find((r) => !r.ok);
    return {
      name,
      transport: c.transport,
      tidewire: Boolean(c.tidewire),
      endToEnd: Boolean(c.endToEnd),
      baseline: Boolean(c.baseline),
      reference: Boolean(c.reference),
      rounds: ok.length,
      median: median(ok.map(value)),
      min: Math.min(...ok.map(value)),
      max: Math.max(...ok.map(value)),
      ratio: ratioOf(rounds, base, value),
      readerRatio: c.tidewire || c.reference ? ratioOf(rounds, reader, value) : Number.NaN,
      clientBusy: median(ok.map((r) => r.clientBusy)),
      serverBusy: median(ok.map((r) => r.serverBusy)),
      status: ok.length ? 'measured' : failed?.pending ? 'pending' : `failed: ${failed?.error}`,
    };
  });
}

/**
 * The comparisons the floor targets are judged on, each in paired slices (bench/lib/paired.mjs):
 * Tidewire's client row (fed by the frame server, batched, one channel) against the minimal
 * reader of the same information from the same batches on each transport, and on SSE against
 * the raw reader of `data:` lines without id or channel.
 */
export const floorPairs = [
  { reader: 'minimal v2 reader, WebSocket', client: 'Tidewire WebSocket', min: 0.9 },
  { reader: 'minimal v2 reader, SSE', client: 'Tidewire SSE', min: 0.9 },
  { reader: 'fetch SSE reader (raw)', client: 'Tidewire SSE', min: 0.85 },
];

/**
 * Targets, each judged on one statistic. The floors: the median ratio of paired slices (see
 * `floorPairs`), ≥ 0.9 × the minimal reader on each transport and ≥ 0.85 × the raw reader on
 * SSE. The peers: a median over rounds of a within-round ratio of Tidewire's client row to each
 * peer, ≥ 1 × every peer on each transport (the smallest of its ratios to them).
 */
export function throughputTargets(rows, results, pairs = []) {
  const target = (name, value, min, detail) => ({
    name,
    status: !Number.isFinite(value) ? 'pending' : value >= min ? 'met' : 'missed',
    value,
    detail,
  });
  return ['websocket', 'sse'].flatMap((transport) => {
    const ours = rows.find((r) => isMainClientRow(r, transport));
    const measured = ours?.status === 'measured';
    const peers = rows.filter(
      (r) =>
        !r.tidewire &&
        !r.baseline &&
        !r.reference &&
        r.transport === transport &&
        !r.name.startsWith('ws (raw') &&
        r.status === 'measured',
    );
    const vsPeers = peers.map((p) => ({
      name: p.name,
      ratio: measured ? ratioOf(results[ours.name], results[p.name]) : Number.NaN,
    }));
    const closest = vsPeers.sort((a, b) => a.ratio - b.ratio)[0];
    const floors = floorPairs.filter((f) => consumers[f.client].transport === transport);
    return [
      ...floors.map((f) =>
        target(
          `throughput ${transport}: ≥ ${f.min} × ${f.reader} (paired slices)`,
          pairs.find((p) => p.a === f.reader && p.b === f.client)?.ratio ?? Number.NaN,
          f.min,
        ),
      ),
      target(
        `throughput ${transport}: ahead of every peer (smallest ratio)`,
        closest?.ratio ?? Number.NaN,
        1,
        closest && `vs ${closest.name}`,
      ),
    ];
  });
}

/** Prints the paired comparisons: each client's median slice rate against its reader's. */
function printPairs(pairs) {
  if (!pairs.length) return;
  printTable(
    `Floors in paired slices (${pairedDefaults.sliceMs} ms, each pair of processes side by side)`,
    [...pairColumns, 'pairs'],
    pairs.map((p) => [...pairCells(p), String(p.pairs)]),
  );
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
      'vs v2 reader',
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
            Number.isFinite(r.readerRatio) ? ratio(r.readerRatio) : '',
            r.clientBusy.toFixed(2),
            r.serverBusy.toFixed(2),
            r.rounds,
          ]
        : [r.name, r.transport, r.status, '', '', '', '', '', 0],
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
  // Each target's client runs between the readers it is compared with, seconds from each: on
  // this shared machine the speed available moves within a minute, and a round takes several.
  const place = (name) => {
    const c = consumers[name];
    const role = c?.baseline
      ? 0
      : c?.tidewire && isMainClientRow({ ...c, name }, c.transport)
        ? 1
        : c?.reference
          ? 2
          : undefined;
    return role === undefined ? 6 : role + (c.transport === 'sse' ? 3 : 0);
  };
  const sequence = [...names].sort((a, b) => place(a) - place(b));
  const ran = await interleaved(sequence, spec, o.rounds, o.log);
  // The table keeps the consumers' own order.
  const results = Object.fromEntries(names.map((name) => [name, ran[name]]));
  const rows = summarize(results, (r) => r.rate);
  printRows(
    `Throughput (events/s to the listener, median of ${o.rounds} interleaved rounds of ${o.durationMs} ms)`,
    rows,
    'events/s',
    int,
  );
  // The floors, in paired slices of the consumers this run measured.
  const pairs = [];
  for (const f of floorPairs) {
    if (!names.includes(f.reader) || !names.includes(f.client) || o.pairedSlices === 0) continue;
    pairs.push(
      await paired(f.reader, f.client, {
        ...(o.pairedSlices && { slices: o.pairedSlices }),
        ...(o.pairedProcesses && { processes: o.pairedProcesses }),
      }),
    );
    o.log?.(`  paired: ${f.client} vs ${f.reader}`);
  }
  printPairs(pairs);
  const targets = throughputTargets(rows, results, pairs);
  for (const t of targets)
    console.log(`target: ${t.name}: ${t.status}${t.detail ? ` (${t.detail})` : ''}`);
  return { options: o, rows, pairs, targets };
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
