import { describe, expect, it, vi } from 'vitest';
import type { TidewireError } from '../../src/errors';
import { openWebSocket, type WebSocketConstructor } from '../../src/transports/websocket';

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
