// Publishes per second through the Redis engine, with the epoch fence in every publish script.
// Starts its own redis-server on a free loopback port (no persistence) and stops it by pid, or
// uses REDIS_URL when set. Needs the build: `pnpm build`, then
//   node packages/redis/bench/publish.mjs [seconds per round, default 3]
// 100 channels, 100-byte payloads; 1 and 64 appends in flight; the median of 3 rounds each.
// Every published event must also reach the engine's own tail before a round counts. Runs the
// procedures as library functions (Redis 7+, the fence reads the server's identity once), then
// as EVALSHA scripts (the fence reads INFO on every publish), as on Redis 6.
// `bench/cluster.mjs` runs the same measurement through `measurePublishes`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@redis/client';

const CHANNELS = 100;
const payload = JSON.stringify({ text: 'x'.repeat(88) }); // 100 bytes of JSON

/** A free TCP port on 127.0.0.1. */
const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** The connection without the function commands: the engine falls back to scripts. */
const scriptsOnly = (connection) => ({
  get isReady() {
    return connection.isReady;
  },
  loadScript: connection.loadScript,
  runScript: connection.runScript,
  readStream: connection.readStream,
  duplicate: () => scriptsOnly(connection.duplicate()),
  destroy: connection.destroy,
});

/** Appends for `seconds` with `inFlight` loops; resolves with publishes per second. */
async function round(engine, counter, inFlight, seconds) {
  let published = 0;
  const deliveredBefore = counter.delivered;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, loop) => {
      let n = loop;
      while (performance.now() < end) {
        await engine.append({ channel: `c${n % CHANNELS}`, event: 'message', dataJson: payload });
        n += inFlight;
        published++;
      }
    }),
  );
  const rate = published / ((performance.now() - started) / 1000);
  const deadline = performance.now() + 10_000;
  while (counter.delivered - deliveredBefore < published && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (counter.delivered - deliveredBefore !== published) {
    throw new Error(`the tail delivered ${counter.delivered - deliveredBefore} of ${published}`);
  }
  return rate;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Measures publishes per second through the engine at 1 and 64 appends in flight, as
 * functions and as scripts, against the Redis at `url` (or one of its own on a free port).
 * Resolves with `{ functions: { 1: rate, 64: rate }, scripts: { … }, rounds }`, rounds being
 * every round's rate.
 */
export async function measurePublishes({ url, seconds = 3, log = console.log } = {}) {
  const dist = new URL('../dist/index.js', import.meta.url);
  if (!existsSync(dist)) throw new Error('packages/redis/dist is missing: run `pnpm build` first');
  const { createRedisEngine, fromNodeRedis } = await import(dist.href);
  let redis;
  if (!url) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tidewire-bench-redis-'));
    redis = spawn(
      '/usr/bin/redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { cwd: dir, stdio: 'ignore' },
    );
    redis.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    url = `redis://127.0.0.1:${port}`;
  }
  const client = createClient({ url });
  client.on('error', () => {});
  const result = { rounds: {} };
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.connect();
        break;
      } catch (error) {
        if (attempt > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    for (const [mode, connection] of [
      ['functions', fromNodeRedis(client)],
      ['scripts', scriptsOnly(fromNodeRedis(client))],
    ]) {
      const engine = createRedisEngine({ connection, prefix: `{bench-${mode}-${Date.now()}}` });
      await engine.ready;
      const counter = { delivered: 0 };
      engine.listen({
        event: () => counter.delivered++,
        reset: (reason) => log(`reset: ${reason}`),
      });
      await round(engine, counter, 8, seconds); // warm-up: code loaded, JIT warm
      result[mode] = {};
      for (const inFlight of [1, 64]) {
        const rates = [];
        for (let i = 0; i < 3; i++) rates.push(await round(engine, counter, inFlight, seconds));
        result[mode][inFlight] = median(rates);
        result.rounds[`${mode} ${inFlight}`] = rates.map(Math.round);
        log(
          `${mode.padEnd(9)} ${String(inFlight).padStart(2)} in flight: ` +
            `${Math.round(median(rates)).toLocaleString('en-US').padStart(6)} publishes/s ` +
            `(rounds: ${rates.map((rate) => Math.round(rate)).join(', ')})`,
        );
      }
      await engine.close();
    }
    log('every published event was delivered by the tail');
    return result;
  } finally {
    client.destroy();
    if (redis?.pid) process.kill(redis.pid, 'SIGTERM');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await measurePublishes({ url: process.env.REDIS_URL, seconds: Number(process.argv[2] ?? 3) });
}
