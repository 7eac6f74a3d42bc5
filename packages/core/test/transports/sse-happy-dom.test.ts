// openSse with happy-dom's own fetch (the unit project's environment) against a loopback server.
// happy-dom treats 127.0.0.1 as another origin than its page, so the server answers CORS preflights.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openSse, type SseHandlers, type SseMessage } from '../../src/transports/sse';
import { type SseEnd, sseEnd } from '../helpers';

let server: Server | undefined;
const closers: Array<() => void> = [];

const cors = {
  'access-control-allow-origin': '*',
  // What PROTOCOL.md's preflight allows: a stream must need nothing more.
  'access-control-allow-headers': 'authorization, content-type, last-event-id',
};

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  server = createServer((req, res) => {
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function recorder() {
  const messages: SseMessage[] = [];
  let resolveEnd!: (end: SseEnd) => void;
  const ended = new Promise<SseEnd>((resolve) => {
    resolveEnd = resolve;
  });
  const handlers: SseHandlers = {
    onOpen: () => {},
    onMessage: (message) => messages.push(message),
    onRetry: () => {},
    onActivity: () => {},
    onEnd: (error) => resolveEnd(sseEnd(error)),
  };
  return { messages, ended, handlers };
}

function open(url: string, handlers: SseHandlers) {
  const close = openSse(
    { url, fetch, headers: { authorization: 'Bearer s3cret' }, lastEventId: 'e-0' },
    handlers,
  );
  closers.push(close);
  return close;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  if (server) {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    server = undefined;
  }
});

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
