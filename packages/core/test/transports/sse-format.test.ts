// The web-platform-tests `eventsource/format-*` cases (and a few neighbours), rewritten as byte
// streams fed through openSse. Every case runs with the body in one chunk and one byte per chunk;
// some also run split in two at every byte boundary.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openSse, type SseRequest } from '../../src/transports/sse';
import { received, type SseEnd, type SseReceived, sseEnd } from '../helpers';

interface Outcome {
  opened: boolean;
  messages: SseReceived[];
  retries: number[];
  end: SseEnd;
}

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

function bodyOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

/** Runs one stream to its end; `respond` plays the server. */
function run(
  respond: (headers: Headers) => { chunks: Uint8Array[]; contentType?: string },
  request: Partial<SseRequest> = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const messages: SseReceived[] = [];
    const retries: number[] = [];
    let opened = false;
    const fetch: typeof globalThis.fetch = async (_url, init) => {
      const { chunks, contentType = 'text/event-stream' } = respond(new Headers(init?.headers));
      return new Response(bodyOf(chunks), { headers: { 'content-type': contentType } });
    };
    openSse(
      { url: 'http://127.0.0.1/events', fetch, maxMessageBytes: 1 << 20, ...request },
      {
        onOpen: () => {
          opened = true;
        },
        onMessage: (message) => messages.push(received(message)),
        onRetry: (ms) => retries.push(ms),
        onActivity: () => {},
        onEnd: (error) => resolve({ opened, messages, retries, end: sseEnd(error) }),
      },
    );
  });
}

const message = (data: string, lastEventId = '', event = 'message'): SseReceived => ({
  event,
  data,
  lastEventId,
});

interface FormatCase {
  /** The web-platform-tests name (without `format-`), or what the case checks. */
  name: string;
  body: string | Uint8Array;
  contentType?: string;
  messages: SseReceived[];
  retries?: number[];
  /** Also split the body in two at every byte boundary. */
  everySplit?: boolean;
}

const bytes = (...parts: Array<string | number[]>): Uint8Array =>
  Uint8Array.from(parts.flatMap((part) => (typeof part === 'string' ? [...encode(part)] : part)));

const long = 'x'.repeat(2048);

