import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TidewireError } from '../../src/errors';
import { openSse, type SseHandlers, type SseRequest } from '../../src/transports/sse';
import { received, type SseEnd, type SseReceived, sseEnd } from '../helpers';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A response body the test writes to while the stream is open. */
function liveBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { cancelled: false, pulls: 0 };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      state.pulls++;
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return {
    body,
    state,
    push: (text: string | Uint8Array) =>
      controller.enqueue(typeof text === 'string' ? encode(text) : text),
    end: () => controller.close(),
    fail: (error: unknown) => controller.error(error),
  };
}

type Call =
  | ['open']
  | ['message', SseReceived]
  | ['retry', number]
  | ['activity']
  | ['end', SseEnd];

function recorder() {
  const calls: Call[] = [];
  let resolveEnd!: (end: SseEnd) => void;
  const ended = new Promise<SseEnd>((resolve) => {
    resolveEnd = resolve;
  });
  const handlers: SseHandlers = {
    onOpen: () => calls.push(['open']),
    onMessage: (message) => calls.push(['message', received(message)]),
    onRetry: (ms) => calls.push(['retry', ms]),
    onActivity: () => calls.push(['activity']),
    onEnd: (error) => {
      const end = sseEnd(error);
      calls.push(['end', end]);
      resolveEnd(end);
    },
  };
  const data = () => calls.flatMap((call) => (call[0] === 'message' ? [call[1].data] : []));
  return { calls, handlers, ended, data };
}

const eventStream = { 'content-type': 'text/event-stream' };

/** A fetch answering every request with `response()`, remembering what it was asked. */
function fakeFetch(response: () => Response | Promise<Response>) {
  const requests: Array<{ url: string; init: RequestInit }> = [];
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    requests.push({ url: String(url), init: init ?? {} });
    return response();
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, requests };
}

const closers: Array<() => void> = [];
function open(request: Partial<SseRequest> & Pick<SseRequest, 'fetch'>, handlers: SseHandlers) {
  const close = openSse(
    { url: 'http://127.0.0.1/sse?channel=a', maxMessageBytes: 1 << 20, ...request },
    handlers,
  );
  closers.push(close);
  return close;
}

const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);
beforeEach(() => {
  rejections.length = 0;
  process.on('unhandledRejection', onRejection);
});
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  // Let pending promise jobs settle so a late rejection would be seen.
  await new Promise((resolve) => setTimeout(resolve, 5));
  process.off('unhandledRejection', onRejection);
  expect(rejections).toEqual([]);
});

describe('openSse request', () => {
  it('should send the event-stream headers, the caller headers and same-origin credentials', async () => {
    const { fetch, requests } = fakeFetch(() => new Response('', { headers: eventStream }));
    const rec = recorder();
    open({ fetch, headers: { authorization: 'Bearer t0k' } }, rec.handlers);
    await rec.ended;
    expect(requests).toHaveLength(1);
    const [{ url, init }] = requests as [(typeof requests)[number]];
    expect(url).toBe('http://127.0.0.1/sse?channel=a');
    // Only CORS-safelisted headers besides Authorization: no Cache-Control (see `cache`).
    expect(init.headers).toEqual({ accept: 'text/event-stream', authorization: 'Bearer t0k' });
    expect(init.cache).toBe('no-store');
    // Unset, so fetch's own default applies, which is same-origin.
    expect(init.credentials).toBeUndefined();
    expect(new Request(url, init).credentials).toBe('same-origin');
    expect(init.signal).toBeInstanceOf(AbortSignal);
  });

  it('should pass the credentials mode given', async () => {
    const { fetch, requests } = fakeFetch(() => new Response('', { headers: eventStream }));
    const rec = recorder();
    open({ fetch, credentials: 'include' }, rec.handlers);
    await rec.ended;
    expect(requests[0]?.init.credentials).toBe('include');
  });

  it('should send Last-Event-ID only when non-empty, as UTF-8 bytes', async () => {
    const { fetch, requests } = fakeFetch(() => new Response('', { headers: eventStream }));
    for (const lastEventId of ['', 'ep-41', 'é…']) {
      const rec = recorder();
      open({ fetch, lastEventId }, rec.handlers);
      await rec.ended;
    }
    const sent = requests.map((r) => (r.init.headers as Record<string, string>)['last-event-id']);
    expect(sent).toEqual([undefined, 'ep-41', '\xc3\xa9\xe2\x80\xa6']);
    // A byte string is a valid header value even where the id is not Latin-1.
    expect(() => new Headers({ 'last-event-id': sent[2]! })).not.toThrow();
  });

  it('should call fetch without a this, as a bare window.fetch needs', async () => {
    let self: unknown = 'unset';
    const fetch = function (this: unknown) {
      self = this;
      return Promise.resolve(new Response('', { headers: eventStream }));
    } as unknown as typeof globalThis.fetch;
    const rec = recorder();
    open({ fetch }, rec.handlers);
    await rec.ended;
    expect(self).toBeUndefined();
  });
});

