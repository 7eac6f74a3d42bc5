import { describe, expect, it } from 'vitest';
import { startServer } from '../utils/server.js';
import { openAuthedWs, type WsClient } from '../utils/ws-client.js';

// One connection misbehaving must not starve the others: every buffer it can fill is bounded,
// and while it is being dealt with another connection's live events keep arriving promptly.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Publishes `n` live events on `channel` and returns each one's delivery delay to `sub`. */
async function latencies(
  server: Awaited<ReturnType<typeof startServer>>,
  sub: WsClient,
  channel: string,
  n: number,
) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = Date.now();
    const { id } = server.tw.publish(channel, i);
    await sub.waitFor((f) => f.type === 'event' && f.id === id, 3000);
    out.push(Date.now() - at);
    await sleep(10);
  }
  return out;
}

describe('a connection that abuses the server', () => {
  // SERVER BUG (reported, not fixed here: packages/server/src belongs to another engineer).
  // websocket.ts, subscribe(): `replayAllowance += <bytes of this replay>` adds up every replay
  // ever requested, and the allowance is only reset by a heartbeat that finds the buffer under
  // the limit. A client that re-subscribes to one channel with an old `since` and reads nothing
  // makes the server buffer N × the replay (50 MB here) and is never dropped as a slow consumer.
  // Fix: keep the allowance per channel, replaced by a re-subscribe and removed on unsubscribe:
  //   const replays = new Map<string, number>();            // next to replayAllowance
  //   replays.set(channel, bytes);                          // instead of `replayAllowance += bytes`
  //   replayAllowance = [...replays.values()].reduce((a, b) => a + b, 0);
  //   (and replays.delete(channel) in unsubscribe, replays.clear() in leaveAll)
  // so a connection may exceed sendBufferBytes by at most one replay per subscribed channel.
  // Checked on a copy of the tree: with this change the test passes (turn it.fails into it)
  // and every other server test still does.
  it.fails('should drop a connection that asks for the same replay again and again, while another keeps receiving', async () => {
    const warnings: string[] = [];
    const server = await startServer({
      limits: { sendBufferBytes: 256 * 1024 },
      logger: { warn: (m) => warnings.push(m), error: () => {} },
    });
    const padding = 'x'.repeat(1000);
    const first = server.tw.publish('history', { padding }).id;
    for (let i = 0; i < 999; i++) server.tw.publish('history', { i, padding });
    const abuser = await openAuthedWs(`${server.wsBase}/ws`);
    abuser.pause(); // reads nothing: every replay stays in the server's buffer
    const calm = await openAuthedWs(`${server.wsBase}/ws`);
    calm.send({ type: 'subscribe', channel: 'live' });
    await calm.waitFor((f) => f.type === 'subscribed');
    // Each subscribe asks for ~1 MB of replay.
    for (let i = 0; i < 50; i++)
      abuser.send({ type: 'subscribe', channel: 'history', since: first });
    const delays = await latencies(server, calm, 'live', 10);
    expect(Math.max(...delays)).toBeLessThan(1000);
    for (let i = 0; i < 100 && server.tw.stats().connections.websocket > 1; i++) await sleep(20);
    expect(server.tw.stats().connections.websocket).toBe(1);
    expect(warnings).toContain('slow WebSocket consumer dropped');
  });

  it('should close a connection that floods bad frames and stay responsive to other connections', async () => {
    const server = await startServer();
    const noisy = await openAuthedWs(`${server.wsBase}/ws`);
    const calm = await openAuthedWs(`${server.wsBase}/ws`);
    calm.send({ type: 'subscribe', channel: 'live' });
    await calm.waitFor((f) => f.type === 'subscribed');
    for (let i = 0; i < 5000; i++) noisy.sendRaw(i % 2 ? '{nope' : '{"type":"teleport"}');
    const delays = await latencies(server, calm, 'live', 10);
    expect(Math.max(...delays)).toBeLessThan(1000);
    // The frames queue behind one another faster than they are handled: the connection is
    // closed once 256 are waiting (PROTOCOL.md limits), before it answers them all.
    expect(await noisy.closed).toEqual({ code: 4429, reason: 'too many pending frames' });
    expect(server.tw.stats().connections.websocket).toBe(1);
  });

  it('should keep live delivery prompt for others while a paused consumer is being dropped', async () => {
    const server = await startServer({ limits: { sendBufferBytes: 64 * 1024 } });
    const slow = await openAuthedWs(`${server.wsBase}/ws`);
    const calm = await openAuthedWs(`${server.wsBase}/ws`);
    for (const c of [slow, calm]) {
      c.send({ type: 'subscribe', channel: 'a' });
      await c.waitFor((f) => f.type === 'subscribed');
    }
    slow.pause();
    const padding = 'x'.repeat(60_000);
    const delays: number[] = [];
    for (let i = 0; i < 300 && server.tw.stats().connections.websocket > 1; i++) {
      const at = Date.now();
      const { id } = server.tw.publish('a', { i, padding });
      await calm.waitFor((f) => f.type === 'event' && f.id === id, 3000);
      delays.push(Date.now() - at);
    }
    expect(Math.max(...delays)).toBeLessThan(1000);
    expect(server.tw.stats().connections.websocket).toBe(1);
  });
});
