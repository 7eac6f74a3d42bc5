import { describe, expect, it } from 'vitest';
import { startServer } from '../utils/server.js';
import { openAuthedWs } from '../utils/ws-client.js';

// An event whose data is within limits.maxDataBytes must be publishable on every path.
// SERVER BUG (reported, not fixed here: packages/server/src belongs to another engineer).
// The defaults make limits.maxFrameBytes equal to limits.maxDataBytes (options.ts:166-168,
// both 65_536), so a WebSocket publish whose data is just under the data limit is a frame just
// over the frame limit: the socket is closed with 1009 instead of the publish being accepted
// (or refused with too_large), and the client can only report it as `unconfirmed`.
// The same body over HTTP publish hits maxBodyBytes (also 65_536) as 413 too_large.
// Fix: leave room for the envelope, e.g. in options.ts
//   maxFrameBytes: limits.maxFrameBytes ?? (limits.maxDataBytes ?? 65_536) + 4096,
//   maxBodyBytes: limits.maxBodyBytes ?? (limits.maxDataBytes ?? 65_536) + 4096,
// (a channel is at most 128 characters, an event type 64, a ref is short).
// Checked on a copy of the tree: with this change the test passes (turn it.fails into it)
// and every other server test still does. Update the README's limits table with it.
describe('default limits', () => {
  const data = 'x'.repeat(65_530); // serialized: 65,532 bytes, under maxDataBytes (65,536)

  it.fails('should accept over WebSocket an event whose data is under maxDataBytes', async () => {
    const server = await startServer();
    const ws = await openAuthedWs(`${server.wsBase}/ws`);
    ws.send({ type: 'publish', ref: '1', channel: 'a', data });
    const answer = await Promise.race([
      ws.waitFor((f) => f.type === 'ack' || f.type === 'error'),
      ws.closed.then(({ code }) => ({ type: 'closed', code })),
    ]);
    expect(answer).toMatchObject({ type: 'ack', ref: '1' }); // today: { type: 'closed', code: 1009 }
  });

  it.fails('should accept over HTTP an event whose data is under maxDataBytes', async () => {
    const server = await startServer();
    const res = await fetch(`${server.base}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'a', data }),
    });
    expect(res.status).toBe(200); // today: 413 too_large
  });
});
