import { describe, expect, it } from 'vitest';
import { OutgoingEvent } from '../src/encoding/outgoing-event.js';
import { encodeSseBlocks, sseFrame, ssePosition } from '../src/encoding/sse-blocks.js';
import { MAX_MESSAGE_BYTES } from '../src/limits.js';

/** An `event` frame with id `ep-<n>` whose JSON holds `padding` extra bytes. */
function eventOf(n: number, padding = 0): OutgoingEvent {
  const dataJson = JSON.stringify('x'.repeat(padding));
  return new OutgoingEvent({
    id: `ep-${n}`,
    seq: n,
    channel: 'a',
    event: 'message',
    dataJson,
    time: 0,
  });
}

/** The blocks of an event stream text, as an EventSource dispatches them. */
function blocksOf(text: string): Array<{ id: string | undefined; data: string[] }> {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((block) => {
      const lines = block.split('\n');
      const ids = lines.filter((l) => l.startsWith('id: '));
      expect(ids.length).toBeLessThanOrEqual(1);
      return {
        id: ids[0]?.slice(4),
        data: lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)),
      };
    });
}

describe('encodeSseBlocks', () => {
  it('should put the frames of one batch in one block with the last event id', () => {
    const text = encodeSseBlocks([
      sseFrame('{"type":"subscribed","channel":"a"}'),
      eventOf(1),
      eventOf(2),
      eventOf(3),
    ]).toString();
    const [block, ...rest] = blocksOf(text);
    expect(rest).toEqual([]);
    expect(block?.id).toBe('ep-3');
    expect(
      block?.data.map((d) => (JSON.parse(d) as { id?: string; type: string }).id ?? d),
    ).toEqual(['{"type":"subscribed","channel":"a"}', 'ep-1', 'ep-2', 'ep-3']);
    expect(text.split('\n').at(-3)).toBe('id: ep-3');
  });

  it('should leave the id line out of a block without events', () => {
    const text = encodeSseBlocks([sseFrame('{"type":"ping"}'), sseFrame('{"n":1}')]).toString();
    expect(text).toBe('data: {"type":"ping"}\ndata: {"n":1}\n\n');
  });

  it('should give a block the id of a frame that carries one until a later piece carries another', () => {
    const welcome = sseFrame('{"type":"welcome"}', 'ep-4');
    expect(encodeSseBlocks([welcome, sseFrame('{"n":1}')]).toString()).toBe(
      'data: {"type":"welcome"}\ndata: {"n":1}\nid: ep-4\n\n',
    );
    expect(blocksOf(encodeSseBlocks([welcome, eventOf(5)]).toString())[0]?.id).toBe('ep-5');
  });

  it('should put a position on the open block as its id', () => {
    const text = encodeSseBlocks([
      sseFrame('{"type":"welcome"}', 'ep-1'),
      eventOf(2),
      ssePosition('ep-9'),
    ]).toString();
    expect(text).toBe(`data: {"type":"welcome"}\n${eventOf(2).sseData}id: ep-9\n\n`);
  });

  it('should add a position to a block at the cap without opening another', () => {
    const large = eventOf(1, MAX_MESSAGE_BYTES);
    const blocks = blocksOf(encodeSseBlocks([large, ssePosition('ep-9')]).toString());
    expect(blocks).toEqual([{ id: 'ep-9', data: [large.frame] }]);
  });

  it('should write a position with no block open as an id line alone', () => {
    const ping = Buffer.from(': ping\n\n');
    expect(encodeSseBlocks([ssePosition('ep-9')]).toString()).toBe('id: ep-9\n\n');
    expect(encodeSseBlocks([eventOf(1), ping, ssePosition('ep-9')]).toString()).toBe(
      `${eventOf(1).sseData}id: ep-1\n\n: ping\n\nid: ep-9\n\n`,
    );
  });

  it('should write a single event as its shared block', () => {
    const event = eventOf(7);
    expect(encodeSseBlocks([event])).toBe(event.sseBlock);
    expect(event.sseBlock.toString()).toBe(`data: ${event.frame}\nid: ep-7\n\n`);
  });

  it('should close the open block before lines given as they are', () => {
    const ping = Buffer.from(': ping\n\n');
    const text = encodeSseBlocks([eventOf(1), eventOf(2), ping, eventOf(3)]).toString();
    expect(text).toBe(
      `${eventOf(1).sseData}${eventOf(2).sseData}id: ep-2\n\n: ping\n\n${eventOf(3).sseData}id: ep-3\n\n`,
    );
  });

  it('should count the data lines whole against the cap', () => {
    // Two frames whose JSON joined by LF fits exactly, but not with their `data: ` prefixes.
    const half = (MAX_MESSAGE_BYTES - 1) / 2;
    const json = (n: number) => `{"n":${n},"p":"${'x'.repeat(Math.floor(half) - 14)}"}`;
    const frames = [sseFrame(json(1)), sseFrame(json(2))];
    expect(Buffer.byteLength(`${json(1)}\n${json(2)}`)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(blocksOf(encodeSseBlocks(frames).toString()).map((b) => b.data.length)).toEqual([1, 1]);
  });

  it('should keep each block within the cap and send a larger frame alone', () => {
    const events = [
      ...Array.from({ length: 9 }, (_, n) => eventOf(n, 15_000)),
      eventOf(9, MAX_MESSAGE_BYTES),
      eventOf(10),
    ];
    const blocks = blocksOf(encodeSseBlocks(events).toString());
    for (const block of blocks) {
      // What a client counts while the block arrives: its data lines, prefix and LF included.
      const lines = Buffer.byteLength(block.data.map((d) => `data: ${d}\n`).join(''));
      if (block.data.length > 1) expect(lines).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(block.id).toBe((JSON.parse(block.data.at(-1) ?? '') as { id: string }).id);
    }
    expect(blocks.map((b) => b.data.length)).toEqual([4, 4, 1, 1, 1]);
    expect(blocks.flatMap((b) => b.data)).toEqual(events.map((e) => e.frame));
  });
});
