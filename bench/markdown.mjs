// Writes the figures in bench/results.json into BENCHMARKS.md, between the
// `<!-- results:start -->` and `<!-- results:end -->` markers, so the published
// tables are always the measured ones. Run: node bench/markdown.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pairCells, pairColumns } from './lib/paired.mjs';
import { int, kb, markdownTable, ms, ratio } from './lib/report.mjs';

const results = JSON.parse(readFileSync(new URL('./results.json', import.meta.url), 'utf8'));
const docPath = new URL('../BENCHMARKS.md', import.meta.url);

const status = (r) =>
  r.status === 'measured' ? null : r.status.startsWith('failed') ? 'failed' : r.status;

function runLine(section) {
  const m = section.machine;
  const o = section.options ?? {};
  const shape = [
    o.rounds && `${o.rounds} interleaved rounds`,
    o.durationMs && `${o.durationMs} ms measured after ${o.warmupMs} ms warm-up`,
  ].filter(Boolean);
  return `_Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC at commit ${m.commit}${m.quick ? ' (short run: `--quick`)' : ''}${shape.length ? `; ${shape.join(', ')}` : ''}; load average at start ${m.loadAverage.join(' ')}._`;
}

/**
 * Client rows first (every client against a server that costs it nothing), then
 * the end-to-end rows (Tidewire's client fed by @tidewire/server) in a table of
 * their own, with the baselines repeated for scale.
 */
function splitEndToEnd(rows, table) {
  const endToEnd = rows.filter((r) => r.endToEnd);
  const clients = rows.filter((r) => !r.endToEnd);
  if (endToEnd.length === 0) return table(clients);
  const baselines = rows.filter((r) => r.baseline || /raw/.test(r.name));
  return [
    table(clients),
    '',
    '_End to end: the same Tidewire client fed by `@tidewire/server` (history, limits, fan-out), baselines repeated for scale._',
    '',
    table([...baselines, ...endToEnd]),
  ].join('\n');
}

