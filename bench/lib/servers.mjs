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
//   counter   SharedArrayBuffer of two or three Int32: [0] the count the consumer advances,
//             [1] the count at which the waiting server wants to be woken, [2] when present
//             a gate: 0 holds a credit server back (between a paired trial's slices)
//   options   per-kind options (Tidewire: channel count)
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocketServer } from 'ws';
import { makeEvent, nowUs } from './event.mjs';

const { kind, mode, window = 2048, intervalMs = 1, counter, options = {} } = workerData;
const delivered = new Int32Array(counter);
const gated = delivered.length > 2;

// Paced events are broadcast: one timer, one sequence, every open connection gets
// each event. An event sent while a client is away is lost to it unless the
// protocol resumes, which is what the recovery benchmark counts. `pacedLog[seq]` is
// every paced event, for servers whose protocol resumes (`Last-Event-ID`).
const paced = new Set();
const pacedLog = [];
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
      pacedLog.push(event);
      for (const send of paced) send([event]);
    }, intervalMs);
    return () => paced.delete(sendBatch);
  }
  let stopped = false;
  let seq = 0;
  if (mode === 'credit') {
    (async () => {
      while (!stopped) {
        if (gated && Atomics.load(delivered, 2) === 0) {
          const held = Atomics.waitAsync(delivered, 2, 0, 50);
          await (held.async ? held.value : new Promise(setImmediate));
          continue;
        }
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

/**
 * Raw `ws`: every event a text frame of JSON; any message received is echoed. With
 * `options.batch`, each batch is joined by LF into messages of at most 64 KiB, as
 * Tidewire's frame server joins its lines: the same batches, without the channel, id
 * and type.
 */
async function wsRaw() {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const wire = wireCache((e) => Buffer.from(JSON.stringify(e)));
  wss.on('connection', (ws) => {
    const stop = pump((batch) =>
      corked(ws, () => {
        const messages = options.batch ? joinFrames(batch.map(wire)) : batch.map(wire);
        for (const message of messages) ws.send(message, { binary: false });
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

/**
 * Node http streaming an event stream: `opening(req)` first, then each paced batch, its
 * events encoded by `wire`, in one write.
 */
async function eventStream(wire, opening) {
  const streams = new Set();
  const server = http.createServer((req, res) => {
    streams.add(res);
    res.on('close', () => streams.delete(res));
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'access-control-allow-origin': '*',
    });
    res.write(opening(req));
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

/** Raw Node http streaming an event stream: one `data:` line per event. */
function sseRaw() {
  return eventStream(
    wireCache((e) => `data: ${JSON.stringify(e)}\n\n`),
    () => ': open\n\n',
  );
}

/**
 * A standard event stream, as the `EventSource` specification has it: each event a
 * block with its `id:` (the sequence number) and `data:` line, one write per batch.
 * A request with `Last-Event-ID` first gets every paced event after it, so a client
 * that resumes loses nothing, as Tidewire's resume loses nothing.
 */
function sseStandard() {
  const wire = wireCache((e) => `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
  return eventStream(wire, (req) => {
    const last = req.headers['last-event-id'];
    const from = last === undefined ? pacedSeq : Number(last) + 1;
    return `: open\n\n${pacedLog.slice(from, pacedSeq).map(wire).join('')}`;
  });
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
 * Events as version 2 SSE blocks in form E, as @tidewire/server sends them (PROTOCOL.md):
 * a run of consecutive events of one channel shares a block, `event: <channel>` and a
 * `data: <id> <data>` line per event, while its lines fit in MAX_MESSAGE_BYTES. `pieces`
 * come from sseWire: `{ channel, line }`. With `batch` false, every event a block.
 */
function sseBlocks(pieces, batch = true) {
  let out = '';
  let channel;
  let bytes = 0;
  for (const piece of pieces) {
    if (!batch || piece.channel !== channel || bytes + piece.bytes > MAX_MESSAGE_BYTES) {
      if (channel !== undefined) out += '\n';
      out += `event: ${piece.channel}\n`;
      channel = piece.channel;
      bytes = 0;
    }
    out += piece.line;
    bytes += piece.bytes;
  }
  return channel === undefined ? out : `${out}\n`;
}

/** Reads a request's body as text. */
function bodyOf(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

/**
 * A server that speaks the Tidewire protocol (version 2) as cheaply as the baselines
 * speak theirs, so that Tidewire's client rows measure the client: `welcome`,
 * `subscribed` and `ack` frames, and events whose wire form (the same 100-byte payload
 * with its channel and id: `<channel> <type> <id> <data>` lines on WebSocket, `data: <id>
 * <data>` lines under `event: <channel>` on SSE) is reused under credit exactly as the
 * baselines reuse theirs. Each batch goes out as @tidewire/server sends the events of one
 * tick: lines joined by LF into WebSocket messages of at most 64 KiB (corked per batch), or
 * SSE blocks in form E (one write per batch). With `options.batch === false`, one line per
 * message and one event per block instead, to show the client without batching. No
 * history, no resume, no limits: the full server is measured by the `@tidewire/server`
 * rows (kind `tidewire`). Events go round-robin over `channels` channels `bench-0` …
 * `bench-{n-1}`.
 */
async function tidewireFrames() {
  const channels = options.channels ?? 1;
  const batching = options.batch !== false;
  const EPOCH = 'bench';
  const welcome = `{"epoch":"${EPOCH}","heartbeat":15000}`;
  const subscribed = (channel) => `{"channel":"${channel}","position":"${EPOCH}-0"}`;
  // Under credit the line of slot s is that of event s: channel bench-(s mod n), id
  // bench-(s+1). A channel's ids repeat only after 256 of its events.
  const slots = Math.max(4096, 256 * channels);
  const wsWire = wireCache(
    (e) => Buffer.from(`bench-${e.seq % channels}  ${EPOCH}-${e.seq + 1} ${JSON.stringify(e)}`),
    slots,
  );
  const sseWire = wireCache((e) => {
    const line = `data: ${EPOCH}-${e.seq + 1} ${JSON.stringify(e)}\n`;
    return { channel: `bench-${e.seq % channels}`, line, bytes: Buffer.byteLength(line) };
  }, slots);
  const streams = new Set();

  const stream = (res, params) => {
    streams.add(res);
    res.on('close', () => streams.delete(res));
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'access-control-allow-origin': '*',
    });
    const names = params.getAll('channel').map((c) => c.split(/[@~]/)[0]);
    const head = [
      `event: @welcome\ndata: ${welcome}\n\n`,
      ...names.map((name) => `event: @subscribed\ndata: ${subscribed(name)}\n\n`),
    ];
    res.write(`retry: 1000\n\n${head.join('')}`);
    const stop = pump((batch) => res.write(sseBlocks(batch.map(sseWire), batching)));
    res.on('close', stop);
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/tidewire/sse') {
      res.writeHead(404).end();
      return;
    }
    // The Tidewire client sends its channel set in a POST body; EventSource, in the URL.
    const body = req.method === 'POST' ? await bodyOf(req) : '';
    const params = new URLSearchParams(body);
    for (const [key, value] of url.searchParams) params.append(key, value);
    stream(res, params);
  });

  const wss = new WebSocketServer({ server, path: '/tidewire/ws', perMessageDeflate: false });
  wss.on('connection', (ws) => {
    let joined = 0;
    let stop = () => {};
    const sendAll = (lines) =>
      corked(ws, () => {
        for (const message of batching ? joinFrames(lines) : lines) {
          ws.send(message, { binary: false });
        }
      });
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      if (frame.type === 'auth') ws.send(`{"type":"welcome",${welcome.slice(1)}`);
      else if (frame.type === 'subscribe') {
        ws.send(`{"type":"subscribed",${subscribed(frame.channel).slice(1)}`);
        if (++joined === channels) stop = pump((batch) => sendAll(batch.map(wsWire)));
      } else if (frame.type === 'publish') {
        // As the protocol has it: a subscriber receives its own event, then the ack.
        const id = `${EPOCH}-p${frame.ref}`;
        sendAll([
          Buffer.from(`${frame.channel}  ${id} ${JSON.stringify(frame.data)}`),
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
  'sse-standard': sseStandard,
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
