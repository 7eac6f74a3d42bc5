// Paired throughput: two consumers, each in its own trial process with its own server,
// take turns in short slices (A B, then B A, …) while the other's server is held back.
// On this shared machine the speed available moves within seconds; trials seconds apart
// (bench/lib/interleave.mjs) see different machines, slices a few hundred ms apart nearly
// the same one. Each ratio is of two neighbouring slices; processes stay separate, so
// neither library's JIT or heap colours the other's figure.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { int, median, ratio } from './report.mjs';

const trialPath = fileURLToPath(new URL('./trial.mjs', import.meta.url));

export const pairedDefaults = { processes: 6, slices: 12, sliceMs: 300, warmupMs: 1000 };

/** Starts one `slices` trial; resolves to { ask(ms), stop() } once it is warmed up. */
function startSlices(consumer, o) {
  const spec = {
    measure: 'slices',
    consumer,
    serverMode: 'credit',
    window: 2048,
    warmupMs: o.warmupMs,
    // The trial's own deadline: every slice, its drain, and start-up.
    durationMs: o.slices * 2 * (o.sliceMs + 500),
  };
  const child = fork(trialPath, [JSON.stringify(spec)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  // The one question waiting for its answer; an exit before it comes fails it.
  let waiting = { resolve: () => {}, reject: () => {} };
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.on('message', (message) => waiting.resolve(message));
  child.on('exit', () => waiting.reject(new Error(`${consumer}: ${output.trim() || 'exited'}`)));
  const next = () =>
    new Promise((resolve, reject) => {
      waiting = { resolve, reject };
    });
  const ready = next();
  return ready.then(() => ({
    ask: (ms) => {
      const reply = next();
      child.send({ ms });
      return reply.then((m) => m.rate);
    },
    stop: () =>
      new Promise((resolve) => {
        waiting = { resolve: () => {}, reject: resolve };
        child.send({ done: true });
      }),
  }));
}

/**
 * Runs `a` and `b` in paired slices, `processes` times with fresh processes. Returns each one's
 * median slice rate and `ratio`, the median over all pairs of b's rate over a's.
 */
export async function paired(a, b, options = {}) {
  const o = { ...pairedDefaults, ...options };
  const rates = { a: [], b: [] };
  const ratios = [];
  for (let p = 0; p < o.processes; p++) {
    const [first, second] = await Promise.all([startSlices(a, o), startSlices(b, o)]);
    try {
      for (let s = 0; s < o.slices; s++) {
        // Alternate which goes first, so neither always meets the machine as the other left it.
        const order = s % 2 ? [second, first] : [first, second];
        const got = new Map();
        for (const trial of order) got.set(trial, await trial.ask(o.sliceMs));
        rates.a.push(got.get(first));
        rates.b.push(got.get(second));
        ratios.push(got.get(second) / got.get(first));
      }
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  }
  return {
    a,
    b,
    pairs: ratios.length,
    rateA: median(rates.a),
    rateB: median(rates.b),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
}

/** Column names of a table of paired comparisons, and one comparison's cells. */
export const pairColumns = [
  'client',
  'reader',
  'client events/s',
  'reader events/s',
  'ratio (median)',
  'min–max',
];
export const pairCells = (p) => [
  p.b,
  p.a,
  int(p.rateB),
  int(p.rateA),
  ratio(p.ratio),
  `${ratio(p.ratioMin)}–${ratio(p.ratioMax)}`,
];
