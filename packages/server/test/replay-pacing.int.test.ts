import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerFrame } from '@tidewire/core/protocol';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../src/limits.js';
import { startServer, type TestServer } from './utils/server.js';
import { waitFor } from './utils/wait.js';
import { openAuthedWs } from './utils/ws-client.js';

// A resume from an old position is paced by the connection's send buffer: a client that
// reads nothing pins at most the buffer plus one batch, and is closed once its buffer has
// not drained within the write timeout; a client that reads slowly gets everything once.

const SEND_BUFFER = 256 * 1024;
const WRITE_TIMEOUT_MS = 1500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server whose history holds `channels` x `perChannel` events of about 1 KB. */
async function filledServer(channels: number, perChannel: number) {
  const server = await startServer({
    limits: { sendBufferBytes: SEND_BUFFER, writeTimeoutMs: WRITE_TIMEOUT_MS },
    history: { maxEvents: perChannel, maxTotalBytes: 1 << 30, maxTotalEvents: 1_000_000 },
  });
  const padding = 'x'.repeat(1000);
  const first = (await server.tw.publish('c0', { padding })).id;
  for (let n = 1; n < perChannel; n++) {
    for (let c = 0; c < channels; c++) server.tw.publish(`c${c}`, { n, padding });
  }
  return { server, first };
}

/** Samples `bytes()` every few milliseconds until `stop()`; returns the largest. */
function sampleMax(bytes: () => number) {
  let max = 0;
  const timer = setInterval(() => {
    max = Math.max(max, bytes());
  }, 2);
  return () => {
    clearInterval(timer);
    return Math.max(max, bytes());
  };
}

/** Sends a raw SSE request and never reads the answer. */
function openUnreadSse(server: TestServer, query: string): Socket {
  const url = new URL(`${server.base}/sse?${query}`);
  const socket = connect(Number(url.port), url.hostname);
  socket.write(
    `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`,
  );
  socket.pause();
  return socket;
}

describe('a replay to a client that reads nothing', () => {
  it('should keep an SSE stream within the send buffer plus one batch, then drop it after the write timeout', async () => {
    const { server, first } = await filledServer(100, 200);
    let response: ServerResponse | undefined;
    server.http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.includes('/sse')) response = res;
    });
    const query = Array.from({ length: 100 }, (_, c) => `channel=c${c}@${first}`).join('&');
    const client = openUnreadSse(server, query);
    onTestFinished(() => {
      client.destroy();
    });
    client.on('error', () => {});
    await waitFor(() => response !== undefined, 3000, 'the SSE request');
    const stop = sampleMax(() => response?.writableLength ?? 0);
    const openedAt = Date.now();
    await waitFor(
      async () => (await server.tw.stats()).connections.sse === 0,
      WRITE_TIMEOUT_MS * 6,
      'the stream to be dropped',
    );
    const largest = stop();
    expect(largest).toBeLessThanOrEqual(SEND_BUFFER + MAX_MESSAGE_BYTES);
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(WRITE_TIMEOUT_MS - 100);
    expect(response?.destroyed).toBe(true);
  });

  it('should keep a WebSocket with many replays within the send buffer plus one batch, then close it after the write timeout', async () => {
    const { server, first } = await filledServer(20, 1000);
    let upgraded: Duplex | undefined;
    server.http.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      upgraded = socket;
    });
    const client = await openAuthedWs(`${server.wsBase}/ws`);
    client.pause();
    const stop = sampleMax(() => upgraded?.writableLength ?? 0);
    for (let c = 0; c < 20; c++) client.send({ type: 'subscribe', channel: `c${c}`, since: first });
    const openedAt = Date.now();
    await waitFor(
      async () => (await server.tw.stats()).connections.websocket === 0,
      WRITE_TIMEOUT_MS * 6,
      'the socket to be closed',
    );
    const largest = stop();
    expect(largest).toBeLessThanOrEqual(SEND_BUFFER + MAX_MESSAGE_BYTES);
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(WRITE_TIMEOUT_MS - 100);
    expect(upgraded?.destroyed).toBe(true);
  });
});