const sections = {
  size: (s) =>
    markdownTable(
      ['bundle', 'min', 'min+gzip', 'brotli'],
      s.results.map((r) =>
        r.error
          ? [r.name, `not measured: ${r.error}`, '', '']
          : [r.name, kb(r.min), kb(r.gzip), kb(r.brotli)],
      ),
    ),
  throughput: (s) => {
    const table = (rows) =>
      markdownTable(
        [
          'client',
          'transport',
          'events/s (median)',
          'min–max',
          'vs same-transport baseline',
          'vs minimal v2 reader',
          'client / server loop busy',
        ],
        rows.map((r) =>
          status(r)
            ? [r.name, r.transport, status(r), '', '', '', '']
            : [
                r.name,
                r.transport,
                int(r.median),
                `${int(r.min)}–${int(r.max)}`,
                ratio(r.ratio),
                Number.isFinite(r.readerRatio) ? ratio(r.readerRatio) : '',
                `${r.clientBusy.toFixed(2)} / ${r.serverBusy.toFixed(2)}`,
              ],
        ),
      );
    const pairs = s.pairs?.length
      ? [
          '',
          `**Floors in paired slices** (${s.pairs[0].pairs} pairs of 300 ms slices each, client and reader in processes side by side, taking turns)`,
          '',
          markdownTable(pairColumns, s.pairs.map(pairCells)),
        ]
      : [];
    return [splitEndToEnd(s.rows, table), ...pairs].join('\n');
  },
  latency: (s) =>
    [
      '**Publish → listener**',
      '',
      splitEndToEnd(s.oneWay, (rows) =>
        markdownTable(
          ['client', 'transport', 'p50', 'p99', 'p99 vs baseline'],
          rows.map((r) =>
            status(r)
              ? [r.name, r.transport, status(r), '', '']
              : [r.name, r.transport, ms(r.p50, 3), ms(r.p99, 3), ratio(r.p99Ratio)],
          ),
        ),
      ),
      '',
      '**Round trip (duplex clients)**',
      '',
      markdownTable(
        ['client', 'p50', 'p99', 'p99 vs raw ws'],
        s.roundTrip.map((r) =>
          status(r)
            ? [r.name, status(r), '', '']
            : [r.name, ms(r.p50, 3), ms(r.p99, 3), ratio(r.p99Ratio)],
        ),
      ),
    ].join('\n'),
  recovery: (s) =>
    [
      '**Every connection dropped, one event published per ms**',
      '',
      markdownTable(
        [
          'client',
          'events flow again after',
          'events lost',
          'duplicates',
          'rounds without recovery',
        ],
        s.drop.map((r) =>
          status(r)
            ? [r.name, status(r), '', '', '']
            : [r.name, ms(r.recoveredMs, 0), r.lost, r.duplicates, r.neverRecovered],
        ),
      ),
      '',
      `**Restart with ${s.options.restart.clients} connected clients (server away ${s.options.restart.downMs} ms): when each reconnected, after the drop; median of ${s.options.restartRounds ?? 1} round(s)**`,
      '',
      markdownTable(
        ['client', 'reconnected', 'first', 'median', 'last', 'most in one 100 ms'],
        s.restart.map((r) =>
          status(r)
            ? [r.name, status(r), '', '', '', '']
            : [
                r.name,
                r.reconnected,
                ms(r.firstMs, 0),
                ms(r.medianMs, 0),
                ms(r.lastMs, 0),
                r.busiest100ms,
              ],
        ),
      ),
    ].join('\n'),
  footprint: (s) =>
    [
      `**Heap per idle subscription, ${s.options.channels} channels on one connection**`,
      '',
      markdownTable(
        ['client', 'bytes per subscription'],
        s.heap.map((r) => [r.name, status(r) ?? int(r.bytesPerSubscription)]),
      ),
      '',
      `**${s.options.sseChannels} SSE channels in Node, seen by the server**`,
      '',
      markdownTable(
        ['client', 'event streams', 'TCP connections open'],
        s.connections.map((r) =>
          r.ok ? [r.name, r.streams, r.open] : [r.name, r.pending ? 'pending' : 'failed', ''],
        ),
      ),
    ].join('\n'),
  fanout: (s) =>
    [
      `**${int(s.options.subscribers)} subscribers of one channel, ${int(s.options.events)} events of ~100 bytes published at once**`,
      '',
      markdownTable(
        [
          'build',
          'transport',
          'deliveries/s (median)',
          'server busy per delivery',
          'published and written per delivery',
        ],
        s.rows.map((r) => [
          r.build,
          r.transport,
          int(r.rate),
          `${r.busyUsPerDelivery.toFixed(2)} µs`,
          `${r.handoffUsPerDelivery.toFixed(2)} µs`,
        ]),
      ),
    ].join('\n'),
  cluster: (s) =>
    [
      `**Publishes through Redis with the fence: one node, 100 channels, 100-byte events, every event also read back by its tail (median of 3 rounds of ${s.options.publishSeconds} s)**`,
      '',
      markdownTable(
        ['procedures', '1 in flight', '64 in flight'],
        ['functions', 'scripts'].map((mode) => [
          mode === 'functions' ? 'functions (Redis 7)' : 'scripts (EVALSHA, Redis 6)',
          `${int(s.publish[mode][1])}/s`,
          `${int(s.publish[mode][64])}/s`,
        ]),
      ),
      '',
      `**A node's tail: ${int(s.tail.events)} events read from the global log and handed to its server (${s.tail.rounds.length} rounds)**`,
      '',
      markdownTable(
        ['events/s (median)', 'each round'],
        [[`${int(s.tail.median)}/s`, s.tail.rounds.map(int).join(', ')]],
      ),
      '',
      `**Resume on the other node: ${s.options.resumeClients} clients (half SSE, half WebSocket, default settings) through nginx, a node killed ${s.resume.rounds} times; ${s.resume.samples} clients resumed**`,
      '',
      markdownTable(
        ['until every channel is live again, from', 'p50', 'p90', 'max'],
        [
          ["the loss (the client's backoff included)", s.resume.lossToLive],
          ['the attempt that succeeded', s.resume.attemptToLive],
        ].map(([what, r]) => [what, ms(r.p50, 0), ms(r.p90, 0), ms(r.max, 0)]),
      ),
      '',
      `**A node that loses Redis while the other keeps it (staleAfterMs 30 s, ${s.options.readinessClients} clients through nginx)**`,
      '',
      markdownTable(
        [
          "the node's Redis connection",
          '/ready red after',
          'connections shed after',
          'shed clients live on the other node (p50)',
          'clients shed',
        ],
        s.readiness.map((r) => [
          r.scenario,
          `${(r.redMs / 1000).toFixed(1)} s`,
          `${(r.shedMs / 1000).toFixed(1)} s`,
          ms(r.movedP50Ms, 0),
          r.shed,
        ]),
      ),
    ].join('\n'),
  browser: (s) =>
    [
      '**Throughput in Chromium**',
      '',
      markdownTable(
        ['client', 'transport', 'events/s (median)', 'vs same-transport baseline'],
        s.rows.map((r) =>
          status(r)
            ? [r.name, r.transport, status(r), '']
            : [r.name, r.transport, int(r.median), ratio(r.ratio)],
        ),
      ),
      '',
      `**${s.options.sseChannels} SSE channels in Chromium, seen by the server**`,
      '',
      markdownTable(
        ['client', 'event streams served', 'TCP connections open'],
        s.connections.map((r) => (r.ok ? [r.name, r.streams, r.open] : [r.name, 'failed', ''])),
      ),
    ].join('\n'),
  share: (s) =>
    markdownTable(
      ['lines per message', 'events per trial', 'events/s (median)', 'rounds'],
      s.rows.map((r) => [r.batch, int(r.events), r.rounds ? int(r.median) : 'failed', r.rounds]),
    ),
  wire: (s) =>
    markdownTable(
      ['form', 'bytes per event, back to back', 'bytes per event, one per tick'],
      s.rows.map((r) => [r.name, r.bytesPerEvent.toFixed(1), r.alone.toFixed(1)]),
    ),
};

