// Loopback servers for the benchmarks. This module is a worker thread's entry:
// the server works on its own event loop, so the measured client's loop only
// carries the client.
//
// workerData:
//   kind      one of `kinds` below
//   mode      'credit': send as fast as the consumer keeps up, at most `window`
//             events ahead of the count it reports in `counter`;
//             'paced': one event every `intervalMs`, stamped at send (latency);
//             'idle': send nothing, only answer echoes (round trips).
//   counter   SharedArrayBuffer of two Int32: [0] the count the consumer advances,
//             [1] the count at which the waiting server wants to be woken
//   options   per-kind options (Tidewire: channel count)
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocketServer } from 'ws';
import { makeEvent, nowUs } from './event.mjs';

const { kind, mode, window = 2048, intervalMs = 1, counter, options = {} } = workerData;
const delivered = new Int32Array(counter);

// Paced events are broadcast: one timer, one sequence, every open connection gets
// each event. An event sent while a client is away is lost to it unless the
// protocol resumes, which is what the recovery benchmark counts.
const paced = new Set();
let pacedSeq = 0;
let pacedTimer;

/**
 * Sends events to one connection according to `mode` until the returned stop()
 * is called. `sendBatch` writes an array of events.
 */
export function pump(sendBatch) {
  if (mode === 'paced') {
    paced.add(sendBatch);
    pacedTimer ??= setInterval(() => {
      const event = makeEvent(pacedSeq++);
      for (const send of paced) send([event]);
    }, intervalMs);
    return () => paced.delete(sendBatch);
  }
  let stopped = false;
  let seq = 0;
  if (mode === 'credit') {
    (async () => {
      while (!stopped) {
        const seen = Atomics.load(delivered, 0);
        const batch = [];
        while (seq < seen + window) batch.push(makeEvent(seq++));
        if (batch.length > 0) sendBatch(batch);
        // Sleep until the consumer is half a window behind (it wakes the server there,
        // not at every report: a wake-up costs its thread tens of µs on this VM) or
        // 50 ms pass, letting I/O flush.
        Atomics.store(delivered, 1, seq - window / 2);
        const wait = Atomics.waitAsync(delivered, 0, seen, 50);
        await (wait.async ? wait.value : new Promise(setImmediate));
      }
    })();
  }
  return () => {
    stopped = true;
  };
}

/**
 * The wire form of an event. Under credit (throughput) nobody reads `t`, so the
 * serialized form of 4,096 events is reused: the server's work per event is then
 * a write, and the client under test, not this server, sets the pace.
 */
function wireCache(serialize, slots = 4096) {
  const cache = [];
  return (e) => {
    if (mode !== 'credit') return serialize(e);
    const slot = e.seq % slots;
    cache[slot] ??= serialize(e);
    return cache[slot];
  };
}

