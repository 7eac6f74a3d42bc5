// The program of a child server (see child-server.ts): a real @tidewire/server on a free
// loopback port, in a process of its own started with --expose-gc, so that its memory can
// be measured without the test runner's. It is bundled from source before it runs; it
// takes its settings as JSON in argv[2] and answers requests over the IPC channel.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createTidewireServer } from '../../src/index.js';
import type {
  ChildMemory,
  ChildReply,
  ChildRequest,
  ChildServerOptions,
  ChildStats,
  PublishReport,
} from './child-server.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as ChildServerOptions;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('the child server needs node --expose-gc');
const send = (message: unknown): void => {
  process.send?.(message);
};

let authenticateCalls = 0;
const warnings: Record<string, number> = {};
const errors: Record<string, number> = {};
const count = (into: Record<string, number>, message: string): void => {
  into[message] = (into[message] ?? 0) + 1;
};

// The README's example: a token names its principal, who may use public/* and user/<self>/*.
const tw = createTidewireServer<string>({
  ...settings,
  authenticate: (token) => {
    authenticateCalls += 1;
    return token ? { principal: token } : null;
  },
  authorize: (principal, channel) =>
    channel.startsWith('public/') || channel.startsWith(`user/${principal}/`),
  logger: {
    warn: (message) => count(warnings, message),
    error: (message) => count(errors, message),
  },
});

/** What a connection has written and the operating system has not taken yet. */
interface Output {
  readonly writableLength: number;
}
/** Every open SSE response and upgraded socket, with the most it has ever held. */
const outputs = new Map<Output, number>();
let peakBuffered = 0;
/** Milliseconds each closed connection was open. */
const lifetimes: number[] = [];
const track = (output: Output & NodeJS.EventEmitter): void => {
  const opened = performance.now();
  outputs.set(output, 0);
  output.once('close', () => {
    outputs.delete(output);
    lifetimes.push(performance.now() - opened);
  });
};
const sampler = setInterval(() => {
  for (const [output, peak] of outputs) {
    const bytes = output.writableLength;
    if (bytes > peak) outputs.set(output, bytes);
    if (bytes > peakBuffered) peakBuffered = bytes;
  }
}, 2);
sampler.unref();

const http = createServer();
tw.attach(http);
// After attach, which takes the request listeners over: these only watch.
http.on('request', (req: IncomingMessage, res: ServerResponse) => {
  if (req.url?.includes('/sse')) track(res);
});
http.on('upgrade', (_req: IncomingMessage, socket: Duplex) => track(socket));

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function memory(): Promise<ChildMemory> {
  // Twice, a turn apart: what the first collection frees may hold more behind finalizers.
  for (let i = 0; i < 2; i++) {
    await settle();
    gc?.();
  }
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external, arrayBuffers };
}

async function publish(request: Extract<ChildRequest, { op: 'publish' }>): Promise<PublishReport> {
  const { prefix, channels, perChannel, bytes } = request;
  const padding = 'x'.repeat(bytes);
  const started = performance.now();
  let first: string | undefined;
  let last = '';
  for (let round = 0; round < perChannel; round++) {
    for (let channel = 0; channel < channels; channel++) {
      last = (await tw.publish(`${prefix}${channel}`, { round, padding })).id;
      first ??= last;
    }
  }
  return {
    first: first ?? '',
    last,
    epoch: last.split('-')[0] ?? '',
    count: channels * perChannel,
    ms: performance.now() - started,
  };
}

async function stats(): Promise<ChildStats> {
  const { connections, subscriptions, channels } = await tw.stats();
  let history = 0;
  for (const channel of Object.values(channels)) history += channel.history ?? 0;
  let buffered = 0;
  let largest = 0;
  for (const output of outputs.keys()) {
    buffered += output.writableLength;
    largest = Math.max(largest, output.writableLength);
  }
  return {
    connections,
    subscriptions,
    channels: Object.keys(channels).length,
    history,
    authenticateCalls,
    warnings: { ...warnings },
    errors: { ...errors },
    outputs: {
      open: outputs.size,
      buffered,
      largest,
      peak: peakBuffered,
      peaks: [...outputs.values()],
      lifetimes: [...lifetimes],
    },
  };
}

async function answer(request: ChildRequest): Promise<unknown> {
  switch (request.op) {
    case 'publish':
      return publish(request);
    case 'memory':
      return memory();
    case 'stats':
      return stats();
  }
}

process.on('message', (message: ChildRequest) => {
  answer(message).then(
    (result) => send({ id: message.id, ok: true, result } satisfies ChildReply),
    (error: unknown) =>
      send({ id: message.id, ok: false, error: String(error) } satisfies ChildReply),
  );
});
// The test process went away, whatever the reason: so does this one.
process.on('disconnect', () => process.exit(0));

http.listen(0, '127.0.0.1', () => {
  send({ ready: true, port: (http.address() as AddressInfo).port });
});
