import { describe, expect, it } from 'vitest';
import { startServer } from './utils/server.js';
import { openSse } from './utils/sse-client.js';
import { waitFor } from './utils/wait.js';
import { openAuthedWs } from './utils/ws-client.js';

const isEvent = (f: { type: string }) => f.type === 'event';

describe('expireCredentials', () => {
  it('should close every WebSocket with 4401 token_expired and end every SSE stream after a token_expired frame', async () => {
    const { tw, base, wsBase } = await startServer();
    const sse = await openSse(`${base}/sse?channel=a`);
    await sse.waitFor((f) => f.type === 'subscribed');
    const ws = await openAuthedWs(`${wsBase}/ws`);

    expect(tw.expireCredentials()).toBe(2);

    expect(await ws.closed).toEqual({ code: 4401, reason: 'token_expired' });
    await sse.ended;
    expect(sse.frames().at(-1)).toMatchObject({ type: 'error', code: 'token_expired' });
    await waitFor(async () => {
      const { connections } = await tw.stats();
      return connections.sse + connections.websocket === 0;
    });
  });

  it('should leave connections opened afterwards alone', async () => {
    const { tw, base } = await startServer();
    expect(tw.expireCredentials()).toBe(0);
    const sse = await openSse(`${base}/sse?channel=a`);
    await sse.waitFor((f) => f.type === 'subscribed');
    tw.publish('a', 1);
    await sse.waitFor(isEvent);
  });
});

describe('stallConnections', () => {
  it('should stop writing events and heartbeats to SSE streams and WebSockets while keeping them open', async () => {
    const { tw, base, wsBase } = await startServer({ heartbeatMs: 20 });
    const sse = await openSse(`${base}/sse?channel=a`);
    await sse.waitFor((f) => f.type === 'subscribed');
    const ws = await openAuthedWs(`${wsBase}/ws`);
    ws.send({ type: 'subscribe', channel: 'a' });
    await ws.waitFor((f) => f.type === 'subscribed');

    expect(tw.stallConnections()).toBe(2);
    // Bytes written before the stall may still be in flight on loopback: let them land first.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sseLines = sse.lines.length;
    const wsFrames = ws.frames.length;
    let pings = 0;
    ws.ws.on('ping', () => {
      pings += 1;
    });
    tw.publish('a', 'lost in the stall');
    // Ten heartbeat periods pass without a byte on either connection.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sse.lines.length).toBe(sseLines);
    expect(ws.frames.length).toBe(wsFrames);
    expect(pings).toBe(0);
    expect((await tw.stats()).connections).toEqual({ sse: 1, websocket: 1 });

    // A new connection is not stalled, and resumes what the stalled ones missed.
    const fresh = await openSse(`${base}/sse?channel=a@${(await tw.stats()).channels.a?.lastId}`);
    await fresh.waitFor((f) => f.type === 'subscribed');
    const { id } = await tw.publish('a', 'after');
    expect(await fresh.waitFor(isEvent)).toMatchObject({ id, data: 'after' });

    // Stalled connections go away when their clients close them.
    sse.close();
    ws.close();
    await waitFor(async () => {
      const { connections } = await tw.stats();
      return connections.websocket === 0 && connections.sse === 1;
    });
  });

  it('should still let close() end stalled connections', async () => {
    const { tw, base, wsBase, stop } = await startServer();
    const sse = await openSse(`${base}/sse?channel=a`);
    await sse.waitFor((f) => f.type === 'subscribed');
    const ws = await openAuthedWs(`${wsBase}/ws`);
    tw.stallConnections();
    await stop();
    await sse.ended;
    expect((await ws.closed).code).toBe(1001);
  });
});