/** The same stream as an async iterator, for libraries that pull (graphql-ws). */
async function* pumpIterator() {
  const queue = [];
  let wake;
  const stop = pump((batch) => {
    queue.push(...batch);
    wake?.();
  });
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift();
      await new Promise((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    stop();
  }
}

/** TCP connections of each server, so that a benchmark can cut them all at once. */
const sockets = new WeakMap();
/** Time (µs) of every TCP connection accepted, for reconnect spreads. */
const accepted = [];

function listen(server, port = 0) {
  if (!sockets.has(server)) {
    const open = new Set();
    sockets.set(server, open);
    server.on('connection', (socket) => {
      accepted.push(nowUs());
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
  }
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => resolve(server.address().port)),
  );
}

/** Destroys every connection, as a network failure would. Returns how many. */
function dropAll(server) {
  const open = sockets.get(server) ?? new Set();
  const count = open.size;
  for (const socket of open) socket.destroy();
  return count;
}

/** Stops listening and drops every connection, then listens again on the same port. */
async function restart(server, downMs) {
  const { port } = server.address();
  const closed = new Promise((resolve) => server.close(() => resolve()));
  dropAll(server);
  await closed;
  await new Promise((resolve) => setTimeout(resolve, downMs));
  await listen(server, port);
}

function closeHttp(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Writes a batch of frames in one system call. `ws` writes each frame on its own;
 * without this the benchmark server, not the client under test, is the limit.
 * `_socket` is ws's underlying net.Socket (not public API, stable since ws 1).
 */
function corked(ws, write) {
  ws._socket.cork();
  write();
  ws._socket.uncork();
}

/** Raw `ws`: every event a text frame of JSON; any message received is echoed. */
async function wsRaw() {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const wire = wireCache((e) => Buffer.from(JSON.stringify(e)));
  wss.on('connection', (ws) => {
    const stop = pump((batch) =>
      corked(ws, () => {
        for (const e of batch) ws.send(wire(e), { binary: false });
      }),
    );
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', stop);
  });
  const port = await listen(server);
  return {
    server,
    url: `ws://127.0.0.1:${port}/`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await closeHttp(server);
    },
  };
}

/** Raw Node http streaming an event stream: one `data:` line per event. */
async function sseRaw() {
  const wire = wireCache((e) => `data: ${JSON.stringify(e)}\n\n`);
  const streams = new Set();
  const server = http.createServer((_req, res) => {
    streams.add(res);
    res.on('close', () => streams.delete(res));
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'access-control-allow-origin': '*',
    });
    res.write(': open\n\n');
    const stop = pump((batch) => {
      res.write(batch.map(wire).join(''));
    });
    res.on('close', stop);
  });
  const port = await listen(server);
  return {
    server,
    url: `http://127.0.0.1:${port}/sse`,
    streams: () => streams.size,
    close: () => closeHttp(server),
  };
}

/** socket.io server, WebSocket transport only; `echo` is acknowledged with its argument. */
async function socketIo() {
  const { Server } = await import('socket.io');
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], cors: { origin: '*' } });
  io.on('connection', (socket) => {
    const stop = pump((batch) => {
      for (const e of batch) socket.emit('e', e);
    });
    socket.on('echo', (payload, ack) => ack(payload));
    socket.on('disconnect', stop);
  });
  const port = await listen(server);
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      io.disconnectSockets(true);
      await new Promise((resolve) => io.close(() => resolve()));
    },
  };
}

/** graphql-ws server with `subscription { events { seq t pad } }`. */
async function graphqlWs() {
  const g = await import('graphql');
  const { useServer } = await import('graphql-ws/use/ws');
  const Event = new g.GraphQLObjectType({
    name: 'Event',
    fields: {
      seq: { type: g.GraphQLInt },
      t: { type: g.GraphQLFloat },
      pad: { type: g.GraphQLString },
    },
  });
  const schema = new g.GraphQLSchema({
    query: new g.GraphQLObjectType({ name: 'Query', fields: { ok: { type: g.GraphQLBoolean } } }),
    subscription: new g.GraphQLObjectType({
      name: 'Subscription',
      fields: { events: { type: Event, subscribe: pumpIterator, resolve: (e) => e } },
    }),
  });
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const disposable = useServer({ schema }, wss);
  const port = await listen(server);
  return {
    server,
    url: `ws://127.0.0.1:${port}/graphql`,
    close: async () => {
      await disposable.dispose();
      await closeHttp(server);
    },
  };
}

/**
 * The part of the Phoenix channels protocol (JSON serializer, vsn 2.0.0) that
 * phoenix.js needs: join, heartbeat, leave, pushes answered by a reply, and
 * broadcasts of event `e` on the joined topic. Messages are
 * `[join_ref, ref, topic, event, payload]`.
 */
async function phoenix() {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: '/socket/websocket' });
  wss.on('connection', (ws) => {
    const stops = new Map();
    const reply = (joinRef, ref, topic, response) =>
      ws.send(JSON.stringify([joinRef, ref, topic, 'phx_reply', { status: 'ok', response }]));
    ws.on('message', (raw) => {
      const [joinRef, ref, topic, event, payload] = JSON.parse(String(raw));
      if (event === 'phx_join') {
        reply(joinRef, ref, topic, {});
        const wire = wireCache((e) => Buffer.from(JSON.stringify([joinRef, null, topic, 'e', e])));
        const stop = pump((batch) =>
          corked(ws, () => {
            for (const e of batch) ws.send(wire(e), { binary: false });
          }),
        );
        stops.set(topic, stop);
      } else if (event === 'phx_leave') {
        stops.get(topic)?.();
        stops.delete(topic);
        reply(joinRef, ref, topic, {});
      } else {
        reply(joinRef, ref, topic, event === 'echo' ? payload : {});
      }
    });
    ws.on('close', () => {
      for (const stop of stops.values()) stop();
    });
  });
  const port = await listen(server);
  return {
    server,
    url: `ws://127.0.0.1:${port}/socket`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await closeHttp(server);
    },
  };
}

