import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../testing/chromium';
import { createTidewireServer, type TidewireServer } from '../../../server/src/index';

// Protocol version 2 names each SSE event after its channel: the browser's own EventSource,
// with no Tidewire code at all, listens per channel and resumes through Last-Event-ID.

type Got = Array<[channel: string, lastEventId: string, type: string | undefined, data: unknown]>;

describe("the browser's own EventSource on a version 2 stream", () => {
  let http: Server;
  let tw: TidewireServer;
  let chromium: Browser;
  let origin: string;

  beforeAll(async () => {
    tw = createTidewireServer({ retryMs: 200 });
    http = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><script>
        window.got = [];
        window.opened = 0;
        const es = new EventSource('/tidewire/sse?v=2&channel=prices&channel=chat');
        es.addEventListener('open', () => window.opened++);
        for (const channel of ['prices', 'chat'])
          es.addEventListener(channel, (e) =>
            window.got.push([channel, e.lastEventId, undefined, JSON.parse(e.data)]));
        es.addEventListener('@subscribed', (e) =>
          window.got.push(['@subscribed', e.lastEventId, undefined, JSON.parse(e.data).channel]));
      </script>`);
    });
    tw.attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await tw?.close();
    await new Promise((r) => http?.close(r));
  });

  it('should listen per channel, and resume every channel from Last-Event-ID after a drop', async () => {
    const tab = await chromium.newPage();
    const got = () => tab.evaluate(() => (window as unknown as { got: Got }).got);
    const subscribed = async (n: number) => {
      for (let i = 0; i < 200; i++) {
        if ((await got()).filter((g) => g[0] === '@subscribed').length >= n) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('the stream did not open');
    };
    await tab.goto(`${origin}/`);
    await subscribed(2);
    const a = await tw.publish('prices', { p: 101.5 }, { type: 'tick' });
    const b = await tw.publish('chat', { text: 'hi' });
    await tab.waitForFunction(() => (window as unknown as { got: Got }).got.length >= 4);
    // The connection drops; what is published meanwhile comes once the EventSource is back.
    tw.disconnectAll();
    const c = await tw.publish('chat', { text: 'while away' });
    const d = await tw.publish('prices', { p: 102 });
    await subscribed(4);
    await tab.waitForFunction(() => (window as unknown as { got: Got }).got.length >= 8);
    const events = (await got()).filter((g) => !g[0].startsWith('@'));
    expect(events).toEqual([
      ['prices', a.id, undefined, { p: 101.5 }],
      ['chat', b.id, undefined, { text: 'hi' }],
      ['chat', c.id, undefined, { text: 'while away' }],
      ['prices', d.id, undefined, { p: 102 }],
    ]);
    expect(await tab.evaluate(() => (window as unknown as { opened: number }).opened)).toBe(2);
    await tab.close();
  });
});