describe('openSse responses', () => {
  it('should deliver each message as it arrives, before the body ends', async () => {
    const live = liveBody();
    const { fetch } = fakeFetch(() => new Response(live.body, { headers: eventStream }));
    const rec = recorder();
    open({ fetch }, rec.handlers);
    live.push('retry: 1000\n\ndata: {"type":"welcome"}\n\n');
    await vi.waitFor(() => expect(rec.data()).toEqual(['{"type":"welcome"}']));
    live.push('id: e-1\ndata: one\n\n');
    await vi.waitFor(() => expect(rec.data()).toHaveLength(2));
    expect(rec.calls).toEqual([
      ['open'],
      ['activity'],
      ['retry', 1000],
      ['message', { event: 'message', data: '{"type":"welcome"}', lastEventId: '' }],
      ['activity'],
      ['message', { event: 'message', data: 'one', lastEventId: 'e-1' }],
    ]);
    live.end();
    expect(await rec.ended).toEqual({ code: 'closed' });
    expect(rec.calls.filter((call) => call[0] === 'end')).toHaveLength(1);
  });

  it('should dispatch a block ended by CR CR without waiting for more bytes', async () => {
    const live = liveBody();
    const { fetch } = fakeFetch(() => new Response(live.body, { headers: eventStream }));
    const rec = recorder();
    open({ fetch }, rec.handlers);
    live.push('data: x\r\r');
    await vi.waitFor(() => expect(rec.data()).toEqual(['x']));
    live.push('\ndata: y\r');
    live.push('\n\r\n');
    await vi.waitFor(() => expect(rec.data()).toEqual(['x', 'y']));
  });

  it('should call onActivity for comments and partial lines', async () => {
    const live = liveBody();
    const { fetch } = fakeFetch(() => new Response(live.body, { headers: eventStream }));
    const rec = recorder();
    open({ fetch }, rec.handlers);
    live.push(': ping\n\n');
    live.push('data: par');
    await vi.waitFor(() => expect(rec.calls).toEqual([['open'], ['activity'], ['activity']]));
  });

  it('should start the last event id from the request and keep it across blocks', async () => {
    const { fetch } = fakeFetch(
      () => new Response('data: a\n\nid: 7\n\ndata: b\n\n', { headers: eventStream }),
    );
    const rec = recorder();
    open({ fetch, lastEventId: '5' }, rec.handlers);
    await rec.ended;
    const ids = rec.calls.flatMap((call) => (call[0] === 'message' ? [call[1].lastEventId] : []));
    expect(ids).toEqual(['5', '7']);
  });

  it('should report through onLastEventId each change of the last event id by a block without data', async () => {
    const body =
      'id: 1\ndata: a\n\nid: 2\n\nid: 2\nevent: e\n\n: ping\n\nretry: 5\n\nid\n\ndata: b\n\n';
    const { fetch } = fakeFetch(() => new Response(body, { headers: eventStream }));
    const rec = recorder();
    const seen: string[] = [];
    open(
      { fetch, lastEventId: '0' },
      {
        ...rec.handlers,
        onMessage: (message) => seen.push(`message ${message.lastEventId}`),
        onLastEventId: (id) => seen.push(`id ${id}`),
      },
    );
    await rec.ended;
    expect(seen).toEqual(['message 1', 'id 2', 'id ', 'message ']);
  });

  it('should end with eof on a 200 without a body', async () => {
    const { fetch } = fakeFetch(() => new Response(null, { headers: eventStream }));
    const rec = recorder();
    open({ fetch }, rec.handlers);
    expect(await rec.ended).toEqual({ code: 'closed' });
    expect(rec.calls).toEqual([['open'], ['end', { code: 'closed' }]]);
  });

  it('should read the code a 400 names in its JSON body', async () => {
    for (const [body, code] of [
      [
        '{"code":"too_many_channels","message":"at most 100 channels per stream"}',
        'too_many_channels',
      ],
      ['{"code":"invalid_channel"}', 'invalid_channel'],
      ['not json', 'bad_request'],
    ]) {
      const { fetch } = fakeFetch(() => new Response(body, { status: 400 }));
      const rec = recorder();
      open({ fetch }, rec.handlers);
      expect(await rec.ended).toMatchObject({ status: 400, code });
    }
  });

  it('should report every other status than 200 and 400 without reading its body', async () => {
    for (const status of [201, 204, 301, 401, 403, 404, 408, 429, 500, 503]) {
      const live = liveBody();
      const body = status === 204 ? null : live.body;
      if (body) live.push('data: not for you\n\n');
      const { fetch } = fakeFetch(() => new Response(body, { status, headers: eventStream }));
      const rec = recorder();
      open({ fetch }, rec.handlers);
      expect(await rec.ended).toMatchObject({ status, retryAfter: undefined });
      expect(rec.calls).toHaveLength(1);
      if (body) await vi.waitFor(() => expect(live.state.cancelled).toBe(true));
    }
  });

  it('should name the request without its query, and say what to do, in the development build', async () => {
    const { fetch } = fakeFetch(() => new Response(null, { status: 404 }));
    const url = 'https://example.com/tw/sse?channel=a%40secret';
    const error = await new Promise<TidewireError>((resolve) => {
      open({ fetch, url }, { ...recorder().handlers, onEnd: resolve });
    });
    expect(error.message).toBe(
      'not_found 404: request to https://example.com/tw/sse. No Tidewire endpoint at this path: the url option is the base path the server is mounted on, without /sse or /ws.',
    );
    expect(error.message).not.toContain('secret');
  });

  it('should read Retry-After in seconds or as an HTTP date', async () => {
    const inThirty = new Date(Date.now() + 30_000).toUTCString();
    const cases: Array<[string, (ms: number | undefined) => void]> = [
      ['120', (ms) => expect(ms).toBe(120_000)],
      ['0', (ms) => expect(ms).toBe(0)],
      [inThirty, (ms) => expect(ms).toBeGreaterThan(28_000)],
      [inThirty, (ms) => expect(ms).toBeLessThanOrEqual(30_000)],
      ['Thu, 01 Jan 1970 00:00:00 GMT', (ms) => expect(ms).toBe(0)],
      ['soon', (ms) => expect(ms).toBeUndefined()],
    ];
    for (const [value, check] of cases) {
      const headers = { 'retry-after': value };
      const { fetch } = fakeFetch(() => new Response(null, { status: 503, headers }));
      const rec = recorder();
      open({ fetch }, rec.handlers);
      const end = await rec.ended;
      expect(end.status).toBe(503);
      check(end.retryAfter);
    }
  });

  it('should end with network when fetch rejects or throws', async () => {
    const failure = new TypeError('fetch failed');
    const rejecting = fakeFetch(() => Promise.reject(failure));
    const throwing = (() => {
      throw failure;
    }) as unknown as typeof globalThis.fetch;
    for (const fetch of [rejecting.fetch, throwing]) {
      const rec = recorder();
      open({ fetch }, rec.handlers);
      expect(await rec.ended).toEqual({ code: 'network', cause: failure });
      expect(rec.calls).toHaveLength(1);
    }
  });

  it('should end with network when the body errors, after the messages before it', async () => {
    const live = liveBody();
    const { fetch } = fakeFetch(() => new Response(live.body, { headers: eventStream }));
    const rec = recorder();
    open({ fetch }, rec.handlers);
    live.push('data: a\n\ndata: b');
    await vi.waitFor(() => expect(rec.data()).toEqual(['a']));
    const failure = new Error('connection reset');
    live.fail(failure);
    expect(await rec.ended).toEqual({ code: 'network', cause: failure });
    expect(rec.data()).toEqual(['a']);
  });
});

