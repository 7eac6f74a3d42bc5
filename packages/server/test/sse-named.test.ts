import { describe, expect, it } from 'vitest';
import { OutgoingEvent } from '../src/encoding/outgoing-event.js';
import { encodeSseNamed, type SseNamedPiece, sseNamedBytes } from '../src/encoding/sse-named.js';
import type { StoredEvent } from '../src/index.js';

const stored = (fields: Partial<StoredEvent> = {}): StoredEvent => ({
  seq: 1,
  id: 'ep-1',
  channel: 'prices',
  event: 'message',
  dataJson: '{"p":1}',
  time: 0,
  ...fields,
});
const ev = (n: number, channel = 'prices', event = 'message', dataJson = `{"p":${n}}`) =>
  new OutgoingEvent(stored({ seq: n, id: `ep-${n}`, channel, event, dataJson }));
const text = (pieces: SseNamedPiece[], batch: boolean, maxBytes?: number) =>
  encodeSseNamed(pieces, batch, maxBytes).toString();

describe('OutgoingEvent, version 2 forms', () => {
  it('should write form C as a named block, with a type line only for a type other than message', () => {
    expect(ev(1).sseNamed.toString()).toBe('event: prices\nid: ep-1\ndata: {"p":1}\n\n');
    expect(ev(2, 'prices', 'tick').sseNamed.toString()).toBe(
      'event: prices\nid: ep-2\ntype: tick\ndata: {"p":2}\n\n',
    );
  });

  it('should write form E lines and WebSocket event lines without any envelope', () => {
    expect(ev(3).sseLine.toString()).toBe('data: ep-3 {"p":3}\n');
    expect(ev(3).wsLine.json.toString()).toBe('prices  ep-3 {"p":3}');
    expect(ev(4, 'a/b', 'tick', '"x y"').wsLine.json.toString()).toBe('a/b tick ep-4 "x y"');
    // A line alone is a complete text message: header (FIN, text, length) then the line.
    const message = ev(5).wsLine.wsMessage as Buffer;
    expect([...message.subarray(0, 2)]).toEqual([0x81, 20]);
    expect(message.subarray(2).toString()).toBe('prices  ep-5 {"p":5}');
  });

  it('should build each form once for all its subscribers, and no v1 frame unless asked', () => {
    const event = ev(1);
    expect(event.sseNamed).toBe(event.sseNamed);
    expect(event.sseLine).toBe(event.sseLine);
    expect(event.wsLine).toBe(event.wsLine);
    expect(event.wsLine.wsMessage).toBe(event.wsLine.wsMessage);
    expect(event.frame).toBe(
      '{"type":"event","channel":"prices","id":"ep-1","event":"message","data":{"p":1}}',
    );
  });

  it('should take at most 145 bytes on the wire for a 100-byte payload in either SSE form', () => {
    const payload = JSON.stringify({ seq: 12345, t: 1700000000000000, pad: 'x'.repeat(57) });
    expect(payload.length).toBe(100);
    const event = (n: number) =>
      new OutgoingEvent(
        stored({ seq: n, id: `lx3k9q2a-${1_000_000 + n}`, channel: 'prices', dataJson: payload }),
      );
    const events = Array.from({ length: 100 }, (_, n) => event(n));
    const c = encodeSseNamed(events, false).length / 100;
    const e = encodeSseNamed(events, true).length / 100;
    expect(c).toBeLessThanOrEqual(145);
    expect(e).toBeLessThanOrEqual(145);
    expect(e).toBeLessThan(c);
  });
});

describe('encodeSseNamed', () => {
  it('should give each control frame a block named after its type, a position joining it as its id', () => {
    expect(
      text(
        [
          Buffer.from('retry: 1000\n\n'),
          { name: '@welcome', json: '{"epoch":"ep"}', id: 'ep-0' },
          { name: '@subscribed', json: '{"channel":"prices","position":"ep-0"}' },
          { id: 'ep-0' },
        ],
        false,
      ),
    ).toBe(
      'retry: 1000\n\nevent: @welcome\ndata: {"epoch":"ep"}\nid: ep-0\n\n' +
        'event: @subscribed\ndata: {"channel":"prices","position":"ep-0"}\nid: ep-0\n\n',
    );
  });

  it('should write form C with an id-only block for a position after an event', () => {
    expect(text([ev(1), ev(2), { id: 'ep-3' }], false)).toBe(
      'event: prices\nid: ep-1\ndata: {"p":1}\n\n' +
        'event: prices\nid: ep-2\ndata: {"p":2}\n\n' +
        'id: ep-3\n\n',
    );
  });

  it('should join runs of one channel and type in form E, and start a block at any change', () => {
    expect(
      text(
        [
          ev(1),
          ev(2),
          ev(3, 'prices', 'tick'),
          ev(4, 'prices', 'tick'),
          ev(5, 'chat'),
          { name: '@gap', json: '{"channel":"chat","reason":"trimmed"}' },
          ev(6, 'chat'),
        ],
        true,
      ),
    ).toBe(
      'event: prices\ndata: ep-1 {"p":1}\ndata: ep-2 {"p":2}\n\n' +
        'event: prices\ntype: tick\ndata: ep-3 {"p":3}\ndata: ep-4 {"p":4}\n\n' +
        'event: chat\ndata: ep-5 {"p":5}\n\n' +
        'event: @gap\ndata: {"channel":"chat","reason":"trimmed"}\n\n' +
        'event: chat\ndata: ep-6 {"p":6}\n\n',
    );
  });

  it('should start a new block when a run would pass the size bound', () => {
    const line = ev(1).sseLine.length;
    const blocks = text([ev(1), ev(2), ev(3)], true, 2 * line).split('\n\n');
    expect(blocks.slice(0, -1)).toEqual([
      'event: prices\ndata: ep-1 {"p":1}\ndata: ep-2 {"p":2}',
      'event: prices\ndata: ep-3 {"p":3}',
    ]);
  });

  it('should count a piece toward the send buffer by the bytes it writes', () => {
    expect(sseNamedBytes(ev(1), true)).toBe(ev(1).sseLine.length);
    expect(sseNamedBytes(ev(1), false)).toBe(ev(1).sseNamed.length);
    expect(sseNamedBytes(Buffer.from(': ping\n\n'), true)).toBe(8);
  });
});
