import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { DEFAULT_EVENT_TYPE } from '@tidewire/core/protocol';
import { authenticateRequest, runAuthorize } from './auth.js';
import type { ServerContext } from './context.js';
import { type HttpFailure, sendFailure, sendJson } from './http-response.js';
import {
  createTokenBucket,
  exceedsBytes,
  isValidChannel,
  isValidEventType,
  serializeData,
  type TokenBucket,
} from './limits.js';

/** The publish rate is limited per TCP connection, as on WebSocket. */
export type BucketsBySocket = WeakMap<Socket, TokenBucket>;

/** Serves `POST {path}/publish`. Origin and method were checked by the router. */
export async function handlePublish<P>(
  ctx: ServerContext<P>,
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
  buckets: BucketsBySocket,
): Promise<void> {
  const { options } = ctx;
  const fail = (failure: HttpFailure): void => sendFailure(res, failure, headers);

  const contentType = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    req.resume();
    return fail({
      status: 415,
      code: 'unsupported_media_type',
      message: 'Content-Type must be application/json',
    });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > options.limits.maxBodyBytes) return tooLarge(res, headers);

  const auth = await authenticateRequest(options, req);
  if (!auth.ok) {
    req.resume();
    return fail(auth.failure);
  }

  const body = await readBody(req, options.limits.maxBodyBytes);
  if (body === 'too_large') return tooLarge(res, headers);
  if (body === 'aborted') return;

  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return fail({ status: 400, code: 'bad_json', message: 'the body is not valid JSON' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail({ status: 400, code: 'bad_request', message: 'the body must be a JSON object' });
  }
  const { channel, event = DEFAULT_EVENT_TYPE } = parsed as Record<string, unknown>;
  if (typeof channel !== 'string') {
    return fail({ status: 400, code: 'bad_request', message: 'channel must be a string' });
  }
  if (!isValidChannel(channel)) {
    return fail({ status: 400, code: 'invalid_channel', message: 'invalid channel name' });
  }
  if (!isValidEventType(event)) {
    return fail({ status: 400, code: 'bad_request', message: 'invalid event type' });
  }
  if (!('data' in parsed)) {
    return fail({ status: 400, code: 'bad_request', message: 'data is required' });
  }
  const { data } = parsed as { data: unknown };

  const socket = req.socket;
  let bucket = buckets.get(socket);
  if (bucket === undefined) {
    bucket = createTokenBucket({ ...options.limits.publishRate, now: options.now });
    buckets.set(socket, bucket);
  }
  if (!bucket.take()) {
    const seconds = Math.max(1, Math.ceil(bucket.waitMs() / 1000));
    return fail({
      status: 429,
      code: 'rate_limited',
      message: 'too many publishes',
      headers: { 'Retry-After': String(seconds) },
    });
  }
  const allowed = await runAuthorize(
    options.authorize,
    auth.principal,
    channel,
    'publish',
    options.logger,
  );
  if (!allowed) {
    return fail({ status: 403, code: 'forbidden', message: 'not allowed to publish' });
  }
  const dataJson = serializeData(data) as string;
  if (exceedsBytes(dataJson, options.limits.maxDataBytes)) return tooLarge(res, headers);
  if (ctx.isClosing()) {
    return fail({ status: 503, code: 'shutting_down', message: 'the server is closing' });
  }
  const id = ctx.publish({ channel, event, dataJson, data }, auth.principal, 'http');
  sendJson(res, 200, { id }, headers);
}

function tooLarge(res: ServerResponse, headers: Record<string, string>): void {
  // The rest of the body is not read: close the connection after answering.
  res.shouldKeepAlive = false;
  sendFailure(res, { status: 413, code: 'too_large', message: 'the body is too large' }, headers);
}

/** Reads the body up to `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string | 'too_large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', () => resolve('aborted'));
    req.once('close', () => resolve('aborted'));
  });
}
