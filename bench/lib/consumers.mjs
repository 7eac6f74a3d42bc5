// The clients under test, each against the loopback server that speaks its protocol.
//
// A consumer is { transport, server, baseline?, open(ctx) }. `open` connects,
// calls ctx.onEvent(event) with each parsed event object as the library hands it
// to the application, and resolves to { close(), echo?() } once the
// subscription is in place. `echo()` (consumers marked `duplex`) sends one
// message and resolves when the server's answer is back, for round trips.
import WebSocket from 'ws';
import { tidewireConsumers } from '../tidewire.mjs';

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

/** Minimal hand-written SSE reader over fetch: the SSE baseline. `data:` lines only. */
async function readEventStream(url, signal, onData) {
  const response = await fetch(url, { signal, headers: { accept: 'text/event-stream' } });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
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

export const consumers = {
  'ws (raw, JSON.parse)': {
    duplex: true,
    transport: 'websocket',
    server: 'ws-raw',
    baseline: true,
    open: async ({ url, onEvent }) => {
      const ws = new WebSocket(url);
      const { onMessage, echo } = socketEcho(ws);
      ws.on('message', (data) => {
        const text = data.toString();
        if (!text.startsWith('{"echo"') || !onMessage(text)) onEvent(JSON.parse(text));
      });
      await once(ws, 'open');
      return { close: () => ws.terminate(), echo };
    },
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
      return wsLike((url) => new ReconnectingWebSocket(url, [], { WebSocket }))(ctx);
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
    server: 'sse-raw',
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
    server: 'sse-raw',
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