/** Reads an event stream slowly, a chunk at a time with a pause after each. */
async function readSseSlowly(url: string, frames: ServerFrame[], signal: AbortSignal) {
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal });
  if (response.body === null) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        for (const line of buffer.slice(0, end).split('\n')) {
          if (line.startsWith('data: ')) frames.push(JSON.parse(line.slice(6)) as ServerFrame);
        }
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
      await sleep(2);
    }
  } catch {
    // Aborted at the end of the test.
  }
}

describe.each(['sse', 'websocket'] as const)('a %s replay to a slow reader', (transport) => {
  it('should deliver every replayed event then the live ones, exactly once and in order, while publishes go on', async () => {
    const sendBuffer = 64 * 1024;
    const server = await startServer({
      limits: { sendBufferBytes: sendBuffer },
      history: { maxEvents: 5000 },
    });
    let output: { writableLength: number } | undefined;
    server.http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.includes('/sse')) output = res;
    });
    server.http.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      output = socket;
    });
    const stop = sampleMax(() => output?.writableLength ?? 0);
    const channels = ['a', 'b', 'c', 'd'];
    const padding = 'x'.repeat(1000);
    const first = (await server.tw.publish('a', { padding })).id;
    const expected = new Map<string, string[]>(channels.map((c) => [c, []]));
    const publishing: Array<Promise<void>> = [];
    const publish = (channel: string, n: number): void => {
      const ids = expected.get(channel)!;
      const index = ids.push('') - 1;
      publishing.push(
        server.tw.publish(channel, { n, padding }).then(({ id }) => {
          ids[index] = id;
        }),
      );
    };
    // More than the operating system buffers on loopback, so that the server's own buffer shows.
    for (let n = 0; n < 16_000; n++) publish(channels[n % 4] as string, n);

    const controller = new AbortController();
    let frames: () => ServerFrame[];
    if (transport === 'sse') {
      const received: ServerFrame[] = [];
      const query = channels.map((c) => `channel=${c}@${first}`).join('&');
      void readSseSlowly(`${server.base}/sse?${query}`, received, controller.signal);
      frames = () => received;
    } else {
      const client = await openAuthedWs(`${server.wsBase}/ws`);
      for (const c of channels) client.send({ type: 'subscribe', channel: c, since: first });
      // Reads in short bursts.
      const toggle = setInterval(() => {
        if (client.ws.isPaused) client.ws.resume();
        else client.ws.pause();
      }, 3);
      controller.signal.addEventListener('abort', () => clearInterval(toggle));
      frames = () => client.frames;
    }
    // Publishes go on while the replay is under way.
    for (let n = 16_000; n < 16_300; n++) {
      publish(channels[n % 4] as string, n);
      if (n % 10 === 0) await sleep(3);
    }
    await Promise.all(publishing);
    const total = [...expected.values()].reduce((sum, ids) => sum + ids.length, 0);
    const events = () => frames().filter((f) => f.type === 'event');
    await waitFor(() => events().length >= total, 15_000, 'every event');
    await sleep(50);
    controller.abort();
    const largest = stop();
    expect(largest).toBeLessThanOrEqual(sendBuffer + MAX_MESSAGE_BYTES);

    const got = events() as Array<Extract<ServerFrame, { type: 'event' }>>;
    expect(frames().filter((f) => f.type === 'gap')).toEqual([]);
    expect(got).toHaveLength(total);
    for (const channel of channels) {
      expect(got.filter((e) => e.channel === channel).map((e) => e.id)).toEqual(
        expected.get(channel),
      );
    }
    if (transport === 'sse') {
      const sequence = got.map((e) => Number(e.id.split('-')[1]));
      expect(sequence).toEqual([...sequence].sort((x, y) => x - y));
    }
    expect((await server.tw.stats()).connections[transport]).toBe(1);
  });
});
