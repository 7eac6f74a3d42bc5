// Tidewire's slot in every benchmark: its server (run inside the server worker)
// and its consumers. Both come from the built packages (`pnpm build`, copied by
// lib/snapshot.mjs at the start of a run); when the
// client is not built or does not export `createClient`, its rows are reported
// as pending rather than guessed.
import WebSocket from 'ws';
import { keepEvent } from './lib/event.mjs';
import { tidewireModule } from './lib/snapshot.mjs';

/** Thrown by a Tidewire consumer when the built client is not there yet. */
export class PendingError extends Error {
  name = 'PendingError';
}

/** The built @tidewire/core, or null when it is missing or has no createClient. */
export async function loadCore() {
  try {
    const core = await import(tidewireModule('core'));
    return typeof core.createClient === 'function' ? core : null;
  } catch {
    return null;
  }
}

export const channelNames = (count) => Array.from({ length: count }, (_, i) => `bench-${i}`);

/**
 * Starts @tidewire/server on loopback (`listen` is the bench's, which tracks
 * connections). Once `channels` subscriptions exist it publishes the pump's
 * events round-robin over the channels.
 */
export async function startTidewireServer({ pump, listen, channels = 1, limits = {} }) {
  const http = await import('node:http');
  const { createTidewireServer } = await import(tidewireModule('server'));
  // The publish rate limit is a policy, not a cost: lift it so round trips are not throttled.
  const tw = createTidewireServer({
    // Any origin: the browser benchmark's page is served from another port.
    cors: { origins: '*' },
    limits: { publishRate: { perSecond: 1e9, burst: 1e9 }, ...limits },
  });
  const { servePage } = await import('./lib/page.mjs');
  // Paths outside /tidewire serve the browser benchmark's page, same-origin.
  const server = http.createServer(servePage);
  const detach = tw.attach(server);
  const names = channelNames(channels);
  let stop = () => {};
  let pumping = false;
  const waiting = setInterval(async () => {
    const { subscriptions } = await tw.stats();
    if (pumping || subscriptions < channels) return;
    pumping = true;
    clearInterval(waiting);
    stop = pump((batch) => {
      for (const e of batch) tw.publish(names[e.seq % channels], e);
    });
  }, 5);
  const port = await listen(server);
  return {
    server,
    url: `http://127.0.0.1:${port}/tidewire`,
    streams: async () => (await tw.stats()).connections.sse,
    close: async () => {
      clearInterval(waiting);
      stop();
      await tw.close();
      detach();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const SUBSCRIBE_STEP = 200;

/** Resolves once every subscription is live; throws after 10 s. */
async function live(client, subs) {
  const deadline = Date.now() + 10_000;
  while (!subs.every((s) => s.getSnapshot().status === 'live')) {
    if (Date.now() > deadline) {
      client.close();
      throw new Error(`not live after 10 s: ${JSON.stringify(subs[0].getSnapshot())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Opens a client subscribed to `channels` channels on `transport` and resolves
 * once every subscription is live.
 */
async function openTidewire({ url, onEvent, transport, channels = 1, onClient }) {
  const core = await loadCore();
  if (!core) throw new PendingError('@tidewire/core is not built or exports no createClient');
  const client = core.createClient({ url, transport, WebSocket, fetch: globalThis.fetch });
  onClient?.(client);
  const duplex = transport === 'websocket';
  const subs = [];
  const names = channelNames(channels);
  const deliver = keepEvent(onEvent);
  // In steps of SUBSCRIBE_STEP: until 9316ccf the server closed a socket with more
  // than 256 frames pending behind its authorize hook (4429), so 1,000 subscribes
  // sent at once never got through. Kept so that figures stay comparable.
  for (let i = 0; i < names.length; i += SUBSCRIBE_STEP) {
    for (const name of names.slice(i, i + SUBSCRIBE_STEP)) {
      const sub = client.subscribe(name, { transport, duplex });
      sub.on('event', deliver);
      subs.push(sub);
    }
    await live(client, subs);
  }
  return {
    client,
    close: () => client.close(),
    // Duplex round trip: a publish on the WebSocket, resolved by the server's ack.
    echo: duplex ? () => client.publish('bench-0', { echo: true }) : undefined,
  };
}

/**
 * A Tidewire consumer. `endToEnd: false` (the client rows): throughput, latency
 * and round trips run against the bench's Tidewire-protocol frame server
 * (`tidewireFrames` in lib/servers.mjs), which sends pre-serialized frames as
 * cheaply as the baselines' servers do, so the row measures the client. Recovery
 * and footprint need history and resume, so they always run against
 * @tidewire/server. `endToEnd: true`: every measure runs against @tidewire/server.
 * `batch: false` has the frame server send one frame per WebSocket message and
 * one event per SSE block, instead of joining each batch as @tidewire/server does.
 */
const slot = (transport, channels, endToEnd, batch = true) => ({
  transport,
  duplex: transport === 'websocket',
  server: 'tidewire',
  serverFor: endToEnd
    ? undefined
    : { throughput: 'tidewireFrames', latency: 'tidewireFrames', roundTrip: 'tidewireFrames' },
  serverOptions: batch ? { channels } : { channels, batch },
  tidewire: true,
  endToEnd,
  open: (ctx) => openTidewire({ ...ctx, transport, channels: ctx.channels ?? channels }),
});

/**
 * Tidewire's rows: the client on each transport (one channel, and 100 channels on
 * one connection; then one channel without batching, one frame per message or
 * event), then the same clients fed by @tidewire/server (end to end).
 */
export const tidewireConsumers = {
  'Tidewire WebSocket': slot('websocket', 1, false),
  'Tidewire SSE': slot('sse', 1, false),
  'Tidewire WebSocket, 100 channels': slot('websocket', 100, false),
  'Tidewire SSE, 100 channels': slot('sse', 100, false),
  'Tidewire WebSocket, one frame per message': slot('websocket', 1, false, false),
  'Tidewire SSE, one event per block': slot('sse', 1, false, false),
  '@tidewire/server → Tidewire WebSocket': slot('websocket', 1, true),
  '@tidewire/server → Tidewire SSE': slot('sse', 1, true),
};

/**
 * True for Tidewire's main client row on `transport`: fed by the frame server,
 * one channel, batched (the row the targets are checked against).
 */
export const isMainClientRow = (row, transport) =>
  row.tidewire &&
  !row.endToEnd &&
  row.transport === transport &&
  !row.name.includes('100') &&
  !row.name.endsWith(', one frame per message') &&
  !row.name.endsWith(', one event per block');

export { openTidewire };
