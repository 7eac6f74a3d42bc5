import { describe, expect, it } from 'vitest';
import { textFrame } from '../src/encoding/websocket-frames.js';
import { decodeMessages } from './utils/ws-receiver.js';

/** Decodes one frame with ws's own receiver, as a client would. */
async function decode(frame: Buffer): Promise<string | undefined> {
  const messages = await decodeMessages(frame);
  expect(messages).toHaveLength(1);
  return messages[0];
}

describe('textFrame', () => {
  it.each([0, 1, 125, 126, 65_535, 65_536, 200_000])(
    'should frame %i bytes as one final text frame a client can read',
    async (size) => {
      const text = 'x'.repeat(size);
      const frame = textFrame(text);
      expect(frame[0]).toBe(0x81);
      const header = size < 126 ? 2 : size < 65_536 ? 4 : 10;
      expect(frame.length).toBe(header + size);
      expect(await decode(frame)).toBe(text);
    },
  );

  it('should count UTF-8 bytes, not characters', async () => {
    const text = `{"data":"${'é€😀'.repeat(40)}"}`;
    const frame = textFrame(text);
    expect(frame.length).toBe(4 + Buffer.byteLength(text));
    expect(await decode(frame)).toBe(text);
  });
});