/** What @tidewire/server joins into one WebSocket message or SSE event at most (PROTOCOL.md, Limits). */
const MAX_MESSAGE_BYTES = 64 * 1024;
const LF = Buffer.from('\n');

/**
 * Frames (UTF-8 buffers), in order, joined by LF into messages as @tidewire/server
 * sends them: as many frames per message as fit in MAX_MESSAGE_BYTES, a larger
 * frame alone.
 */
function joinFrames(frames) {
  const messages = [];
  let parts = [];
  let length = -1;
  for (const frame of frames) {
    if (length >= 0 && length + 1 + frame.length > MAX_MESSAGE_BYTES) {
      messages.push(parts.length === 1 ? parts[0] : Buffer.concat(parts, length));
      parts = [];
      length = -1;
    }
    if (length >= 0) {
      parts.push(LF);
      length += 1;
    } else length = 0;
    parts.push(frame);
    length += frame.length;
  }
  if (length >= 0) messages.push(parts.length === 1 ? parts[0] : Buffer.concat(parts, length));
  return messages;
}

/**
 * Event frames as SSE blocks, as @tidewire/server sends them: a `data:` line per
 * frame while the frames joined by LF fit in MAX_MESSAGE_BYTES, then one `id:`
 * line (the block's last event) and the blank line. `pieces` come from sseWire.
 */
function sseBlocks(pieces) {
  let out = '';
  let joined = -1;
  let id = '';
  for (const piece of pieces) {
    if (joined >= 0 && joined + 1 + piece.bytes > MAX_MESSAGE_BYTES) {
      out += `${id}\n`;
      joined = -1;
    }
    joined = joined < 0 ? piece.bytes : joined + 1 + piece.bytes;
    out += piece.data;
    id = piece.id;
  }
  return joined < 0 ? out : `${out}${id}\n`;
}

/**
 * A server that speaks the Tidewire protocol as cheaply as the baselines speak
 * theirs, so that Tidewire's client rows measure the client: `welcome`,
 * `subscribed` and `ack` frames, and `event` frames whose serialized form (the
 * same 100-byte payload inside the protocol's envelope) is reused under credit
 * exactly as the baselines reuse theirs. Each batch goes out as @tidewire/server
 * sends the frames of one tick: joined by LF into WebSocket messages of at most
 * 64 KiB (corked per batch), or into SSE blocks of a `data:` line per frame and
 * one `id:` line (one write per batch). With `options.batch === false`, one frame
 * per message and one event per block instead, to show the client without
 * batching. No history, no resume, no limits: the full server is measured by the
 * `@tidewire/server` rows (kind `tidewire`). Events go round-robin over
 * `channels` channels `bench-0` … `bench-{n-1}`.
 */