const titles = {
  size: 'Size',
  throughput: 'Throughput (Node)',
  latency: 'Latency (Node)',
  recovery: 'Recovery (Node)',
  footprint: 'Footprint',
  browser: 'In a real browser (Chromium)',
  fanout: 'Server fan-out (@tidewire/server)',
  share: 'Relay between tabs (@tidewire/core/share, Chromium)',
  cluster: 'Scale-out on Redis (@tidewire/redis)',
  wire: 'Bytes on the wire (@tidewire/server, 100-byte payloads)',
};

/** A target's figure in its own unit: bytes, events, or a ratio. */
function targetValue(t) {
  if (t.display) return t.display;
  if (t.name.includes('KB')) return kb(t.value);
  if (t.name.includes('lost')) return `${t.value} lost`;
  if (t.unit === 'bytes') return `${t.value.toFixed(1)} bytes`;
  return ratio(t.value);
}

const targets = Object.values(results).flatMap((s) => s.targets ?? []);
const body = [
  '### Targets',
  '',
  markdownTable(
    ['target', 'status'],
    targets.map((t) => [
      t.name,
      `${t.status}${Number.isFinite(t.value) && t.status !== 'pending' ? `: ${targetValue(t)}` : ''}${t.detail ? ` (${t.detail})` : ''}`,
    ]),
  ),
  ...Object.keys(titles)
    .filter((k) => results[k])
    .flatMap((k) => ['', `### ${titles[k]}`, '', runLine(results[k]), '', sections[k](results[k])]),
].join('\n');

const doc = readFileSync(docPath, 'utf8');
const start = '<!-- results:start -->';
const end = '<!-- results:end -->';
const before = doc.slice(0, doc.indexOf(start) + start.length);
const after = doc.slice(doc.indexOf(end));
writeFileSync(docPath, `${before}\n${body}\n${after}`);
// The repository's formatter owns the table layout, so generated and hand-edited text agree.
execFileSync('pnpm', ['exec', 'biome', 'format', '--write', fileURLToPath(docPath)], {
  stdio: 'ignore',
});
console.log(
  `wrote ${targets.length} targets and ${Object.keys(results).length} sections into BENCHMARKS.md`,
);
