import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorFrame, ServerFrame } from '@tidewire/core/protocol';
import { authenticateRequest, runAuthorize } from './auth.js';
import { type EndMode, principalKey } from './connections.js';
import type { ServerContext } from './context.js';
import {
  encodeSseBlocks,
  type SsePiece,
  sseFrame,
  ssePieceBytes,
  ssePosition,
} from './encoding/sse-blocks.js';
import { TickBatch } from './encoding/tick-batch.js';
import { type HttpFailure, sendFailure } from './http-response.js';
import { isValidChannel } from './limits.js';
import { replayPageLimit } from './replay-cursor.js';
import { createReplayPacer } from './replay-pacer.js';
import { scheduleAt } from './timers.js';

/** A channel of the stream and the position it resumes from. */
interface RequestedChannel {
  channel: string;
  since: string | undefined;
  /** Without `since`: how many of the newest events to replay first. */
  rewind?: number;
}

const PING = Buffer.from(': ping\n\n');

const sseHeaders = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};
/** HTTP/1.1 only: HTTP/2 forbids connection-specific headers, and keeps streams open anyway. */
const keepAlive = { Connection: 'keep-alive' };

/** The channels of a stream request, and the `Last-Event-ID` they fall back on. */
interface RequestedStream {
  channels: RequestedChannel[];
  /** The non-empty `Last-Event-ID`: the position of every channel without one of its own. */
  lastEventId: string | undefined;
}

/**
 * Parses `?channel=a&channel=b@<position>&channel=c~<count>` plus `Last-Event-ID`. Repeated
 * channels keep their last position or rewind; a rewind is cut to `maxRewind`.
 */
export function parseSseChannels(
  url: URL,
  lastEventId: string | undefined,
  maxChannels: number,
  maxRewind = Number.POSITIVE_INFINITY,
): ({ ok: true } & RequestedStream) | { ok: false; failure: HttpFailure } {
  const params = url.searchParams.getAll('channel');
  if (params.length === 0) {
    return { ok: false, failure: badRequest('bad_request', 'at least one channel is required') };
  }
  const byName = new Map<string, { since?: string; rewind?: number }>();
  for (const param of params) {
    const at = param.search(/[@~]/);
    const channel = at === -1 ? param : param.slice(0, at);
    const value = at === -1 ? undefined : param.slice(at + 1);
    if (!isValidChannel(channel)) {
      return { ok: false, failure: badRequest('invalid_channel', 'invalid channel name') };
    }
    if (value === '') {
      return { ok: false, failure: badRequest('bad_request', `empty position for ${channel}`) };
    }
    if (value === undefined) {
      if (!byName.has(channel)) byName.set(channel, {});
    } else if (param[at] === '@') {
      byName.set(channel, { since: value });
    } else {
      const count = /^\d{1,9}$/.test(value) ? Number(value) : undefined;
      if (count === undefined) {
        return {
          ok: false,
          failure: badRequest('bad_request', `rewind for ${channel} must be a whole number`),
        };
      }
      byName.set(channel, { rewind: Math.min(count, maxRewind) });
    }
  }
  if (byName.size > maxChannels) {
    return {
      ok: false,
      failure: badRequest('too_many_channels', `at most ${maxChannels} channels per stream`),
    };
  }
  const fallback = lastEventId === '' ? undefined : lastEventId;
  // Last-Event-ID is a position: it wins over a rewind, like any position.
  const channels = [...byName].map(([channel, { since, rewind }]) => ({
    channel,
    since: since ?? fallback,
    ...(rewind ? { rewind } : {}),
  }));
  return { ok: true, channels, lastEventId: fallback };
}

/** Serves `GET {path}/sse`. Origin and method were checked by the router. */
export async function handleSse<P>(
  ctx: ServerContext<P>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  const { options } = ctx;
  const lastEventId = req.headers['last-event-id'];
  const parsed = parseSseChannels(
    url,
    Array.isArray(lastEventId) ? lastEventId[0] : lastEventId,
    options.limits.maxChannelsPerConnection,
    options.limits.maxRewind,
  );
  if (!parsed.ok) return sendFailure(res, parsed.failure, headers);

  const auth = await authenticateRequest(options, req);
  if (!auth.ok) return sendFailure(res, auth.failure, headers);
  const verdicts = await Promise.all(
    parsed.channels.map((c) =>
      runAuthorize(options.authorize, auth.principal, c.channel, 'subscribe', options.logger),
    ),
  );
  if (res.destroyed || res.writableEnded) return;
  if (ctx.isClosing()) {
    return sendFailure(
      res,
      { status: 503, code: 'shutting_down', message: 'the server is closing' },
      headers,
    );
  }
  const key = principalKey(auth.principal);
  const release =
    key === undefined
      ? () => {}
      : ctx.connections.claim(key, options.limits.maxConnectionsPerPrincipal);
  // Who the stream is for in the logs of the limits it hits: its principal, else its address.
  const who = key ?? req.socket.remoteAddress ?? 'unknown';
  if (release === undefined) {
    ctx.logLimit('connection limit per principal reached', who, {
      maxConnectionsPerPrincipal: options.limits.maxConnectionsPerPrincipal,
    });
    return sendFailure(
      res,
      {
        status: 429,
        code: 'rate_limited',
        message: `at most ${options.limits.maxConnectionsPerPrincipal} connections per principal`,
        headers: { 'Retry-After': '5' },
      },
      headers,
    );
  }
  res.once('close', release);
  const allowed = parsed.channels.filter((_, i) => verdicts[i]);
  const refused = parsed.channels.filter((_, i) => !verdicts[i]);
  const stream = { channels: allowed, lastEventId: parsed.lastEventId };
  openStream(ctx, res, headers, stream, refused, auth.expiresAt, who);
}

