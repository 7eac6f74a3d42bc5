import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorFrame, ServerFrame } from '@tidewire/core/protocol';
import { authenticateRequest, runAuthorize } from './auth.js';
import { type EndMode, principalKey } from './connections.js';
import type { ServerContext } from './context.js';
import type { OutgoingEvent } from './encoding/outgoing-event.js';
import {
  encodeSseBlocks,
  type SsePiece,
  sseFrame,
  ssePieceBytes,
  ssePosition,
} from './encoding/sse-blocks.js';
import { encodeSseNamed, type SseNamedPiece, sseNamedBytes } from './encoding/sse-named.js';
import { TickBatch } from './encoding/tick-batch.js';
import { type HttpFailure, sendFailure, sendJson } from './http-response.js';
import { isValidChannel } from './limits.js';
import { readBody } from './publish-http.js';
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

/** A piece of the stream in either version's form. */
type Piece = SsePiece | SseNamedPiece;

const sseHeaders = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};
/** HTTP/1.1 only: HTTP/2 forbids connection-specific headers, and keeps streams open anyway. */
const keepAlive = { Connection: 'keep-alive' };

/**
 * The most bytes of a `POST {path}/sse` body (its channel set): room for thousands of channels
 * with their positions; larger bodies are refused with `413` `too_large`.
 */
export const MAX_SSE_BODY_BYTES = 1024 * 1024;

/** The longest a poll (`mode=poll`) is held without an event, in ms (less with a short heartbeat). */
export const POLL_HOLD_MS = 25_000;

/** How the stream is written: protocol version, event form, and streaming or one poll. */
export interface SseMode {
  /** 1 without `v`, 2 with `v=2`. */
  version: 1 | 2;
  /** Version 2 with `batch=1`: form E (runs of a channel's events in one block). */
  batch: boolean;
  /** `mode=poll`: the response ends after one batch (see PROTOCOL.md). */
  poll: boolean;
  /** `wait` (poll only): the most milliseconds to hold the poll without an event. */
  wait: number | undefined;
}

/** The channels of a stream request, and the `Last-Event-ID` they fall back on. */
interface RequestedStream extends SseMode {
  channels: RequestedChannel[];
  /** The non-empty `Last-Event-ID`: the position of every channel without one of its own. */
  lastEventId: string | undefined;
}

/**
 * Parses the parameters of a stream request, from its query and, for a POST, its body
 * (`channel=a&channel=b@<position>&channel=c~<count>&v=2&batch=1&mode=poll&wait=0`), plus
 * `Last-Event-ID`. Repeated channels keep their last position or rewind; a rewind is cut to
 * `maxRewind`.
 */
export function parseSseChannels(
  params: URLSearchParams,
  lastEventId: string | undefined,
  maxChannels: number,
  maxRewind = Number.POSITIVE_INFINITY,
): ({ ok: true } & RequestedStream) | { ok: false; failure: HttpFailure } {
  const mode = parseSseMode(params);
  if (typeof mode === 'string') return { ok: false, failure: badRequest('bad_request', mode) };
  const names = params.getAll('channel');
  if (names.length === 0) {
    return { ok: false, failure: badRequest('bad_request', 'at least one channel is required') };
  }
  const byName = new Map<string, { since?: string; rewind?: number }>();
  const tooMany = (): { ok: false; failure: HttpFailure } => ({
    ok: false,
    failure: badRequest('too_many_channels', `at most ${maxChannels} channels per stream`),
  });
  for (const param of names) {
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
    // Stop early: a huge body must not cost a huge map.
    if (byName.size > maxChannels) return tooMany();
  }
  const fallback = lastEventId === '' ? undefined : lastEventId;
  // Last-Event-ID is a position: it wins over a rewind, like any position.
  const channels = [...byName].map(([channel, { since, rewind }]) => ({
    channel,
    since: since ?? fallback,
    ...(rewind ? { rewind } : {}),
  }));
  return { ok: true, channels, lastEventId: fallback, ...mode };
}

/** The `v`, `batch`, `mode` and `wait` parameters, or what is wrong with them. */
function parseSseMode(params: URLSearchParams): SseMode | string {
  const v = params.get('v') ?? '1';
  if (v !== '1' && v !== '2') return `unsupported protocol version ${v.slice(0, 16)}`;
  const mode = params.get('mode');
  if (mode !== null && mode !== 'poll' && mode !== 'stream') return 'mode must be poll or stream';
  const wait = params.get('wait');
  if (wait !== null && !/^\d{1,9}$/.test(wait)) return 'wait must be a whole number of ms';
  return {
    version: v === '2' ? 2 : 1,
    batch: v === '2' && params.get('batch') === '1',
    poll: mode === 'poll',
    wait: wait === null ? undefined : Number(wait),
  };
}

