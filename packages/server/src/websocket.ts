import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  CloseCode,
  DEFAULT_EVENT_TYPE,
  type ErrorCode,
  type ServerFrame,
} from '@tidewire/core/protocol';
import { type RawData, WebSocket } from 'ws';
import { runAuthenticate, runAuthorize } from './auth.js';
import { type EndMode, principalKey } from './connections.js';
import type { ServerContext } from './context.js';
import type { OutgoingEvent } from './encoding/outgoing-event.js';
import { TickBatch } from './encoding/tick-batch.js';
import { parseClientFrame, textFrame } from './encoding/websocket-frames.js';
import { encodeTextMessages, type WsFrame, wsFrameBytes } from './encoding/websocket-messages.js';
import {
  createTokenBucket,
  exceedsBytes,
  isValidChannel,
  isValidEventType,
  publisherBucket,
  serializeData,
} from './limits.js';
import { replayPageLimit } from './replay-cursor.js';
import { createReplayPacer } from './replay-pacer.js';
import { scheduleAt, type TimerHandle } from './timers.js';

/** A WebSocket's authentication state. */
type WsState<P> =
  | { status: 'awaiting_auth' }
  | { status: 'authenticated'; principal: P }
  | { status: 'closed' };

/** How long a closing socket may take to finish the closing handshake before it is destroyed. */
const CLOSE_GRACE_MS = 1000;
/**
 * Frames waiting behind a slow hook, beyond one subscribe per allowed channel, before the
 * connection counts as flooding (close 4429): subscribing to every allowed channel at once is fine.
 */
const PENDING_FRAMES_SLACK = 256;
/**
 * `auth` frames one socket may send: a few at once, then one a second (an in-band refresh needs
 * one per credential). Beyond that the socket is closed with 4429: each one runs `authenticate`.
 */
const AUTH_RATE = { perSecond: 1, burst: 5 };
const PING_JSON = '{"type":"ping"}';
const PING_FRAME: WsFrame = { json: Buffer.from(PING_JSON), wsMessage: textFrame(PING_JSON) };

/**
 * Runs the protocol on one accepted WebSocket. `socket` is the upgraded TCP socket
 * under `ws`. The frames of one tick are joined by LF into as few text messages
 * as the size cap allows (see `encodeTextMessages`; an event's JSON is encoded
 * once for all its subscribers) and written to `socket` as one buffer, so that a
 * burst of published events costs each connection an array push per event, one
 * message to parse on the other side and one write per tick. `ws` itself only
 * sends pings and the close frame; it never has data of its own queued (no
 * compression), so both kinds of write reach the socket in order, and a close
 * frame never follows half a message.
 */