/** Subscribes the stream to its channels and writes its head, in one synchronous step. */
function openStream<P>(
  ctx: ServerContext<P>,
  res: ServerResponse,
  headers: Record<string, string>,
  stream: RequestedStream,
  refused: RequestedChannel[],
  expiresAt: number | undefined,
  who: string,
): void {
  const { options, hub } = ctx;
  const allowed = stream.channels;
  const { timers, now, limits } = options;
  const limit = limits.sendBufferBytes;
  const page = replayPageLimit(limit);
  let open = true;
  let stalled = false;

  // The frames of one tick share as few blocks as the size cap allows, and go out
  // as one write (one system call per stream and tick).
  const batch = new TickBatch<SsePiece>(encodeSseBlocks, (chunk) => {
    if (!res.destroyed && !res.writableEnded) pacer.write(chunk);
  });
  const pacer = createReplayPacer({
    output: res,
    pending: () => batch.bytes,
    budgetBytes: limit,
    pageBytes: page.maxBytes,
    timers,
    now,
    writeTimeoutMs: limits.writeTimeoutMs,
    replayBytesPerSecond: limits.replayBytesPerSecond,
    onWriteTimeout: () => {
      ctx.logLimit('slow SSE consumer dropped', who, { writeTimeoutMs: limits.writeTimeoutMs });
      end('abort');
    },
  });
  /** Queues a frame that the send buffer bounds: past it the stream is dropped. */
  const write = (piece: SsePiece): void => {
    if (!open || stalled) return;
    batch.push(piece, ssePieceBytes(piece));
    const buffered = res.writableLength + batch.bytes;
    if (buffered > limit) {
      ctx.logLimit('slow SSE consumer dropped', who, { buffered });
      end('abort');
    }
  };
  /** Queues a page of the replay, which the pacer sends only when it fits. */
  const writeReplay = (piece: SsePiece): void => {
    if (open && !stalled) batch.push(piece, ssePieceBytes(piece));
  };
  const frame = (value: ServerFrame, id?: string): SsePiece => sseFrame(JSON.stringify(value), id);

  const disposers: Array<() => void> = [() => pacer.dispose()];
  const cleanup = (): void => {
    open = false;
    for (const dispose of disposers.splice(0)) dispose();
  };
  const end = (mode: EndMode): void => {
    if (!open) return;
    cleanup();
    if (mode === 'abort') {
      batch.discard();
      res.destroy();
    } else {
      // 'graceful' and 'restart' alike: the client reconnects and resumes.
      batch.flush();
      res.end();
    }
  };
  const expire = (): void => {
    write(frame({ type: 'error', code: 'token_expired', message: 'the credential expired' }));
    end('graceful');
  };

  const http1 = (res.req?.httpVersionMajor ?? 1) < 2;
  res.writeHead(200, { ...headers, ...sseHeaders, ...(http1 ? keepAlive : {}) });
  res.socket?.setNoDelay(true);
  res.flushHeaders();
  res.on('close', cleanup);
  res.on('error', cleanup);
  const stall = (): void => {
    stalled = true;
    pacer.dispose();
  };
  disposers.push(ctx.connections.add({ transport: 'sse', end, expire, stall }));

  // One subscription for all the channels: the stream is one sequence in seq order, replay
  // and live alike, so that its last event id is a resume position for every channel.
  const subscription = hub.subscribe({
    starts: allowed,
    subscriber: {
      deliver: write,
      replay: writeReplay,
      gap: (channel, reason) => writeReplay(frame({ type: 'gap', channel, reason })),
      // The opening ends at the head, so that the stream's last id resumes every channel.
      reached: (position) => writeReplay(ssePosition(position)),
      fail: () => end('restart'),
    },
    pacer,
    page,
  });
  disposers.push(subscription.leave);
  const { position } = subscription;
  const head: SsePiece[] = [Buffer.from(`retry: ${options.retryMs}\n\n`), PING];
  // The first block carries an id at once: where the channels that follow
  // Last-Event-ID start (the head position when there is none). A plain
  // EventSource cut before the first event then still resumes from there.
  head.push(
    frame(
      {
        type: 'welcome',
        epoch: hub.epoch,
        heartbeat: options.heartbeatMs,
        ...(expiresAt === undefined ? {} : { expiresIn: Math.max(0, expiresAt - now()) }),
      },
      startPosition(stream.lastEventId, position),
    ),
  );
  for (const { channel } of allowed) head.push(frame({ type: 'subscribed', channel, position }));
  for (const { channel } of refused) {
    const error: ErrorFrame = {
      type: 'error',
      code: 'forbidden',
      message: 'not allowed to subscribe',
      channel,
    };
    head.push(frame(error));
  }
  for (const piece of head) write(piece);

  const heartbeat = timers.setInterval(() => {
    write(PING);
    pacer.poke();
  }, options.heartbeatMs);
  disposers.push(() => timers.clearInterval(heartbeat));
  if (expiresAt !== undefined) {
    disposers.push(scheduleAt(timers, now, expiresAt, expire));
  }
}

/**
 * The id of the stream's first block: the request's `Last-Event-ID` when it can go
 * back on an `id:` line as it came (printable ASCII, as every position is), else
 * the head position.
 */
function startPosition(lastEventId: string | undefined, position: string): string {
  return lastEventId !== undefined && /^[\x20-\x7e]+$/.test(lastEventId) ? lastEventId : position;
}

function badRequest(code: HttpFailure['code'], message: string): HttpFailure {
  return { status: 400, code, message };
}
