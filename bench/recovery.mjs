// Recovery, for the clients that reconnect by themselves:
// - drop: the server cuts every connection while publishing one event per ms;
//   how long until events published after the cut reach the listener, and how
//   many events in between never did (lost) or came twice (duplicates).
// - restart: 1,000 connected clients, the server stops listening, drops them all
//   and comes back `downMs` later; when did each reconnect (spread, and the
//   busiest 100 ms). Without jitter they all come back at once: a stampede.
import { interleaved } from './lib/interleave.mjs';
import { median, ms, printTable } from './lib/report.mjs';

const sleep = (t) => new Promise((resolve) => setTimeout(resolve, t));
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** Clients with their own reconnection; the raw baselines have none. */
export const reconnecting = [
  'Tidewire WebSocket',
  'Tidewire SSE',
  'socket.io-client',
  'partysocket',
  'reconnecting-websocket',
  'phoenix',
  'eventsource',
  '@microsoft/fetch-event-source',
];

export const defaults = {
  rounds: 3,
  restartRounds: 3,
  drop: { warmupMs: 500, durationMs: 6000 },
  restart: { clients: 1000, downMs: 500, warmupMs: 500, durationMs: 12_000 },
};

async function drop({ spec, server, open }) {
  const seen = new Set();
  let received = 0;
  let dropUs = Number.POSITIVE_INFINITY;
  let flowingUs;
  await open((event) => {
    received++;
    seen.add(event.seq);
    if (flowingUs === undefined && event.t > dropUs) flowingUs = nowUs();
  });
  await sleep(spec.warmupMs);
  dropUs = nowUs();
  const dropped = await server.call('dropAll');
  await sleep(spec.durationMs);
  const seqs = [...seen];
  // Up to the newest event seen; for a client that never came back, up to the
  // newest event the server published.
  const last =
    flowingUs === undefined ? (await server.call('publishedCount')) - 1 : Math.max(...seqs);
  const span = seqs.length ? last - Math.min(...seqs) + 1 : 0;
  return {
    dropped,
    recoveredMs: flowingUs === undefined ? null : (flowingUs - dropUs) / 1000,
    lost: span - seen.size,
    duplicates: received - seen.size,
    received,
  };
}

async function restart({ spec, server, open }) {
  for (let i = 0; i < spec.clients; i += 50) {
    const batch = Math.min(50, spec.clients - i);
    await Promise.all(Array.from({ length: batch }, () => open(() => {})));
  }
  await sleep(spec.warmupMs);
  const downUs = nowUs();
  await server.call('restart', spec.downMs);
  await sleep(spec.durationMs);
  const times = (await server.call('acceptedSince', downUs)).sort((a, b) => a - b);
  const first = times.slice(0, spec.clients);
  const buckets = new Map();
  for (const t of first)
    buckets.set(Math.floor(t / 100), (buckets.get(Math.floor(t / 100)) ?? 0) + 1);
  return {
    clients: spec.clients,
    reconnected: first.length,
    firstMs: first[0] ?? null,
    medianMs: median(first),
    lastMs: first.at(-1) ?? null,
    busiest100ms: Math.max(0, ...buckets.values()),
  };
}

export const measures = { drop, restart };

const pick = (rounds, key) =>
  median(rounds.filter((r) => r.ok && r[key] !== null).map((r) => r[key]));
const status = (rounds) => {
  const failed = rounds.find((r) => !r.ok);
  return rounds.some((r) => r.ok)
    ? 'measured'
    : failed?.pending
      ? 'pending'
      : `failed: ${failed?.error}`;
};

export async function run(options = {}) {
  const o = { ...defaults, ...options };
  const names = o.consumers?.filter((n) => reconnecting.includes(n)) ?? reconnecting;
  const dropResults = await interleaved(
    names,
    { measure: 'drop', serverMode: 'paced', intervalMs: 1, ...o.drop },
    o.rounds,
    o.log,
  );
  const dropRows = names.map((name) => ({
    name,
    status: status(dropResults[name]),
    recoveredMs: pick(dropResults[name], 'recoveredMs'),
    lost: pick(dropResults[name], 'lost'),
    duplicates: pick(dropResults[name], 'duplicates'),
    neverRecovered: dropResults[name].filter((r) => r.ok && r.recoveredMs === null).length,
  }));
  printTable(
    `Recovery after every connection is dropped (events every 1 ms; median of ${o.rounds} rounds)`,
    ['client', 'events flow again after', 'events lost', 'duplicates', 'rounds not recovered'],
    dropRows.map((r) =>
      r.status === 'measured'
        ? [r.name, ms(r.recoveredMs, 0), r.lost, r.duplicates, r.neverRecovered]
        : [r.name, r.status, '', '', ''],
    ),
  );
  const restartResults = await interleaved(
    names,
    { measure: 'restart', serverMode: 'idle', extraMs: 60_000, ...o.restart },
    o.restartRounds,
    o.log,
  );
  const restartRows = names.map((name) => ({
    name,
    status: status(restartResults[name]),
    ...Object.fromEntries(
      ['reconnected', 'firstMs', 'medianMs', 'lastMs', 'busiest100ms'].map((k) => [
        k,
        pick(restartResults[name], k),
      ]),
    ),
  }));
  printTable(
    `Reconnect spread after a restart with ${o.restart.clients} clients (server down ${o.restart.downMs} ms; median of ${o.restartRounds} rounds)`,
    ['client', 'reconnected', 'first', 'median', 'last', 'busiest 100 ms'],
    restartRows.map((r) =>
      r.status === 'measured'
        ? [
            r.name,
            r.reconnected,
            ms(r.firstMs, 0),
            ms(r.medianMs, 0),
            ms(r.lastMs, 0),
            r.busiest100ms,
          ]
        : [r.name, r.status, '', '', '', ''],
    ),
  );
  const ours = dropRows.filter((r) => r.name.startsWith('Tidewire'));
  const measured = ours.filter((r) => r.status === 'measured');
  const target = {
    name: 'zero events lost in recovery',
    status:
      measured.length < ours.length
        ? 'pending'
        : measured.every((r) => r.lost === 0)
          ? 'met'
          : 'missed',
    value: Math.max(...measured.map((r) => r.lost)),
  };
  console.log(`target: ${target.name}: ${target.status}`);
  return { options: o, drop: dropRows, restart: restartRows, targets: [target] };
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
