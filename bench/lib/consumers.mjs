// The clients under test, each against the loopback server that speaks its protocol.
//
// A consumer is { transport, server, baseline?, open(ctx) }. `open` connects,
// calls ctx.onEvent(event) with each parsed event object as the library hands it
// to the application, and resolves to { close(), echo?() } once the
// subscription is in place. `echo()` (consumers marked `duplex`) sends one
// message and resolves when the server's answer is back, for round trips.
import WebSocket from 'ws';
import { tidewireConsumers } from '../tidewire.mjs';
import { keepEvent } from './event.mjs';

/** Resolves on the first `event` of an EventEmitter-style or EventTarget-style object. */
const once = (target, event) =>
  new Promise((resolve, reject) => {
    const on =
      target.once?.bind(target) ?? ((e, f) => target.addEventListener(e, f, { once: true }));
    on(event, resolve);
    on('error', reject);
  });

/** Echo over a WebSocket-like object whose server returns every message as it came. */
function socketEcho(ws) {
  const waiting = new Map();
  let next = 0;
  const onMessage = (text) => {
    const message = JSON.parse(text);
    if (message?.echo === undefined) return false;
    waiting.get(message.echo)?.();
    waiting.delete(message.echo);
    return true;
  };
  const echo = () =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ echo: id }));
    });
  return { onMessage, echo };
}

/**
 * Bytes to text as Tidewire's SSE reader decodes them: without `stream` (Node's fast
 * path, about 3× cheaper per byte) when the chunk ends on a whole character, so that
 * every SSE reader here pays the same for decoding.
 */
function chunkDecoder() {
  const decoder = new TextDecoder();
  let pending = false;
  return (bytes) => {
    const last = bytes[bytes.length - 1];
    const whole = !pending && (last === undefined || last < 0x80);
    pending = !whole;
    return whole ? decoder.decode(bytes) : decoder.decode(bytes, { stream: true });
  };
}

/** Minimal hand-written SSE reader over fetch: the SSE baseline. `data:` lines only. */
async function readEventStream(url, signal, onData) {
  const response = await fetch(url, { signal, headers: { accept: 'text/event-stream' } });
  const reader = response.body.getReader();
  const decode = chunkDecoder();
  let buffer = '';
  (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decode(value);
      let start = 0;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        if (buffer.startsWith('data: ', start)) onData(buffer.slice(start + 6, end));
        start = end + 2;
        end = buffer.indexOf('\n\n', start);
      }
      buffer = buffer.slice(start);
    }
  })().catch(() => {});
}

/**
 * The minimal reader of Tidewire's version 2 SSE wire in form E (PROTOCOL.md), over fetch:
 * what any reader must do to deliver the same information as the client, `{ channel, id,
 * type, data }` per event, from the same bytes. It tracks each block's `event:` (the
 * channel, or `@` and a control frame's type) and `type:`, looks the channel up once per
 * block, cuts `data: <id> <data>` lines and parses the data, keeps the channel's last id,
 * and skips control frames but for the welcome. No CR, no limits: a floor, not a client.
 */
async function readWireV2Sse(url, channels, signal, onEvent) {
  const response = await fetch(`${url}/sse`, {
    method: 'POST',
    signal,
    headers: { accept: 'text/event-stream' },
    body: `v=2&batch=1&${channels.map((c) => `channel=${c}`).join('&')}`,
  });
  const reader = response.body.getReader();
  const decode = chunkDecoder();
  const state = new Map(channels.map((name) => [name, { lastId: '' }]));
  let channel;
  let welcome;
  const welcomed = new Promise((resolve) => {
    welcome = resolve;
  });
  let buffer = '';
  let event = '';
  let type = 'message';
  (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decode(value);
      let start = 0;
      let end = buffer.indexOf('\n');
      while (end !== -1) {
        if (end === start) {
          event = '';
          type = 'message';
          channel = undefined;
        } else if (buffer.startsWith('data: ', start)) {
          if (channel) {
            const space = buffer.indexOf(' ', start + 6);
            const id = buffer.slice(start + 6, space);
            channel.lastId = id;
            onEvent({ channel: event, id, type, data: JSON.parse(buffer.slice(space + 1, end)) });
          } else if (event === '@welcome') welcome();
        } else if (buffer.startsWith('event: ', start)) {
          event = buffer.slice(start + 7, end);
          channel = state.get(event);
        } else if (buffer.startsWith('type: ', start)) type = buffer.slice(start + 6, end);
        start = end + 1;
        end = buffer.indexOf('\n', start);
      }
      buffer = buffer.slice(start);
    }
  })().catch(() => {});
  await welcomed;
}