const cases: FormatCase[] = [
  {
    name: 'bom: one leading BOM is stripped, a later one is part of the field name',
    body: '\uFEFFdata:1\n\n\uFEFFdata:2\n\ndata:3\n\n\n',
    messages: [message('1'), message('3')],
    everySplit: true,
  },
  {
    name: 'bom-2: only the first of two leading BOMs is stripped',
    body: '\uFEFF\uFEFFdata:1\n\ndata:2\n\ndata:3\n\n\n',
    messages: [message('2'), message('3')],
    everySplit: true,
  },
  {
    name: 'comments: comment lines with every line ending, long ones included',
    body: `data:1\r:\0\n:\r\ndata:2\n:${long}\rdata:3\n:data:fail\r:${long}\ndata:4\n\n`,
    messages: [message('1\n2\n3\n4')],
  },
  {
    name: 'comments (short): the same, split everywhere',
    body: 'data:1\r:\0\n:\r\ndata:2\n:xx\rdata:3\n:data:fail\r:yy\ndata:4\n\n',
    messages: [message('1\n2\n3\n4')],
    everySplit: true,
  },
  {
    name: 'data-before-final-empty-line: a block without its empty line at EOF is not dispatched',
    body: 'retry:1000\ndata:test1\n\nid:test\ndata:test2',
    messages: [message('test1')],
    retries: [1000],
    everySplit: true,
  },
  {
    name: 'field-data: `data:` and `data` give empty lines',
    body: 'data:\n\ndata\ndata\n\ndata:test\n\n\n',
    messages: [message(''), message('\n'), message('test')],
  },
  {
    name: 'field-event: a custom event type lasts one block',
    body: 'event:test\ndata:x\n\ndata:x\n\n\n',
    messages: [message('x', '', 'test'), message('x')],
  },
  {
    name: 'field-event-empty: an empty event type means "message"',
    body: 'event: \ndata:data\n\n\n',
    messages: [message('data')],
  },
  {
    name: 'field-id: a non-ASCII id',
    body: 'id: …\nretry: 200\ndata: hello\n\n',
    messages: [message('hello', '…')],
    retries: [200],
  },
  {
    name: 'field-id-3 (persists): an id lasts into later blocks',
    body: 'id: 1\ndata: 1\n\ndata:2\n\n',
    messages: [message('1', '1'), message('2', '1')],
  },
  {
    name: 'field-id-3 (changes and persists)',
    body: 'id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n',
    messages: [message('1', '1'), message('2', '2'), message('3', '2')],
  },
  {
    name: 'field-id-3 (resets): an empty `id:` resets the id',
    body: 'id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n',
    messages: [message('1', '1'), message('2', ''), message('3', '')],
  },
  {
    name: 'field-id-null: an id holding U+0000 is ignored',
    body: 'id: 1\ndata: a\n\nid: 2\0\ndata: b\n\nid: \0\0\ndata: c\n\n',
    messages: [message('a', '1'), message('b', '1'), message('c', '1')],
  },
  {
    name: 'id-only blocks: update the last event id without dispatching',
    body: 'id: 1\n\ndata: a\n\nid: 2\nevent: e\n\n: ping\n\ndata: b\n\nid\n\ndata: c\n\n',
    messages: [message('a', '1'), message('b', '2'), message('c', '')],
    everySplit: true,
  },
  {
    name: 'field-parsing: field names are exact and case-sensitive',
    body: 'data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n',
    messages: [message('\0\n 2\n1\n3\n\n4')],
    everySplit: true,
  },
  {
    name: 'field-retry: leading zeros are digits',
    body: 'retry:03000\ndata:x\n\n',
    messages: [message('x')],
    retries: [3000],
  },
  {
    name: 'field-retry-bogus: a retry with a non-digit is ignored',
    body: 'retry:2000\nretry:1000x\nretry:  5\nretry:-1\nretry:1.5\ndata:x\n\n',
    messages: [message('x')],
    retries: [2000],
  },
  {
    name: 'field-retry-empty: `retry` without a value is ignored',
    body: 'retry\nretry:\ndata:test\n\n',
    messages: [message('test')],
  },
  {
    name: 'field-unknown: unknown fields, a leading space and plain text are ignored',
    body: 'data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n',
    messages: [message('test\n\ntest')],
  },
  {
    name: 'leading-space: only one space after the colon is removed',
    body: 'data:\ttest\rdata: \ndata:test\n\n',
    messages: [message('\ttest\n\ntest')],
  },
  {
    name: 'newlines: CRLF, LF and CR end lines',
    body: 'data:test\r\ndata\ndata:test\r\n\r\n',
    messages: [message('test\n\ntest')],
    everySplit: true,
  },
  {
    name: 'newline formats: CR CR, LF LF and CRLF CRLF end blocks',
    body: 'data: cr\r\rdata: lf\n\ndata: crlf\r\n\r\n',
    messages: [message('cr'), message('lf'), message('crlf')],
    everySplit: true,
  },
  {
    name: 'event-data: lines and data parsing across blocks',
    body: 'data:msg\r\ndata:msg\n\r\n:\rdata:\r\rdata:end\n\n',
    messages: [message('msg\nmsg'), message(''), message('end')],
    everySplit: true,
  },
  {
    name: 'null-character: U+0000 in data is kept',
    body: 'data:\0\n\n\n',
    messages: [message('\0')],
  },
  {
    name: 'utf-8: the body is UTF-8 whatever the charset says',
    body: 'data:ok…\n\n',
    contentType: 'text/event-stream;charset=windows-1252',
    messages: [message('ok…')],
    everySplit: true,
  },
  {
    name: 'utf-8: multi-byte characters survive any split',
    body: 'data: €𝄞é\n\n',
    messages: [message('€𝄞é')],
    everySplit: true,
  },
  {
    name: 'utf-8: invalid bytes become U+FFFD',
    body: bytes('data: a', [0xff], 'b', [0xe2, 0x82], '\n\ndata: ', [0xc3], '\n\n'),
    messages: [message('a\uFFFDb\uFFFD'), message('\uFFFD')],
    everySplit: true,
  },
  {
    name: 'utf-8: Latin-1 lookalikes of a BOM are text, not a BOM',
    body: 'ï»¿data: x\n\ndata: y\n\n',
    messages: [message('y')],
  },
  {
    name: 'mime-trailing-semicolon: text/event-stream; is accepted',
    body: 'data: x\n\n',
    contentType: 'text/event-stream;',
    messages: [message('x')],
  },
  {
    name: 'mime type: case and parameters do not matter',
    body: 'data: x\n\n',
    contentType: 'Text/Event-Stream ; charset=utf-8',
    messages: [message('x')],
  },
  {
    name: 'empty lines before any field dispatch nothing',
    body: '\n\r\n\rdata: a\n\n\n\n',
    messages: [message('a')],
    everySplit: true,
  },
  {
    name: 'a colon in a value is kept',
    body: 'data: {"a":1}\nevent: x:y\n\n',
    messages: [message('{"a":1}', '', 'x:y')],
  },
  {
    name: 'EOF in the middle of a line dispatches nothing',
    body: 'data: a\n\ndata: b\ndata: c',
    messages: [message('a')],
  },
  {
    name: 'EOF after a line but before the empty line dispatches nothing',
    body: 'data: a\n\nid: 9\ndata: b\n',
    messages: [message('a')],
  },
];

