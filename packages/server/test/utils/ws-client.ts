import type { ClientFrame, ServerFrame } from '@tidewire/core/protocol';
import { onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { waitUntil } from './wait.js';

/** A WebSocket client that records every frame it receives. */
export interface WsClient {
  ws: WebSocket;
  /** Every frame so far, in order. */
  frames: ServerFrame[];
  /** The text of every message so far: each holds one or more frames joined by LF. */
  messages: string[];
  send(frame: ClientFrame | Record<string, unknown>): void;
  sendRaw(data: string | Buffer, binary?: boolean): void;
  waitFor<F extends ServerFrame>(
    predicate: (frame: ServerFrame) => frame is F,
    ms?: number,
  ): Promise<F>;
  waitFor(predicate: (frame: ServerFrame) => boolean, ms?: number): Promise<ServerFrame>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  /** Stops reading from the socket; the server's send buffer fills up. */
  pause(): void;
  close(): void;
}

/** Opens `url`; rejects when the upgrade fails, with the HTTP status in the message. */
export async function openWs(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
  const ws = new WebSocket(url, { headers });
  onTestFinished(() => ws.terminate());
  const frames: ServerFrame[] = [];
  const messages: string[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = String(data);
    messages.push(text);
    // Version 2 sends events as lines that are not JSON: they are in `messages` only.
    for (const json of text.split('\n'))
      if (json.startsWith('{')) frames.push(JSON.parse(json) as ServerFrame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`upgrade refused: ${res.statusCode}`));
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
  return {
    ws,
    frames,
    messages,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data, binary = false) => ws.send(data, { binary }),
    waitFor: (predicate: (frame: ServerFrame) => boolean, ms = 3000) =>
      waitUntil(() => frames.find(predicate), ms, 'WebSocket frame'),
    closed,
    pause: () => ws.pause(),
    close: () => ws.close(),
  };
}

/** Opens a socket, authenticates and waits for `welcome`. */
export async function openAuthedWs(url: string, token?: string): Promise<WsClient> {
  const client = await openWs(url);
  client.send(token === undefined ? { type: 'auth' } : { type: 'auth', token });
  await client.waitFor((f) => f.type === 'welcome');
  return client;
}
