import { describe, expect, it } from 'vitest';
import { startServer } from '../utils/server.js';
import { openAuthedWs } from '../utils/ws-client.js';

// An event whose data is within limits.maxDataBytes must be publishable on every path.
// The default frame and body limits leave room for the envelope (channel, event type, ref)
// around data of up to limits.maxDataBytes.
describe('default limits', () => {
  const data = 'x'.repeat(65_530); // serialized: 65,532 bytes, under maxDataBytes (65,536)

  it('should accept over WebSocket an event whose data is under maxDataBytes', async () => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'publish', ref: '1', channel: 'a', data });
    const answer = await Promise.race([
      ws.waitFor((f) => f.type === 'ack' || f.type === 'error'),
      ws.closed.then(({ code }) => ({ type: 'closed', code })),
    ]);
    expect(answer).toMatchObject({ type: 'ack', ref: '1' }); // today: { type: 'closed', code: 1009 }
  });

  it('should accept over HTTP an event whose data is under maxDataBytes', async () => {
    const server = await startServer();
    const res = await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'a', data }),
    });
    expect(res.status).toBe(200); // today: 413 too_large
  });
});
