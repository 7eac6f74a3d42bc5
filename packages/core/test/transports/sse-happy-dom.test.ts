// openSse with happy-dom's own fetch (the unit project's environment) against a loopback server.
// happy-dom treats 127.0.0.1 as another origin than its page, so the server answers CORS preflights.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { openSse, type SseHandlers } from '../../src/transports/sse';
import { type Handler, loopback, recorder, until } from './loopback';

const net = loopback();

const cors = {
  'access-control-allow-origin': '*',
  // What PROTOCOL.md's preflight allows: a stream must need nothing more.
  'access-control-allow-headers': 'authorization, content-type, last-event-id',
};

const serve = (handler: Handler) => net.serve(handler, cors);

function open(url: string, handlers: SseHandlers) {
  const close = openSse(
    {
      url,
      fetch,
      headers: { authorization: 'Bearer s3cret' },
      lastEventId: 'e-0',
      maxMessageBytes: 1 << 20,
    },
    handlers,
  );
  return net.track(close);
}

afterEach(() => net.cleanup());

describe('openSse with happy-dom fetch', () => {
  it('should stream events with the headers sent, then end at EOF', async () => {
    let res!: ServerResponse;
    let seen: IncomingMessage | undefined;
    const url = await serve((req, r) => {
      seen = req;
      res = r;
      res.writeHead(200, { ...cors, 'content-type': 'text/event-stream' });
      res.write('id: e-1\ndata: one\n\n');
    });
    const rec = recorder();
    open(`${url}/sse`, rec.handlers);
    await until(() => rec.messages.length === 1);
    res.end('data: two\n\n');
    expect(await rec.ended).toEqual({ code: 'closed' });
    expect(rec.messages.map((m) => [m.data, m.lastEventId])).toEqual([
      ['one', 'e-1'],
      ['two', 'e-1'],
    ]);
    expect(seen?.headers.authorization).toBe('Bearer s3cret');
    expect(seen?.headers['last-event-id']).toBe('e-0');
  });

  it('should close the server side when closed mid-stream', async () => {
    let res!: ServerResponse;
    const url = await serve((_req, r) => {
      res = r;
      res.writeHead(200, { ...cors, 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
    });
    const rec = recorder();
    const close = open(`${url}/sse`, rec.handlers);
    await until(() => rec.messages.length === 1);
    const closed = once(res, 'close');
    close();
    await closed;
    expect(res.writableEnded).toBe(false);
  });

  it('should close the connection and deliver nothing when closed before the response', async () => {
    let res: ServerResponse | undefined;
    const url = await serve((_req, r) => {
      res = r;
    });
    const rec = recorder();
    const close = open(`${url}/sse`, rec.handlers);
    await until(() => res !== undefined);
    close();
    const closed = once(res!, 'close');
    res!.writeHead(200, { ...cors, 'content-type': 'text/event-stream' });
    res!.write('data: late\n\n');
    await closed;
    expect(rec.messages).toEqual([]);
  });
});
