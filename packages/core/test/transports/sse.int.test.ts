import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSse, type SseHandlers } from '../../src/transports/sse';
import { loopback, recorder, until } from './loopback';

const net = loopback();
const serve = net.serve;

function open(url: string, handlers: SseHandlers, lastEventId?: string) {
  const close = openSse(
    {
      url,
      fetch: globalThis.fetch,
      headers: { authorization: 'Bearer s3cret' },
      maxMessageBytes: 1 << 20,
      ...(lastEventId === undefined ? {} : { lastEventId }),
    },
    handlers,
  );
  return net.track(close);
}

const streamHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
};

const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);
beforeEach(() => {
  rejections.length = 0;
  process.on('unhandledRejection', onRejection);
});
afterEach(async () => {
  await net.cleanup();
  process.off('unhandledRejection', onRejection);
  expect(rejections).toEqual([]);
});

describe('openSse against a Node http server', () => {
  it('should deliver events incrementally while the response is still open', async () => {
    let res!: ServerResponse;
    const url = await serve((_req, r) => {
      res = r;
      res.writeHead(200, streamHeaders);
      res.write(': ping\n\nretry: 1000\n\n');
      res.write('id: e-1\ndata: {"n":1}\n\n');
    });
    const rec = recorder();
    open(`${url}/sse?channel=a`, rec.handlers);
    await until(() => rec.messages.length === 1);
    expect(res.writableEnded).toBe(false);
    res.write('id: e-2\ndata: {"n":');
    res.write('2}\n\n');
    await until(() => rec.messages.length === 2);
    expect(res.writableEnded).toBe(false);
    res.end();
    expect(await rec.ended).toEqual({ code: 'closed' });
    expect(rec.messages).toEqual([
      { event: 'message', data: '{"n":1}', lastEventId: 'e-1' },
      { event: 'message', data: '{"n":2}', lastEventId: 'e-2' },
    ]);
    expect(rec.opened()).toBe(1);
  });

  it('should send Authorization, Accept and Last-Event-ID headers and keep the token out of the URL', async () => {
    let seen: IncomingMessage | undefined;
    const url = await serve((req, res) => {
      seen = req;
      res.writeHead(200, streamHeaders).end();
    });
    const rec = recorder();
    open(`${url}/sse?channel=a&channel=b`, rec.handlers, 'é-1…');
    await rec.ended;
    expect(seen?.headers.authorization).toBe('Bearer s3cret');
    expect(seen?.headers.accept).toBe('text/event-stream');
    expect(seen?.headers['cache-control']).toBe('no-cache');
    // Node reads header bytes as Latin-1; the bytes on the wire are the id's UTF-8.
    const raw = String(seen?.headers['last-event-id']);
    expect(Buffer.from(raw, 'latin1').toString('utf8')).toBe('é-1…');
    expect(seen?.url).toBe('/sse?channel=a&channel=b');
    expect(seen?.url).not.toContain('s3cret');
  });

  it('should close the server side when the closer runs mid-stream', async () => {
    let res!: ServerResponse;
    const url = await serve((_req, r) => {
      res = r;
      res.writeHead(200, streamHeaders);
      res.write('data: hello\n\n');
    });
    const rec = recorder();
    const close = open(`${url}/sse`, rec.handlers);
    await until(() => rec.messages.length === 1);
    const closed = once(res, 'close');
    close();
    await closed;
    expect(res.writableEnded).toBe(false);
    let ended = false;
    void rec.ended.then(() => {
      ended = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ended).toBe(false);
  });

  it('should close the request when the closer runs before the response', async () => {
    let res: ServerResponse | undefined;
    const url = await serve((_req, r) => {
      res = r;
    });
    const rec = recorder();
    const close = open(`${url}/sse`, rec.handlers);
    await until(() => res !== undefined);
    const closed = once(res!, 'close');
    close();
    await closed;
    expect(rec.opened()).toBe(0);
  });

  it('should report error statuses with Retry-After and ignore their bodies', async () => {
    const answers: Array<[number, Record<string, string>]> = [
      [503, { 'retry-after': '2' }],
      [429, { 'retry-after': '0' }],
      [401, { 'www-authenticate': 'Bearer error="invalid_token"' }],
      [404, {}],
      [204, {}],
    ];
    let next = 0;
    const url = await serve((_req, res) => {
      const [status, headers] = answers[next++]!;
      res.writeHead(status, { ...streamHeaders, ...headers });
      res.end(status === 204 ? undefined : 'data: {"type":"error"}\n\n');
    });
    const expected = [2000, 0, undefined, undefined, undefined];
    for (const [i, [status]] of answers.entries()) {
      const rec = recorder();
      open(`${url}/sse`, rec.handlers);
      expect(await rec.ended).toMatchObject({ status, retryAfter: expected[i] });
      expect(rec.messages).toEqual([]);
      expect(rec.opened()).toBe(0);
    }
  });

  it('should refuse a 200 that is not an event stream', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>data: x</p>\n\n');
    });
    const rec = recorder();
    open(`${url}/sse`, rec.handlers);
    expect(await rec.ended).toEqual({ code: 'bad_content_type', cause: 'text/html' });
    expect(rec.messages).toEqual([]);
  });

  it('should drop an event cut off by the end of the response', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, streamHeaders);
      res.end('data: a\n\nid: 9\ndata: b');
    });
    const rec = recorder();
    open(`${url}/sse`, rec.handlers);
    expect(await rec.ended).toEqual({ code: 'closed' });
    expect(rec.messages).toEqual([{ event: 'message', data: 'a', lastEventId: '' }]);
  });

  it('should end with network when the connection dies mid-stream', async () => {
    let res!: ServerResponse;
    const url = await serve((_req, r) => {
      res = r;
      res.writeHead(200, streamHeaders);
      res.write('data: a\n\n');
    });
    const rec = recorder();
    open(`${url}/sse`, rec.handlers);
    await until(() => rec.messages.length === 1);
    res.socket?.destroy();
    expect((await rec.ended).code).toBe('network');
  });

  it('should end with network when nothing listens', async () => {
    const url = await serve(() => {});
    await net.stop();
    const rec = recorder();
    open(`${url}/sse`, rec.handlers);
    expect((await rec.ended).code).toBe('network');
  });
});