const splits: Array<[string, (body: Uint8Array) => Uint8Array[][]]> = [
  ['in one chunk', (body) => [[body]]],
  ['one byte per chunk', (body) => [Array.from(body, (byte) => Uint8Array.of(byte))]],
];

describe('openSse event-stream format', () => {
  for (const test of cases) {
    const body = typeof test.body === 'string' ? encode(test.body) : test.body;
    const variants = test.everySplit
      ? [
          ...splits,
          [
            'split in two at every byte',
            (all: Uint8Array) =>
              Array.from({ length: all.length - 1 }, (_, i) => [
                all.subarray(0, i + 1),
                all.subarray(i + 1),
              ]),
          ] as const,
        ]
      : splits;
    for (const [how, split] of variants) {
      it(`should pass ${test.name} (${how})`, async () => {
        for (const chunks of split(body)) {
          const outcome = await run(() => ({
            chunks,
            ...(test.contentType ? { contentType: test.contentType } : {}),
          }));
          expect(outcome).toEqual({
            opened: true,
            messages: test.messages,
            retries: test.retries ?? [],
            end: { code: 'closed' },
          });
        }
      });
    }
  }

  it('should end a block when CR, its LF and the empty line arrive in three chunks', async () => {
    const outcome = await run(() => ({ chunks: ['data: a\r', '\n', '\n'].map(encode) }));
    expect(outcome.messages).toEqual([message('a')]);
  });

  it('should give the same result however a stream is split into chunks', async () => {
    const line = fc.constantFrom(
      ...['data', 'data:', 'data: x', 'data:€𝄞', 'id: 1', 'id: 2', 'id', 'event: e', 'retry: 10'],
      ...[': c', '', '', '\uFEFF', 'é', 'data\0:', 'id: \0'],
    );
    const ending = fc.constantFrom('\n', '\r', '\r\n');
    const stream = fc
      .array(fc.tuple(line, ending), { maxLength: 24 })
      .map((lines) => encode(lines.map(([text, end]) => text + end).join('')));
    await fc.assert(
      fc.asyncProperty(stream, fc.array(fc.nat(), { maxLength: 8 }), async (body, cuts) => {
        const points = [...new Set(cuts.map((cut) => cut % (body.length + 1)))].sort(
          (a, b) => a - b,
        );
        const chunks = [0, ...points].map((from, i) =>
          body.subarray(from, points[i] ?? body.length),
        );
        const whole = await run(() => ({ chunks: [body] }));
        expect(await run(() => ({ chunks }))).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('should pass mime-valid-bogus: another type ends the stream without opening it', async () => {
    const outcome = await run(() => ({
      chunks: [encode('data: x\n\n')],
      contentType: 'text/x-bogus',
    }));
    expect(outcome).toEqual({
      opened: false,
      messages: [],
      retries: [],
      end: { code: 'bad_content_type', cause: 'text/x-bogus' },
    });
  });

  it('should end with content-type when the type is missing or only looks right', async () => {
    for (const contentType of ['', 'text/event-streams', 'text/plain; x=text/event-stream']) {
      const outcome = await run(() => ({ chunks: [encode('data: x\n\n')], contentType }));
      expect(outcome.end).toEqual({ code: 'bad_content_type', cause: contentType });
      expect(outcome.messages).toEqual([]);
    }
  });

  it('should pass field-id and field-id-2: a non-ASCII id round-trips through Last-Event-ID', async () => {
    // The server echoes Last-Event-ID as data, or sends a first event with id "…".
    const server = (headers: Headers) => {
      const sent = headers.get('last-event-id');
      if (!sent) return { chunks: [encode('id: …\nretry: 200\ndata: hello\n\n')] };
      const id = new TextDecoder().decode(Uint8Array.from(sent, (c) => c.charCodeAt(0)));
      return { chunks: [encode(`data: ${id}\n\n`)] };
    };
    const first = await run(server);
    expect(first.messages).toEqual([message('hello', '…')]);
    const second = await run(server, { lastEventId: first.messages[0]!.lastEventId });
    expect(second.messages).toEqual([message('…', '…')]);
    const third = await run(server, { lastEventId: second.messages[0]!.lastEventId });
    expect(third.messages).toEqual([message('…', '…')]);
  });
});
