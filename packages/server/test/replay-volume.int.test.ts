import { describe, expect, it } from 'vitest';
import { startServer } from './utils/server.js';
import { openAuthedWs } from './utils/ws-client.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const KiB = 1024;

describe('the replay volume of one connection', () => {
  it('should serve replay after replay at replayBytesPerSecond, however fast the client reads', async () => {
    const rate = 256 * KiB;
    const server = await startServer({ limits: { replayBytesPerSecond: rate } });
    const padding = 'x'.repeat(1000);
    const first = (await server.tw.publish('history', { padding })).id;
    for (let i = 0; i < 499; i++) await server.tw.publish('history', { i, padding });
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    // Each subscribe restarts the channel from the start: half a megabyte of replay each.
    const started = performance.now();
    for (let i = 0; i < 40; i++) ws.send({ type: 'subscribe', channel: 'history', since: first });
    await sleep(2000);
    const seconds = (performance.now() - started) / 1000;
    const bytes = ws.messages.reduce((sum, message) => sum + Buffer.byteLength(message), 0);
    // The burst (four seconds' worth), the rate since, and a page in flight: never the 20 MB asked.
    const bound = 4 * rate + rate * seconds + 64 * KiB;
    console.info(
      `[replay-volume] ${(bytes / KiB).toFixed(0)} KiB in ${seconds.toFixed(1)} s (bound ${(bound / KiB).toFixed(0)} KiB)`,
    );
    expect(bytes).toBeLessThanOrEqual(bound);
    expect(bytes).toBeGreaterThan(rate);
    // The connection stays usable: live events of another channel get through.
    ws.send({ type: 'subscribe', channel: 'live' });
    await ws.waitFor((f) => f.type === 'subscribed' && f.channel === 'live', 5000);
  });

  it('should let an ordinary resume through within its burst', async () => {
    const server = await startServer();
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) ids.push((await server.tw.publish('feed', { i })).id);
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'feed', since: ids[0] });
    await ws.waitFor((f) => f.type === 'event' && f.id === ids[999], 5000);
    const replayed = ws.frames.filter((f) => f.type === 'event').length;
    expect(replayed).toBe(999);
  });
});