async function tidewireFrames() {
  const channels = options.channels ?? 1;
  const batching = options.batch !== false;
  const EPOCH = 'bench';
  const welcome = JSON.stringify({ type: 'welcome', epoch: EPOCH, heartbeat: 15_000 });
  const subscribed = (channel) =>
    JSON.stringify({ type: 'subscribed', channel, position: `${EPOCH}-0` });
  // Under credit the frame of slot s is that of event s: channel bench-(s mod n),
  // id bench-(s+1). A channel's ids repeat only after 256 of its events, beyond
  // the client's duplicate window (128 ids), as the baselines' payloads repeat.
  const slots = Math.max(4096, 256 * channels);
  const eventFrame = (e) =>
    `{"type":"event","channel":"bench-${e.seq % channels}","id":"${EPOCH}-${e.seq + 1}","event":"message","data":${JSON.stringify(e)}}`;
  const wsWire = wireCache((e) => Buffer.from(eventFrame(e)), slots);
  const sseWire = wireCache((e) => {
    const frame = eventFrame(e);
    const data = `data: ${frame}\n`;
    const id = `id: ${EPOCH}-${e.seq + 1}\n`;
    return { data, id, bytes: Buffer.byteLength(frame), block: `${data}${id}\n` };
  }, slots);
  const streams = new Set();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/tidewire/sse') {
      res.writeHead(404).end();
      return;
    }
    streams.add(res);
    res.on('close', () => streams.delete(res));
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'access-control-allow-origin': '*',
    });
    const names = url.searchParams.getAll('channel').map((c) => c.split('@')[0]);
    const head = [welcome, ...names.map(subscribed)].map((frame) => `data: ${frame}\n`);
    res.write(`retry: 1000\n\n: ping\n\n${head.join(batching ? '' : '\n')}\n`);
    const stop = pump(
      batching
        ? (batch) => res.write(sseBlocks(batch.map(sseWire)))
        : (batch) => res.write(batch.map((e) => sseWire(e).block).join('')),
    );
    res.on('close', stop);
  });

  const wss = new WebSocketServer({ server, path: '/tidewire/ws', perMessageDeflate: false });
  wss.on('connection', (ws) => {
    let joined = 0;
    let stop = () => {};
    const sendAll = (frames) =>
      corked(ws, () => {
        for (const message of batching ? joinFrames(frames) : frames) {
          ws.send(message, { binary: false });
        }
      });
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      if (frame.type === 'auth') ws.send(welcome);
      else if (frame.type === 'subscribe') {
        ws.send(subscribed(frame.channel));
        if (++joined === channels) stop = pump((batch) => sendAll(batch.map(wsWire)));
      } else if (frame.type === 'publish') {
        // As the protocol has it: a subscriber receives its own event, then the ack.
        const id = `${EPOCH}-p${frame.ref}`;
        sendAll([
          Buffer.from(
            `{"type":"event","channel":${JSON.stringify(frame.channel)},"id":"${id}","event":"message","data":${JSON.stringify(frame.data)}}`,
          ),
          Buffer.from(`{"type":"ack","ref":${JSON.stringify(frame.ref)},"id":"${id}"}`),
        ]);
      }
    });
    ws.on('close', () => stop());
  });
  const port = await listen(server);
  return {
    server,
    url: `http://127.0.0.1:${port}/tidewire`,
    streams: () => streams.size,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await closeHttp(server);
    },
  };
}

/** @tidewire/server: see bench/tidewire.mjs. */
async function tidewire() {
  const { startTidewireServer } = await import('../tidewire.mjs');
  return startTidewireServer({ pump, listen, ...options });
}

export const kinds = {
  'ws-raw': wsRaw,
  'sse-raw': sseRaw,
  socketio: socketIo,
  graphqlWs,
  phoenix,
  tidewire,
  tidewireFrames,
};

/** Actions a benchmark may ask of any server, by name. */
const actions = {
  dropAll: (started) => dropAll(started.server),
  restart: (started, downMs) => restart(started.server, downMs),
  publishedCount: () => pacedSeq,
  openCount: (started) => sockets.get(started.server)?.size ?? 0,
  // Event streams being served right now (SSE servers only).
  streams: (started) => started.streams?.() ?? null,
  // Accept times since `sinceUs`, in ms after it.
  acceptedSince: (_started, sinceUs) =>
    accepted.filter((t) => t >= sinceUs).map((t) => (t - sinceUs) / 1000),
};

if (parentPort && workerData?.kind) {
  const started = await kinds[kind]();
  parentPort.postMessage({ url: started.url });
  parentPort.on('message', async (message) => {
    if (message?.type === 'close') {
      clearInterval(pacedTimer);
      await started.close();
      parentPort.postMessage({ closed: true });
      parentPort.close();
    } else if (message?.type === 'call') {
      const result = await actions[message.name]?.(started, ...(message.args ?? []));
      parentPort.postMessage({ called: message.name, result });
    }
  });
}