export function serveWebSocket<P>(
  ctx: ServerContext<P>,
  ws: WebSocket,
  req: IncomingMessage,
  socket: Duplex,
): void {
  const { options, hub } = ctx;
  const { timers, now, logger, limits } = options;
  let state: WsState<P> = { status: 'awaiting_auth' };
  const subscriptions = new Map<string, () => void>();
  // Shared with the publisher's other connections and HTTP publishes (see PublishRate.keyOf).
  const bucket = publisherBucket(options, req, () =>
    state.status === 'authenticated' ? state.principal : undefined,
  );
  const authBucket = createTokenBucket({ ...AUTH_RATE, now });
  /** The principal whose connection slot this socket holds (see `maxConnectionsPerPrincipal`). */
  let slotKey: string | undefined;
  let releaseSlot = (): void => {};
  /** Who the socket is for in the logs of the limits it hits: its principal, else its address. */
  const who = (): string => slotKey ?? req.socket.remoteAddress ?? 'unknown';
  /** The token the pending `refresh` was scheduled for: one refresh per credential. */
  let refreshedToken: string | undefined;
  let queue: Promise<void> = Promise.resolve();
  let pending = 0;
  let alive = true;
  let stalled = false;
  let disposeExpiry = (): void => {};
  let closeTimer: TimerHandle | undefined;
  // A function, so that the check after an await is not narrowed away by TypeScript.
  const isClosed = (): boolean => state.status === 'closed';

  const page = replayPageLimit(limits.sendBufferBytes);
  // `/ws?v=2`: events go as version 2 event lines; every other frame is the same JSON.
  const v2 = new URL(req.url ?? '/', 'http://localhost').searchParams.get('v') === '2';

  // Written only while open: never after the close frame.
  const batch = new TickBatch<WsFrame>(encodeTextMessages, (chunk) => {
    if (ws.readyState === WebSocket.OPEN) pacer.write(chunk);
  });
  const pacer = createReplayPacer({
    output: socket,
    pending: () => batch.bytes,
    budgetBytes: limits.sendBufferBytes,
    pageBytes: page.maxBytes,
    timers,
    now,
    writeTimeoutMs: limits.writeTimeoutMs,
    replayBytesPerSecond: limits.replayBytesPerSecond,
    onWriteTimeout: () => {
      ctx.logLimit('slow WebSocket consumer dropped', who(), {
        writeTimeoutMs: limits.writeTimeoutMs,
      });
      closeWith(CloseCode.SlowConsumer, 'slow consumer', false);
    },
  });
  const canSend = (): boolean =>
    !stalled && state.status !== 'closed' && ws.readyState === WebSocket.OPEN;
  /** Queues a frame for the end of the tick's message; past the send buffer the socket is closed. */
  const send = (frame: WsFrame): void => {
    if (!canSend()) return;
    batch.push(frame, wsFrameBytes(frame));
    const buffered = ws.bufferedAmount + batch.bytes;
    if (buffered > limits.sendBufferBytes) {
      ctx.logLimit('slow WebSocket consumer dropped', who(), { buffered });
      closeWith(CloseCode.SlowConsumer, 'slow consumer', false);
    }
  };
  /** Queues a frame of a replay page, which the pacer sends only when it fits. */
  const sendReplay = (frame: WsFrame): void => {
    if (canSend()) batch.push(frame, wsFrameBytes(frame));
  };
  /** A live event in the version 2 form: one function for every channel of the socket. */
  const deliverLine = (event: OutgoingEvent): void => send(event.wsLine);
  const sendFrame = (frame: ServerFrame): void =>
    send({ json: Buffer.from(JSON.stringify(frame)) });
  const sendError = (
    code: ErrorCode,
    message: string,
    extra: { channel?: string; ref?: string } = {},
  ) => sendFrame({ type: 'error', code, message, ...extra });

  const leaveAll = (): void => {
    for (const leave of subscriptions.values()) leave();
    subscriptions.clear();
    pacer.dispose();
  };
  /**
   * Stops delivering at once; the socket itself goes when the handshake ends or the grace runs out.
   * What this tick already sent goes out ahead of the close frame, unless `flush` is false.
   */
  const closeWith = (code: number, reason: string, flush = true): void => {
    if (state.status === 'closed') return;
    state = { status: 'closed' };
    leaveAll();
    disposeExpiry();
    if (flush) batch.flush();
    else batch.discard();
    ws.close(code, reason);
    closeTimer = timers.setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  };
  const end = (mode: EndMode): void => {
    if (mode === 'abort') ws.terminate();
    else if (mode === 'restart') closeWith(CloseCode.ServiceRestart, 'service restart');
    else closeWith(CloseCode.GoingAway, 'server shutting down');
  };

  const unregister = ctx.connections.add({
    transport: 'websocket',
    end,
    expire: () => closeWith(CloseCode.Unauthorized, 'token_expired'),
    stall: () => {
      stalled = true;
      pacer.dispose();
    },
  });
  const authTimer = timers.setTimeout(() => {
    if (state.status === 'awaiting_auth') closeWith(CloseCode.AuthTimeout, 'auth timeout');
  }, options.authTimeoutMs);
  const heartbeat = timers.setInterval(() => {
    if (stalled) return;
    if (!alive) {
      ws.terminate();
      return;
    }
    alive = false;
    ws.ping();
    if (state.status === 'authenticated') send(PING_FRAME);
    pacer.poke();
  }, options.heartbeatMs);

  ws.on('pong', () => {
    alive = true;
  });
  ws.on('error', (error) => logger.warn('WebSocket error', { error: error.message }));
  ws.on('close', () => {
    state = { status: 'closed' };
    leaveAll();
    disposeExpiry();
    timers.clearTimeout(authTimer);
    timers.clearInterval(heartbeat);
    if (closeTimer !== undefined) timers.clearTimeout(closeTimer);
    releaseSlot();
    unregister();
  });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    alive = true;
    if (state.status === 'closed') return;
    if (pending >= limits.maxChannelsPerConnection + PENDING_FRAMES_SLACK) {
      closeWith(CloseCode.TooManyRequests, 'too many pending frames');
      return;
    }
    pending += 1;
    const text = isBinary ? undefined : rawToString(data);
    queue = queue
      .then(() => handle(text))
      .catch((error: unknown) => {
        logger.error('WebSocket frame handling failed', { error: String(error) });
        closeWith(CloseCode.InternalError, 'internal error');
      })
      .finally(() => {
        pending -= 1;
      });
  });

  /** Handles one frame; frames are handled one at a time, in order. */
  async function handle(text: string | undefined): Promise<void> {
    if (state.status === 'closed') return;
    const parsed = parseClientFrame(text, limits.maxJsonDepth);
    if (state.status === 'awaiting_auth') {
      if (!parsed.ok || parsed.frame.type !== 'auth') {
        closeWith(CloseCode.BadRequest, 'the first frame must be auth');
        return;
      }
      return authenticate(parsed.frame.token);
    }
    if (!parsed.ok) return sendError(parsed.code, parsed.message, parsed.extra);
    const { frame } = parsed;
    switch (frame.type) {
      case 'auth':
        if (!authBucket.take()) {
          ctx.logLimit('auth frame limit reached', who());
          return closeWith(CloseCode.TooManyRequests, 'too many auth frames');
        }
        return authenticate(frame.token);
      case 'subscribe':
        return subscribe(frame.channel, frame.since, frame.rewind);
      case 'unsubscribe':
        subscriptions.get(frame.channel)?.();
        subscriptions.delete(frame.channel);
        return;
      case 'publish':
        return publish(frame.ref, frame.channel, frame.event ?? DEFAULT_EVENT_TYPE, frame.data);
    }
  }

  async function authenticate(token: string | undefined): Promise<void> {
    const auth = await runAuthenticate(options.authenticate, token, req, now(), logger);
    if (isClosed()) return;
    if (!auth.ok) {
      const code = auth.code === 'forbidden' ? CloseCode.Forbidden : CloseCode.Unauthorized;
      closeWith(code, auth.code);
      return;
    }
    const key = principalKey(auth.principal);
    if (key !== slotKey) {
      releaseSlot();
      slotKey = key;
      const release =
        key === undefined
          ? () => {}
          : ctx.connections.claim(key, limits.maxConnectionsPerPrincipal);
      if (release === undefined) {
        ctx.logLimit('connection limit per principal reached', who(), {
          maxConnectionsPerPrincipal: limits.maxConnectionsPerPrincipal,
        });
        releaseSlot = () => {};
        closeWith(CloseCode.TooManyRequests, 'too many connections');
        return;
      }
      releaseSlot = release;
    }
    timers.clearTimeout(authTimer);
    const renewed = state.status === 'authenticated';
    state = { status: 'authenticated', principal: auth.principal };
    disposeExpiry();
    disposeExpiry = armExpiry(auth.expiresAt, token);
    sendFrame({
      type: 'welcome',
      epoch: hub.epoch,
      heartbeat: options.heartbeatMs,
      ...(auth.expiresAt === undefined ? {} : { expiresIn: Math.max(0, auth.expiresAt - now()) }),
    });
    if (renewed) await reauthorize(auth.principal);
  }

  /**
   * After an in-band `auth` (a refresh, or another principal), every subscription is authorized
   * again for the principal now on the socket; the ones it may not read end with `forbidden`.
   */
  async function reauthorize(principal: P): Promise<void> {
    const channels = [...subscriptions.keys()];
    const verdicts = await Promise.all(
      channels.map((channel) =>
        runAuthorize(options.authorize, principal, channel, 'subscribe', logger),
      ),
    );
    if (isClosed()) return;
    channels.forEach((channel, i) => {
      if (verdicts[i]) return;
      subscriptions.get(channel)?.();
      subscriptions.delete(channel);
      sendError('forbidden', 'not allowed to subscribe', { channel });
    });
  }

  /**
   * `refresh` ahead of expiry, close 4401 at expiry. One refresh per credential:
   * `tokenRefreshLeadMs` ahead, or halfway through the life of a token that lives less than that,
   * so that a client whose every token is short is not asked again the moment it answers.
   */
  function armExpiry(expiresAt: number | undefined, token: string | undefined): () => void {
    if (expiresAt === undefined) return () => {};
    const left = expiresAt - now();
    const offRefresh =
      token !== undefined && token === refreshedToken
        ? () => {}
        : scheduleAt(
            timers,
            now,
            now() + Math.max(left - options.tokenRefreshLeadMs, left / 2),
            () => {
              refreshedToken = token;
              sendFrame({ type: 'refresh', expiresIn: Math.max(0, expiresAt - now()) });
            },
          );
    const offExpiry = scheduleAt(timers, now, expiresAt, () =>
      closeWith(CloseCode.Unauthorized, 'token_expired'),
    );
    return () => {
      offRefresh();
      offExpiry();
    };
  }

  async function subscribe(
    channel: string,
    since: string | undefined,
    rewind: number | undefined,
  ): Promise<void> {
    if (!isValidChannel(channel))
      return sendError('invalid_channel', 'invalid channel name', { channel });
    if (!subscriptions.has(channel) && subscriptions.size >= limits.maxChannelsPerConnection) {
      return sendError('too_many_channels', `at most ${limits.maxChannelsPerConnection} channels`, {
        channel,
      });
    }
    if (state.status !== 'authenticated') return;
    const allowed = await runAuthorize(
      options.authorize,
      state.principal,
      channel,
      'subscribe',
      logger,
    );
    if (isClosed()) return;
    subscriptions.get(channel)?.();
    subscriptions.delete(channel);
    if (!allowed) return sendError('forbidden', 'not allowed to subscribe', { channel });

    const subscription = hub.subscribe({
      starts: [{ channel, since, rewind: Math.min(rewind ?? 0, limits.maxRewind) }],
      subscriber: {
        deliver: v2 ? deliverLine : send,
        replay: v2 ? (event) => sendReplay(event.wsLine) : sendReplay,
        gap: (_channel, reason) => sendFrame({ type: 'gap', channel, reason }),
        fail: () => end('restart'),
      },
      pacer,
      page,
    });
    // Before anything of the channel: the hub gives the subscriber nothing until it returns.
    sendFrame({ type: 'subscribed', channel, position: subscription.position });
    subscriptions.set(channel, subscription.leave);
  }

  async function publish(
    ref: string,
    channel: string,
    event: string,
    data: unknown,
  ): Promise<void> {
    if (!isValidEventType(event)) return sendError('bad_frame', 'invalid event type', { ref });
    if (!bucket.take()) {
      ctx.logLimit('publish rate limited', who());
      return sendError('rate_limited', 'too many publishes', { ref });
    }
    if (!isValidChannel(channel))
      return sendError('invalid_channel', 'invalid channel name', { ref });
    if (state.status !== 'authenticated') return;
    const { principal } = state;
    const allowed = await runAuthorize(options.authorize, principal, channel, 'publish', logger);
    if (isClosed()) return;
    if (!allowed) return sendError('forbidden', 'not allowed to publish', { ref });
    const dataJson = serializeData(data);
    if (dataJson === undefined) return sendError('bad_json', 'data has no JSON form', { ref });
    if (exceedsBytes(dataJson, limits.maxDataBytes)) {
      return sendError('too_large', 'data is too large', { ref });
    }
    if (ctx.isClosing()) return sendError('shutting_down', 'the server is closing', { ref });
    let id: string;
    try {
      id = await ctx.publish({ channel, event, dataJson, data }, principal, 'websocket');
    } catch {
      // The engine could not store it (ctx.publish logged why): the client may send it again.
      return sendError('unavailable', 'the event could not be stored', { ref });
    }
    sendFrame({ type: 'ack', ref, id });
  }
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