/**
 * The same for the WebSocket wire: splits each message into lines, parses a line that
 * starts with `{` as a control frame, and cuts `<channel> <type> <id> <data>` from the
 * others. Resolves once its channels are subscribed.
 */
async function readWireV2Socket(url, channels, onEvent) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?v=2`);
  const state = new Map(channels.map((name) => [name, { lastId: '' }]));
  let pending = channels.length;
  let subscribed;
  const ready = new Promise((resolve) => {
    subscribed = resolve;
  });
  ws.on('message', (raw) => {
    const text = raw.toString();
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      if (text.charCodeAt(start) === 123) {
        const frame = JSON.parse(text.slice(start, end));
        if (frame.type === 'subscribed' && --pending === 0) subscribed();
      } else {
        const a = text.indexOf(' ', start);
        const b = text.indexOf(' ', a + 1);
        const c = text.indexOf(' ', b + 1);
        const channel = text.slice(start, a);
        const id = text.slice(b + 1, c);
        const known = state.get(channel);
        if (known) known.lastId = id;
        onEvent({
          channel,
          id,
          type: b > a + 1 ? text.slice(a + 1, b) : 'message',
          data: JSON.parse(text.slice(c + 1, end)),
        });
      }
      start = end + 1;
    }
  });
  await once(ws, 'open');
  ws.send('{"type":"auth"}');
  for (const channel of channels) ws.send(JSON.stringify({ type: 'subscribe', channel }));
  await ready;
  return ws;
}

/** A consumer for a WebSocket-like client made by `Impl(url)` (partysocket, reconnecting-websocket). */
const wsLike =
  (Impl) =>
  async ({ url, onEvent }) => {
    const ws = Impl(url);
    const { onMessage, echo } = socketEcho(ws);
    ws.addEventListener('message', (e) => {
      const text = String(e.data);
      if (!text.startsWith('{"echo"') || !onMessage(text)) onEvent(JSON.parse(text));
    });
    await once(ws, 'open');
    return { close: () => ws.close(), echo };
  };

/** A raw `ws` client: one `JSON.parse` per message, or per line of a message of several. */
async function rawSocket({ url, onEvent }) {
  const ws = new WebSocket(url);
  const { onMessage, echo } = socketEcho(ws);
  ws.on('message', (data) => {
    const text = data.toString();
    if (text.startsWith('{"echo"') && onMessage(text)) return;
    let start = 0;
    let end = text.indexOf('\n');
    while (end !== -1) {
      onEvent(JSON.parse(text.slice(start, end)));
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    onEvent(JSON.parse(start === 0 ? text : text.slice(start)));
  });
  await once(ws, 'open');
  return { close: () => ws.terminate(), echo };
}

export const consumers = {
  // The baselines: the least a JavaScript client can do with the same batches.
  'ws (raw, JSON.parse)': {
    duplex: true,
    transport: 'websocket',
    server: 'ws-raw',
    serverOptions: { batch: true },
    baseline: true,
    open: rawSocket,
  },
  'fetch SSE reader (raw)': {
    transport: 'sse',
    server: 'sse-raw',
    baseline: true,
    open: async ({ url, onEvent }) => {
      const controller = new AbortController();
      await readEventStream(url, controller.signal, (data) => onEvent(JSON.parse(data)));
      return { close: () => controller.abort() };
    },
  },
  // The floors of Tidewire's own wire: the same information as the client, from the
  // same batches of the same frame server (bench/tidewire.mjs).
  'minimal v2 reader, WebSocket': {
    transport: 'websocket',
    server: 'tidewireFrames',
    serverOptions: { channels: 1 },
    reference: true,
    open: async ({ url, onEvent }) => {
      const ws = await readWireV2Socket(url, ['bench-0'], keepEvent(onEvent));
      return { close: () => ws.terminate() };
    },
  },
  'minimal v2 reader, SSE': {
    transport: 'sse',
    server: 'tidewireFrames',
    serverOptions: { channels: 1 },
    reference: true,
    open: async ({ url, onEvent }) => {
      const controller = new AbortController();
      await readWireV2Sse(url, ['bench-0'], controller.signal, keepEvent(onEvent));
      return { close: () => controller.abort() };
    },
  },
  // The same raw client with one message per event: what batching saves it.
  'ws (raw, one message per event)': {
    transport: 'websocket',
    server: 'ws-raw',
    open: rawSocket,
  },
  'socket.io-client': {
    duplex: true,
    transport: 'websocket',
    server: 'socketio',
    open: async ({ url, onEvent }) => {
      const { io } = await import('socket.io-client');
      const socket = io(url, { transports: ['websocket'] });
      socket.on('e', onEvent);
      await once(socket, 'connect');
      return {
        close: () => socket.disconnect(),
        echo: () => new Promise((resolve) => socket.emit('echo', 1, resolve)),
      };
    },
  },
  partysocket: {
    duplex: true,
    transport: 'websocket',
    server: 'ws-raw',
    open: async (ctx) => {
      const { WebSocket: PartyWebSocket } = await import('partysocket');
      return wsLike((url) => new PartyWebSocket(url, undefined, { WebSocket }))(ctx);
    },
  },
  'reconnecting-websocket': {
    duplex: true,
    transport: 'websocket',
    server: 'ws-raw',
    open: async (ctx) => {
      const { default: ReconnectingWebSocket } = await import('reconnecting-websocket');
      // Its default minimum delay, `1000 + Math.random() * 4000`, is drawn once when the
      // module loads: once per page in a browser, but once for all the simulated clients of
      // this process. Each client draws its own here, as each page would.
      const minReconnectionDelay = 1000 + Math.random() * 4000;
      return wsLike(
        (url) => new ReconnectingWebSocket(url, [], { WebSocket, minReconnectionDelay }),
      )(ctx);
    },
  },
  'graphql-ws': {
    transport: 'websocket',
    server: 'graphqlWs',
    open: async ({ url, onEvent }) => {
      const { createClient } = await import('graphql-ws');
      const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0 });
      await new Promise((resolve, reject) => {
        client.on('connected', resolve);
        client.subscribe(
          { query: 'subscription { events { seq t pad } }' },
          { next: (result) => onEvent(result.data.events), error: reject, complete: () => {} },
        );
      });
      return { close: () => client.dispose() };
    },
  },
  phoenix: {
    duplex: true,
    transport: 'websocket',
    server: 'phoenix',
    open: async ({ url, onEvent, channels = 1 }) => {
      const { Socket } = await import('phoenix');
      const socket = new Socket(url, { transport: WebSocket });
      socket.connect();
      const joined = Array.from({ length: channels }, (_, i) => {
        const channel = socket.channel(`bench-${i}`, {});
        channel.on('e', onEvent);
        return new Promise((resolve, reject) =>
          channel.join().receive('ok', resolve).receive('error', reject),
        );
      });
      await Promise.all(joined);
      const channel = socket.channels[0];
      return {
        close: () => socket.disconnect(),
        echo: () => new Promise((resolve) => channel.push('echo', {}).receive('ok', resolve)),
      };
    },
  },
  eventsource: {
    transport: 'sse',
    server: 'sse-standard',
    open: async ({ url, onEvent }) => {
      const { EventSource } = await import('eventsource');
      const source = new EventSource(url);
      source.onmessage = (e) => onEvent(JSON.parse(e.data));
      await once(source, 'open');
      return { close: () => source.close() };
    },
  },
  '@microsoft/fetch-event-source': {
    transport: 'sse',
    server: 'sse-standard',
    open: async ({ url, onEvent }) => {
      // It reads `window` and `document` even with openWhenHidden; give it Node's.
      globalThis.window ??= globalThis;
      globalThis.document ??= { hidden: false, addEventListener() {}, removeEventListener() {} };
      const { fetchEventSource } = await import('@microsoft/fetch-event-source');
      const controller = new AbortController();
      await new Promise((resolve) => {
        fetchEventSource(url, {
          signal: controller.signal,
          openWhenHidden: true,
          onopen: async () => resolve(),
          // It also fires for comment-only blocks (`: open`), with empty data.
          onmessage: (e) => e.data && onEvent(JSON.parse(e.data)),
        }).catch(() => {});
      });
      return { close: () => controller.abort() };
    },
  },
  ...tidewireConsumers,
};

/** The baseline of each transport, for ratios. */
export const baselineOf = (transport) =>
  Object.keys(consumers).find((n) => consumers[n].baseline && consumers[n].transport === transport);

/** The minimal reader of Tidewire's wire on each transport, for the client's ratios. */
export const referenceOf = (transport) =>
  Object.keys(consumers).find(
    (n) => consumers[n].reference && consumers[n].transport === transport,
  );
