import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../src/limits.js';
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
    const { id } = await server.tw.publish(channel, i);
    await sub.waitFor((f) => f.type === 'event' && f.id === id, 3000);
    out.push(Date.now() - at);
    await sleep(10);
  }
  return out;
}

describe('a connection that abuses the server', () => {
  // A replay queues a page only when it fits in sendBufferBytes, and a replay replaced before
  // its page was read queues nothing: a client that re-subscribes one channel with an old
  // `since` and reads nothing never makes the server buffer more than its send buffer, and is
  // dropped as a slow consumer once that buffer has not drained within the write timeout.
  it('should drop a connection that asks for the same replay again and again, while another keeps receiving', async () => {
    const warnings: string[] = [];
    const sendBufferBytes = 256 * 1024;
    const server = await startServer({
      limits: { sendBufferBytes, writeTimeoutMs: 500 },
      history: { maxEvents: 10_000 },
      logger: { warn: (m) => warnings.push(m), error: () => {} },
    });
    let upgraded: Duplex | undefined;
    server.http.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      upgraded ??= socket;
    });
    const padding = 'x'.repeat(1000);
    const first = (await server.tw.publish('history', { padding })).id;
    // More than the operating system buffers on loopback, so that the server's own buffer shows.
    for (let i = 0; i < 9999; i++) server.tw.publish('history', { i, padding });
    const abuser = await openAuthedWs(`${server.wsBase}/ws`);
    abuser.pause(); // reads nothing: every replay stays in the server's buffer
    let largest = 0;
    const sampling = setInterval(() => {
      largest = Math.max(largest, upgraded?.writableLength ?? 0);
    }, 2);
    const calm = await openAuthedWs(`${server.wsBase}/ws`);
    calm.send({ type: 'subscribe', channel: 'live' });
    await calm.waitFor((f) => f.type === 'subscribed');
    // Each subscribe asks for ~10 MB of replay.
    for (let i = 0; i < 50; i++)
      abuser.send({ type: 'subscribe', channel: 'history', since: first });
    const delays = await latencies(server, calm, 'live', 10);
    expect(Math.max(...delays)).toBeLessThan(1000);
    for (let i = 0; i < 100 && (await server.tw.stats()).connections.websocket > 1; i++)
      await sleep(20);
    clearInterval(sampling);
    expect((await server.tw.stats()).connections.websocket).toBe(1);
    expect(warnings).toContain('slow WebSocket consumer dropped');
    expect(largest).toBeLessThanOrEqual(sendBufferBytes + MAX_MESSAGE_BYTES);
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
    // closed once maxChannelsPerConnection + 256 are waiting (PROTOCOL.md limits), before it
    // answers them all.
    expect(await noisy.closed).toEqual({ code: 4429, reason: 'too many pending frames' });
    expect((await server.tw.stats()).connections.websocket).toBe(1);
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
    for (let i = 0; i < 300 && (await server.tw.stats()).connections.websocket > 1; i++) {
      const at = Date.now();
      const { id } = await server.tw.publish('a', { i, padding });
      await calm.waitFor((f) => f.type === 'event' && f.id === id, 3000);
      delays.push(Date.now() - at);
    }
    expect(Math.max(...delays)).toBeLessThan(1000);
    expect((await server.tw.stats()).connections.websocket).toBe(1);
  });
});