/**
 * Serves `GET` and `POST {path}/sse`. Origin and method were checked by the router. A POST
 * carries the parameters in its body (form-encoded, whatever its `Content-Type`), so that a
 * channel set of any size fits; they add to those of the query.
 */
export async function handleSse<P>(
  ctx: ServerContext<P>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  const { options } = ctx;
  const params = url.searchParams;
  if (req.method === 'POST') {
    const declared = Number(req.headers['content-length'] ?? 0);
    const body =
      declared > MAX_SSE_BODY_BYTES
        ? ({ status: 'too_large' } as const)
        : await readBody(req, {
            maxBytes: MAX_SSE_BODY_BYTES,
            timeoutMs: options.limits.bodyTimeoutMs,
            timers: options.timers,
          });
    if (body.status === 'aborted') return;
    if (body.status === 'timeout') {
      return sendJson(res, 408, { message: 'the body took too long to arrive' }, headers);
    }
    if (body.status === 'too_large') {
      return sendFailure(
        res,
        { status: 413, code: 'too_large', message: `the body is over ${MAX_SSE_BODY_BYTES} bytes` },
        headers,
      );
    }
    for (const [name, value] of new URLSearchParams(body.text)) params.append(name, value);
  }
  const lastEventId = req.headers['last-event-id'];
  const parsed = parseSseChannels(
    params,
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
  const stream = { ...parsed, channels: allowed };
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
  const { version, batch: joined, poll } = stream;
  const encode: (pieces: readonly Piece[]) => Buffer =
    version === 2
      ? (pieces) => encodeSseNamed(pieces as SseNamedPiece[], joined)
      : (pieces) => encodeSseBlocks(pieces as SsePiece[]);
  const bytes: (piece: Piece) => number =
    version === 2
      ? (piece) => sseNamedBytes(piece as SseNamedPiece, joined)
      : (piece) => ssePieceBytes(piece as SsePiece);

  // The frames of one tick share as few blocks as the size cap allows, and go out
  // as one write (one system call per stream and tick).
  const batch = new TickBatch<Piece>(encode, (chunk) => {
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
  const write = (piece: Piece): void => {
    if (!open || stalled) return;
    batch.push(piece, bytes(piece));
    const buffered = res.writableLength + batch.bytes;
    if (buffered > limit) {
      ctx.logLimit('slow SSE consumer dropped', who, { buffered });
      end('abort');
    }
  };
  /** Queues a page of the replay, which the pacer sends only when it fits. */
  const writeReplay = (piece: Piece): void => {
    if (open && !stalled) batch.push(piece, bytes(piece));
  };
  /** A frame that is not an event: a `data:` line (v1), or an `@<type>` event (v2). */
  const frame = (value: ServerFrame, id?: string): Piece => {
    if (version === 1) return sseFrame(JSON.stringify(value), id);
    const { type, ...fields } = value;
    return { name: `@${type}`, json: JSON.stringify(fields), id };
  };
  /** The position the stream has reached, without a frame. */
  const reachedPiece = (id: string): Piece => (version === 1 ? ssePosition(id) : { id });

  // A poll ends at the end of the first turn of the event loop that writes an event, once
  // the opening (replay included) is over; with `wait=0` right after the opening; and after
  // its hold otherwise. The client then asks again from its new positions.
  let replaying = allowed.some((c) => c.since !== undefined);
  /** The id of the last event written (not the event: it may be large). */
  let lastId: string | undefined;
  let ending = false;
  const finish = (): void => {
    if (ending) return;
    ending = true;
    setImmediate(() => end('graceful'));
  };
  const wrote = (event: OutgoingEvent): void => {
    lastId = event.stored.id;
    if (poll && !replaying) finish();
  };

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
      deliver(event) {
        write(event);
        wrote(event);
      },
      replay(event) {
        writeReplay(event);
        wrote(event);
      },
      gap: (channel, reason) => writeReplay(frame({ type: 'gap', channel, reason })),
      // The opening ends at the head, so that the stream's last id resumes every channel.
      reached(position) {
        if (position !== lastId) writeReplay(reachedPiece(position));
        replaying = false;
        if (poll && (lastId !== undefined || stream.wait === 0)) finish();
      },
      fail: () => end('restart'),
    },
    pacer,
    page,
  });
  disposers.push(subscription.leave);
  const { position } = subscription;
  const head: Piece[] = [Buffer.from(`retry: ${options.retryMs}\n\n`), PING];
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
  if (poll) {
    if (!replaying && stream.wait === 0) finish();
    const hold = Math.min(stream.wait ?? POLL_HOLD_MS, POLL_HOLD_MS, 2 * options.heartbeatMs);
    const timer = timers.setTimeout(finish, hold);
    disposers.push(() => timers.clearTimeout(timer));
  }

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
