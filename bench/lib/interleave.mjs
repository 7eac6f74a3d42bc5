// Runs trials interleaved (A, B, C, A, B, C, …), each in its own process, so that
// drift in the machine's load touches every consumer alike.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const trialPath = fileURLToPath(new URL('./trial.mjs', import.meta.url));

/** Runs one trial process and returns its parsed JSON line. */
export function runTrial(spec) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--expose-gc', trialPath, JSON.stringify(spec)],
      {
        timeout: spec.warmupMs + spec.durationMs + (spec.extraMs ?? 15_000) + 5000,
        maxBuffer: 1 << 20,
      },
      (error, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop();
        try {
          resolve(JSON.parse(line));
        } catch {
          // No result line: the trial crashed. Its last stderr line says why.
          const why = stderr
            .trim()
            .split('\n')
            .filter((l) => /error/i.test(l))
            .pop();
          resolve({
            ok: false,
            error: why ?? String(error?.message ?? 'no result').split('\n')[0],
          });
        }
      },
    );
  });
}

/**
 * Every round runs the consumers in the order given, and the next round in the reverse order, so
 * that neighbours in the list (a client and the reader it is compared with) run seconds apart,
 * and neither is always the first of the two.
 * @param {string[]} names consumers to run
 * @param {object} spec trial spec without `consumer`
 * @param {number} rounds
 * @returns {Promise<Record<string, object[]>>} each consumer's results, one per round (index = round)
 */
export async function interleaved(names, spec, rounds, log = () => {}) {
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const first = results[name][0];
      // A consumer that cannot run (client pending, not duplex) is not retried.
      if (first && !first.ok && (first.pending || first.error === 'not duplex')) {
        results[name].push(first);
        continue;
      }
      const result = await runTrial({ ...spec, consumer: name });
      results[name].push(result);
      log(`  round ${round + 1}/${rounds} ${name}: ${result.ok ? 'ok' : result.error}`);
    }
  }
  return results;
}
