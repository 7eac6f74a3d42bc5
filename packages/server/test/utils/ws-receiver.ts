import type { EventEmitter } from 'node:events';
import * as wsModule from 'ws';

/** ws's frame parser: exported by ws (wrapper.mjs), not described by @types/ws. */
const { Receiver } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean }) => EventEmitter & { write(chunk: Buffer): void };
};

/** Decodes the server-sent messages in `bytes` with ws's own receiver, as a client would. */
export function decodeMessages(bytes: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const messages: string[] = [];
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) reject(new Error('binary'));
      else messages.push(data.toString('utf8'));
    });
    receiver.on('error', reject);
    receiver.write(bytes);
    // The receiver parses synchronously: every complete message was emitted by now.
    resolve(messages);
  });
}
