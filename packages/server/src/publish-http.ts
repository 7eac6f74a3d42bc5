import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_EVENT_TYPE } from '@tidewire/core/protocol';
import { authenticateRequest, runAuthorize } from './auth.js';
import { principalKey } from './connections.js';
import type { ServerContext } from './context.js';
import { type HttpFailure, sendFailure, sendJson } from './http-response.js';
import { exceedsJsonDepth } from './json-depth.js';
import {
  exceedsBytes,
  isValidChannel,
  isValidEventType,
  publisherBucket,
  serializeData,
} from './limits.js';
import type { Timers } from './timers.js';

/**
 * Serves `POST {path}/publish`. Origin and method were checked by the router.
 *
 * Everything that can be decided from the headers (media type, declared size, credential,
 * publish rate) is decided before the body is read; the body of a request refused then is
 * never read, and its connection is closed after the answer (see `sendJson`).
 */
export async function handlePublish<P>(
  ctx: ServerContext<P>,
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
): Promise<void> {
  const { options } = ctx;
  const { limits } = options;
  const fail = (failure: HttpFailure): void => sendFailure(res, failure, headers);

  const contentType = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    return fail({
      status: 415,
      code: 'unsupported_media_type',
      message: 'Content-Type must be application/json',
    });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limits.maxBodyBytes) return tooLarge(res, headers);

  const auth = await authenticateRequest(options, req);
  if (!auth.ok) return fail(auth.failure);

  const bucket = publisherBucket(options, req, () => auth.principal);
  if (!bucket.take()) {
    ctx.logLimit(
      'publish rate limited',
      principalKey(auth.principal) ?? req.socket.remoteAddress ?? 'unknown',
    );
    const waitMs = bucket.waitMs();
    // No Retry-After when no token will ever come (`perSecond: 0`).
    const seconds = Number.isFinite(waitMs) ? Math.max(1, Math.ceil(waitMs / 1000)) : undefined;
    return fail({
      status: 429,
      code: 'rate_limited',
      message: 'too many publishes',
      headers: seconds === undefined ? {} : { 'Retry-After': String(seconds) },
    });
  }

  const body = await readBody(req, {
    maxBytes: limits.maxBodyBytes,
    timeoutMs: limits.bodyTimeoutMs,
    timers: options.timers,
  });
  if (body.status === 'too_large') return tooLarge(res, headers);
  if (body.status === 'timeout') {
    // No protocol code: a client may send again, as after a 5xx.
    return sendJson(res, 408, { message: 'the body took too long to arrive' }, headers);
  }
  if (body.status === 'aborted') return;

  if (exceedsJsonDepth(body.text, limits.maxJsonDepth)) {
    return fail({
      status: 400,
      code: 'bad_json',
      message: `the body nests deeper than ${limits.maxJsonDepth} levels`,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.text);
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
  const dataJson = serializeData(data);
  if (dataJson === undefined) {
    return fail({ status: 400, code: 'bad_json', message: 'data has no JSON form' });
  }
  if (exceedsBytes(dataJson, limits.maxDataBytes)) return tooLarge(res, headers);
  if (ctx.isClosing()) {
    return fail({ status: 503, code: 'shutting_down', message: 'the server is closing' });
  }
  let id: string;
  try {
    id = await ctx.publish({ channel, event, dataJson, data }, auth.principal, 'http');
  } catch {
    // The engine could not store it (ctx.publish logged why): the client may send it again.
    return fail({
      status: 503,
      code: 'unavailable',
      message: 'the event could not be stored',
      headers: { 'Retry-After': '1' },
    });
  }
  sendJson(res, 200, { id }, headers);
}

function tooLarge(res: ServerResponse, headers: Record<string, string>): void {
  sendFailure(res, { status: 413, code: 'too_large', message: 'the body is too large' }, headers);
}

/** How reading a body ended. */
export type BodyOutcome =
  | { status: 'read'; text: string }
  | { status: 'too_large' }
  | { status: 'timeout' }
  | { status: 'aborted' };

/**
 * Reads the body, up to `maxBytes` and within `timeoutMs` in all (a body trickled byte by byte
 * is cut off too). On `too_large` and `timeout` the request is left paused: nothing more is read.
 */
export function readBody(
  req: IncomingMessage,
  options: { maxBytes: number; timeoutMs: number; timers: Timers },
): Promise<BodyOutcome> {
  const { maxBytes, timeoutMs, timers } = options;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (outcome: BodyOutcome): void => {
      timers.clearTimeout(timer);
      req.off('data', onData);
      resolve(outcome);
    };
    const stop = (outcome: BodyOutcome): void => {
      req.pause();
      finish(outcome);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) stop({ status: 'too_large' });
      else chunks.push(chunk);
    };
    const timer = timers.setTimeout(() => stop({ status: 'timeout' }), timeoutMs);
    req.on('data', onData);
    req.once('end', () => finish({ status: 'read', text: Buffer.concat(chunks).toString('utf8') }));
    req.once('error', () => finish({ status: 'aborted' }));
    req.once('close', () => finish({ status: 'aborted' }));
  });
}
