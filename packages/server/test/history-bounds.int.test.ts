import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryEngine, createTidewireServer, type Timers } from '../src/index.js';

// The heap is measured in a process of its own, started with --expose-gc, so that nothing
// else the test runner holds is counted. The probe is bundled from source: no build needed.

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'tidewire-history-bounds-'));
const probe = join(dir, 'probe.mjs');

/** What the probe prints: the heap growth after a full GC, in bytes. */
interface ProbeResult {
  growth: number;
  publishMs: number;
}

const probeSource = `
import { createTidewireServer } from './index.ts';

const [channels, perChannel, bytes, settings] = process.argv.slice(2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const heap = async () => {
  await sleep(0);
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const baseline = await heap();
const { history, waitMs } = JSON.parse(settings);
const tw = createTidewireServer({ history });
const padding = 'x'.repeat(Number(bytes));
const start = Date.now();
for (let round = 0; round < Number(perChannel); round++) {
  for (let channel = 0; channel < Number(channels); channel++) {
    tw.publish('abuse-' + channel, { round, padding });
  }
}
const publishMs = Date.now() - start;
await sleep(waitMs);
const growth = (await heap()) - baseline;
await tw.close();
console.log(JSON.stringify({ growth, publishMs }));
`;

/** Runs the probe in its own process; it is killed if it takes longer than `timeoutMs`. */
function runProbe(
  args: { channels: number; perChannel: number; bytes: number },
  settings: { history: Record<string, number>; waitMs: number },
  timeoutMs = 15_000,
): Promise<ProbeResult> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      probe,
      String(args.channels),
      String(args.perChannel),
      String(args.bytes),
      JSON.stringify(settings),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk;
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`the probe took more than ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out) as ProbeResult);
      else reject(new Error(`the probe exited with ${code}: ${out}${err}`));
    });
  });
}

/** Timers that record which timeouts are pending, with Node's `unref` on their handles. */
function recordingTimers(): { timers: Timers; pending: Set<unknown> } {
  const pending = new Set<unknown>();
  const timers: Timers = {
    setTimeout(callback, ms) {
      const handle = setTimeout(() => {
        pending.delete(handle);
        callback();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
    setInterval: (callback, ms) => setInterval(callback, ms),
    clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
  };
  return { timers, pending };
}

describe('history bounds under abuse', () => {
  beforeAll(() => {
    buildSync({
      stdin: {
        contents: probeSource,
        resolveDir: fileURLToPath(new URL('../src/', import.meta.url)),
        sourcefile: 'probe.ts',
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: probe,
      conditions: ['@tidewire/source'],
      external: ['bufferutil', 'utf-8-validate'],
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should keep the heap within maxTotalBytes when one publisher writes to 20,000 channels', async () => {
    // 40,000 events of about 1 KB (some 42 MB of frames) against an 8 MiB bound. The margin
    // covers the bookkeeping of the 8,000 events kept (about 0.5 KB each), the server's
    // bounded name caches and the runtime's noise.
    const { growth } = await runProbe(
      { channels: 20_000, perChannel: 2, bytes: 1000 },
      { history: { maxTotalBytes: 8 * MiB }, waitMs: 0 },
    );
    expect(growth).toBeLessThan(8 * MiB + 8 * MiB);
  });

  it('should hold the default store to 64 MiB of frames plus their bookkeeping', async () => {
    // 100,000 events of about 1 KB: more bytes than the default bound, as many events as
    // the default count bound.
    const { growth } = await runProbe(
      { channels: 20_000, perChannel: 5, bytes: 1000 },
      { history: {}, waitMs: 0 },
    );
    expect(growth).toBeLessThan(64 * MiB + 100_000 * 512);
  });

  it('should give the memory of expired events back without anyone reading their channels', async () => {
    const { growth, publishMs } = await runProbe(
      { channels: 20_000, perChannel: 1, bytes: 1000 },
      { history: { maxAgeMs: 200 }, waitMs: 1_500 },
    );
    expect(publishMs).toBeLessThan(1_000); // or events could still be young when measured
    expect(growth).toBeLessThan(2 * MiB);
  });

  it('should stop the age sweep of its own engine on close, and leave a given engine running', async () => {
    const own = recordingTimers();
    const tw = createTidewireServer({ timers: own.timers });
    tw.publish('a', 1);
    expect(own.pending.size).toBe(1);
    await tw.close();
    expect(own.pending.size).toBe(0);

    const given = recordingTimers();
    const engine = createMemoryEngine({ timers: given.timers });
    const second = createTidewireServer({ engine, timers: given.timers });
    second.publish('a', 1);
    expect(given.pending.size).toBe(1);
    await second.close();
    expect(given.pending.size).toBe(1); // the next server may use the same engine
    await engine.close();
    expect(given.pending.size).toBe(0);
  });
});
