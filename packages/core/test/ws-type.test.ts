import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from '../src/index';
import { openStream } from '../src/stream';

// `ws` is what Node apps pass as `WebSocket`: it must type-check as is, without a cast.
describe('the WebSocket option', () => {
  it('should take the ws package as it is', () => {
    const client = createClient({ url: 'http://127.0.0.1:1/tw', WebSocket });
    const stream = openStream('ws://127.0.0.1:1/feed', { transport: 'websocket', WebSocket });
    stream.close();
    client.close();
    expect(typeof WebSocket).toBe('function');
  });
});
