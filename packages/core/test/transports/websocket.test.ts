import { describe, expect, it, vi } from 'vitest';
import type { TidewireError } from '../../src/errors';
import { openWebSocket, type WebSocketConstructor } from '../../src/transports/websocket';

/** A socket the test delivers messages to, as the browser's or `ws` would. */
class ScriptedSocket {
  static last: ScriptedSocket | undefined;
  readyState = 1;
  closed = false;
  private readonly listeners = new Map<string, ((event: never) => void)[]>();
  constructor() {
    ScriptedSocket.last = this;
  }
  addEventListener(type: string, listener: (event: never) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  send(): void {}
  close(): void {
    this.closed = true;
  }
  receive(data: unknown): void {
    for (const listener of this.listeners.get('message') ?? [])
      (listener as (event: { data: unknown }) => void)({ data });
  }
}

/** Opens a scripted socket with `maxMessageBytes` 10 and delivers `data` to it. */
function receive(data: unknown) {
  const { ended, handlers: h } = handlers();
  openWebSocket(
    {
      url: 'ws://127.0.0.1:1/',
      WebSocket: ScriptedSocket as unknown as WebSocketConstructor,
      maxMessageBytes: 10,
    },
    h,
  );
  const socket = ScriptedSocket.last!;
  socket.receive(data);
  return { ended: ended.map((e) => e.code), delivered: h.onMessage.mock.calls, socket };
}

const bytes = (length: number) => new Uint8Array(length).fill(120);

/** Every form a binary message takes: browser (ArrayBuffer, Blob), `ws` (Buffer with its default `binaryType`). */
const binary: [string, (length: number) => unknown][] = [
  ['an ArrayBuffer', (length) => bytes(length).buffer],
  ['a Blob', (length) => new Blob([bytes(length)])],
  ['a Uint8Array', (length) => bytes(length)],
  ['a Node Buffer', (length) => Buffer.alloc(length)],
  ['a DataView', (length) => new DataView(bytes(length).buffer)],
];

const handlers = () => {
  const ended: TidewireError[] = [];
  return {
    ended,
    handlers: { onOpen: vi.fn(), onMessage: vi.fn(), onEnd: (e: TidewireError) => ended.push(e) },
  };
};

describe('openWebSocket', () => {
  it('should end with the fatal unsupported, once and asynchronously, without a WebSocket', async () => {
    const { ended, handlers: h } = handlers();
    openWebSocket({ url: 'ws://127.0.0.1:1/', WebSocket: undefined, maxMessageBytes: 100 }, h);
    expect(ended).toEqual([]);
    await Promise.resolve();
    expect(ended.map((e) => [e.code, e.fatal])).toEqual([['unsupported', true]]);
    expect(h.onOpen).not.toHaveBeenCalled();
  });

  it('should end with network when the constructor throws', async () => {
    const { ended, handlers: h } = handlers();
    const Throwing = class {
      constructor() {
        throw new SyntaxError('bad url');
      }
    } as unknown as WebSocketConstructor;
    openWebSocket({ url: 'nope', WebSocket: Throwing, maxMessageBytes: 100 }, h);
    await Promise.resolve();
    expect(ended.map((e) => [e.code, e.cause instanceof SyntaxError])).toEqual([['network', true]]);
  });

  it('should report nothing after close', async () => {
    const { ended, handlers: h } = handlers();
    const link = openWebSocket({ url: 'x', WebSocket: undefined, maxMessageBytes: 100 }, h);
    link.close();
    await Promise.resolve();
    expect(ended).toEqual([]);
  });
});

describe('openWebSocket message size limit', () => {
  it.each(binary)('should end with too_large for %s over maxMessageBytes', (_, make) => {
    const { ended, delivered, socket } = receive(make(11));
    expect(ended).toEqual(['too_large']);
    expect(delivered).toEqual([]);
    expect(socket.closed).toBe(true);
  });

  it.each(binary)('should deliver %s of exactly maxMessageBytes', (_, make) => {
    const message = make(10);
    const { ended, delivered } = receive(message);
    expect(ended).toEqual([]);
    expect(delivered).toEqual([[message]]);
  });

  it('should count a text message in UTF-16 code units', () => {
    expect(receive('x'.repeat(11)).ended).toEqual(['too_large']);
    // 10 code units each: 20 and 20 bytes of UTF-8, under the documented lower bound.
    for (const text of ['é'.repeat(10), '𝄞'.repeat(5)]) {
      expect(receive(text)).toMatchObject({ ended: [], delivered: [[text]] });
    }
  });
});
