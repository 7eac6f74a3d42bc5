import { describe, expect, it } from 'vitest';
import { textFrame } from '../src/encoding/websocket-frames.js';
import { encodeTextMessages, type WsFrame } from '../src/encoding/websocket-messages.js';
import { MAX_MESSAGE_BYTES } from '../src/limits.js';
import { decodeMessages } from './utils/ws-receiver.js';

/** A frame whose JSON takes exactly `bytes` bytes. */
function frameOf(n: number, bytes = 20): WsFrame {
  const head = `{"n":${n},"p":"`;
  return { json: Buffer.from(`${head}${'x'.repeat(bytes - head.length - 2)}"}`) };
}

describe('encodeTextMessages', () => {
  it('should join the frames of one batch into one message, in order, separated by LF', async () => {
    const frames = [1, 2, 3].map((n) => frameOf(n));
    const messages = await decodeMessages(encodeTextMessages(frames));
    expect(messages).toEqual([frames.map((f) => f.json.toString()).join('\n')]);
    expect(messages[0]?.split('\n').map((j) => (JSON.parse(j) as { n: number }).n)).toEqual([
      1, 2, 3,
    ]);
  });

  it('should write a single frame as its shared message, without a copy', () => {
    const json = Buffer.from('{"type":"ping"}');
    const shared = textFrame(json);
    expect(encodeTextMessages([{ json, wsMessage: shared }])).toBe(shared);
    expect(encodeTextMessages([{ json }])).toEqual(shared);
  });

  it('should start a new message where a frame would take the joined text over the cap', async () => {
    // 10 frames of 10,000 bytes: 6 fit in 65,536 bytes with their separators (60,005), 7 do not.
    const frames = Array.from({ length: 10 }, (_, n) => frameOf(n, 10_000));
    const messages = await decodeMessages(encodeTextMessages(frames));
    expect(messages.map((m) => m.split('\n').length)).toEqual([6, 4]);
    expect(messages.join('\n')).toBe(frames.map((f) => f.json.toString()).join('\n'));
  });

  it('should fill a message up to exactly the cap and no further', async () => {
    const half = (MAX_MESSAGE_BYTES - 1) / 2;
    const frames = [frameOf(1, Math.floor(half)), frameOf(2, Math.ceil(half)), frameOf(3)];
    const messages = await decodeMessages(encodeTextMessages(frames));
    expect(messages.map((m) => Buffer.byteLength(m))).toEqual([MAX_MESSAGE_BYTES, 20]);
  });

  it('should send a frame larger than the cap alone, between its neighbours', async () => {
    const frames = [frameOf(1), frameOf(2, MAX_MESSAGE_BYTES + 100), frameOf(3), frameOf(4)];
    const messages = await decodeMessages(encodeTextMessages(frames));
    expect(
      messages.map((m) => m.split('\n').map((j) => (JSON.parse(j) as { n: number }).n)),
    ).toEqual([[1], [2], [3, 4]]);
    expect(Buffer.byteLength(messages[1] ?? '')).toBe(MAX_MESSAGE_BYTES + 100);
  });

  it('should count UTF-8 bytes, not characters', async () => {
    const text = `{"d":"${'é€😀'.repeat(3000)}"}`;
    const frames = [{ json: Buffer.from(text) }, { json: Buffer.from(text) }];
    const messages = await decodeMessages(encodeTextMessages(frames));
    expect(messages).toEqual([`${text}\n${text}`]);
  });
});
