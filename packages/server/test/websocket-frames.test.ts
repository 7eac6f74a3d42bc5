import type { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { textFrame } from '../src/websocket-frames.js';

/** ws's frame parser: exported by ws (wrapper.mjs), not described by @types/ws. */
const { Receiver } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean }) => EventEmitter & { write(chunk: Buffer): void };
};

/** Decodes one frame with ws's own receiver, as a client would. */
function decode(frame: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data: Buffer, isBinary: boolean) =>
      isBinary ? reject(new Error('binary')) : resolve(data.toString('utf8')),
    );
    receiver.on('error', reject);
    receiver.write(frame);
  });
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