describe('openSse closer', () => {
  it('should abort a pending fetch and cancel a response that arrives anyway', async () => {
    // Some fetch implementations (happy-dom) ignore an abort before the response arrives.
    let respond!: (response: Response) => void;
    const { fetch, requests } = fakeFetch(
      () =>
        new Promise<Response>((resolve) => {
          respond = resolve;
        }),
    );
    const rec = recorder();
    const close = open({ fetch }, rec.handlers);
    await vi.waitFor(() => expect(requests).toHaveLength(1));
    close();
    expect(requests[0]?.init.signal?.aborted).toBe(true);
    const live = liveBody();
    live.push('data: late\n\n');
    respond(new Response(live.body, { headers: eventStream }));
    await vi.waitFor(() => expect(live.state.cancelled).toBe(true));
    expect(rec.calls).toEqual([]);
  });

  it('should treat a fetch rejected by the abort as closed, not as a network error', async () => {
    const aborting: typeof globalThis.fetch = (_url, init) => {
      // happy-dom rejects with a plain Error, so only signal.aborted tells it apart.
      return new Promise((_, reject) =>
        init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    };
    const rec = recorder();
    const close = open({ fetch: aborting }, rec.handlers);
    close();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(rec.calls).toEqual([]);
  });

  it('should abort mid-stream, cancel the body and call no handler after', async () => {
    const live = liveBody();
    const { fetch, requests } = fakeFetch(() => new Response(live.body, { headers: eventStream }));
    const rec = recorder();
    const close = open({ fetch }, rec.handlers);
    live.push('data: a\n\n');
    await vi.waitFor(() => expect(rec.data()).toEqual(['a']));
    close();
    close();
    expect(requests[0]?.init.signal?.aborted).toBe(true);
    await vi.waitFor(() => expect(live.state.cancelled).toBe(true));
    const before = rec.calls.length;
    expect(() => live.push('data: b\n\n')).toThrow();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(rec.calls).toHaveLength(before);
  });

  it('should stop delivering the rest of a chunk when closed from a handler', async () => {
    const { fetch } = fakeFetch(
      () => new Response('data: a\n\ndata: b\n\nretry: 5\n\n', { headers: eventStream }),
    );
    const rec = recorder();
    const close = open(
      { fetch },
      {
        ...rec.handlers,
        onMessage: (message) => {
          rec.handlers.onMessage(message);
          close();
        },
      },
    );
    await vi.waitFor(() => expect(rec.data()).toEqual(['a']));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(rec.calls).toEqual([
      ['open'],
      ['activity'],
      ['message', { event: 'message', data: 'a', lastEventId: '' }],
    ]);
  });

  it('should do nothing when called after the stream ended', async () => {
    const { fetch } = fakeFetch(() => new Response('data: a\n\n', { headers: eventStream }));
    const rec = recorder();
    const close = open({ fetch }, rec.handlers);
    await rec.ended;
    const calls = rec.calls.length;
    expect(() => close()).not.toThrow();
    expect(rec.calls).toHaveLength(calls);
  });
});

describe('openSse message size limit', () => {
  it('should end with too-large while an oversized block is still arriving', async () => {
    const live = liveBody();
    const { fetch } = fakeFetch(() => new Response(live.body, { headers: eventStream }));
    const rec = recorder();
    open({ fetch, maxMessageBytes: 64 }, rec.handlers);
    live.push('data: ok\n\n');
    for (let i = 0; i < 8; i++) live.push('data: 0123456789\n');
    expect(await rec.ended).toEqual({ code: 'too_large' });
    expect(rec.data()).toEqual(['ok']);
    await vi.waitFor(() => expect(live.state.cancelled).toBe(true));
  });

  it('should accept a block of exactly the limit and refuse one byte more', async () => {
    // "data: " + 10 bytes + "\n" = 17 bytes; the empty line is not counted.
    const exact = 'data: 0123456789\n\n';
    for (const [body, expected] of [
      [exact + exact, { data: ['0123456789', '0123456789'], end: { code: 'closed' } }],
      [
        `${exact}data: 0123456789X\n\n${exact}`,
        { data: ['0123456789'], end: { code: 'too_large' } },
      ],
    ] as const) {
      const { fetch } = fakeFetch(() => new Response(body, { headers: eventStream }));
      const rec = recorder();
      open({ fetch, maxMessageBytes: 17 }, rec.handlers);
      expect(await rec.ended).toEqual(expected.end);
      expect(rec.data()).toEqual(expected.data);
    }
  });

  it('should count the characters of every line of the block', async () => {
    // "event: e\n" (9) + "data: €\n" (8) = 17 characters.
    for (const [limit, code] of [
      [17, 'closed'],
      [16, 'too_large'],
    ] as const) {
      const { fetch } = fakeFetch(
        () => new Response('event: e\ndata: €\n\n', { headers: eventStream }),
      );
      const rec = recorder();
      open({ fetch, maxMessageBytes: limit }, rec.handlers);
      expect((await rec.ended).code).toBe(code);
    }
  });

  it('should not count comment lines, such as heartbeats without empty lines', async () => {
    const body = `${': ping\n'.repeat(100)}data: a\n\n`;
    const { fetch } = fakeFetch(() => new Response(body, { headers: eventStream }));
    const rec = recorder();
    open({ fetch, maxMessageBytes: 16 }, rec.handlers);
    expect(await rec.ended).toEqual({ code: 'closed' });
    expect(rec.data()).toEqual(['a']);
  });

  it('should default to 1 MiB', async () => {
    const payload = 'x'.repeat(1048576);
    const { fetch } = fakeFetch(
      () => new Response(`data: ${payload}\n\n`, { headers: eventStream }),
    );
    const rec = recorder();
    open({ fetch }, rec.handlers);
    expect(await rec.ended).toEqual({ code: 'too_large' });
    const { fetch: smaller } = fakeFetch(
      () => new Response(`data: ${payload.slice(7)}\n\n`, { headers: eventStream }),
    );
    const fits = recorder();
    open({ fetch: smaller }, fits.handlers);
    expect(await fits.ended).toEqual({ code: 'closed' });
  });
});

describe('openSse handlers that throw', () => {
  it('should swallow the error and keep reading', async () => {
    const { fetch } = fakeFetch(
      () => new Response('retry: 9\n\ndata: a\n\nid: 1\n\ndata: b\n\n', { headers: eventStream }),
    );
    const rec = recorder();
    const boom = () => {
      throw new Error('handler bug');
    };
    open(
      {
        fetch,
      },
      {
        onOpen: boom,
        onActivity: boom,
        onRetry: boom,
        onLastEventId: boom,
        onMessage: (message) => {
          rec.handlers.onMessage(message);
          boom();
        },
        onEnd: (end) => {
          rec.handlers.onEnd(end);
          boom();
        },
      },
    );
    expect(await rec.ended).toEqual({ code: 'closed' });
    expect(rec.data()).toEqual(['a', 'b']);
  });
});
