import { DEV } from './dev';
import type { Environment } from './environment';
import {
  type ErrorCode,
  isTidewireError,
  PublishError,
  statusCode,
  type TidewireError,
} from './errors';
import { bearer } from './links';
import type { TokenSource } from './token';
import { parseRetryAfter } from './transports/retry-after';

/** Options of `client.publish`. */
export interface PublishOptions {
  /** The event type. @default 'message' */
  event?: string;
}

/** What a publish resolves to: the id the server gave the event. */
export interface PublishResult {
  /** The id (position) the server gave the event. */
  id: string;
}

/** The WebSocket publish queue: sends when open, waits for `ack`, bounded. @internal */
export interface Outbox {
  add(channel: string, data: unknown, event: string | undefined): Promise<PublishResult>;
  /** The socket opened: send everything not sent yet. */
  flush(): void;
  /** The socket was lost: publishes sent but not acknowledged can no longer be confirmed. */
  lost(): void;
  settle(ref: string, error?: TidewireError, id?: string): void;
  /** Rejects everything. */
  fail(error: TidewireError): void;
  /**
   * A channel left WebSocket (a fallback move): its publishes not sent yet go through `send`
   * instead, settling the same promises.
   */
  divert(
    channel: string,
    send: (channel: string, data: unknown, event: string | undefined) => Promise<PublishResult>,
  ): void;
}

interface Pending {
  channel: string;
  data: unknown;
  event: string | undefined;
  frame: string;
  sent: boolean;
  timer: unknown;
  resolve(result: PublishResult): void;
  reject(error: TidewireError): void;
}

/**
 * `send` sends a frame on the socket (false when it is not open); `timeout` bounds the wait for
 * each acknowledgement.
 * @internal
 */
export function createOutbox(
  env: Environment,
  send: (data: string) => boolean,
  timeout: number,
  maxQueue: number,
): Outbox {
  const pending = new Map<string, Pending>();
  let seq = 0;
  const settle: Outbox['settle'] = (ref, error, id = '') => {
    const p = pending.get(ref);
    if (!p) return;
    pending.delete(ref);
    env.clearTimeout(p.timer);
    if (error) p.reject(error);
    else p.resolve({ id });
  };
  return {
    add(channel, data, event) {
      if (pending.size >= maxQueue) return Promise.reject(new PublishError('queue_full'));
      return new Promise((resolve, reject) => {
        const ref = `${++seq}`;
        const frame = JSON.stringify({ type: 'publish', ref, channel, event, data });
        pending.set(ref, {
          channel,
          data,
          event,
          frame,
          sent: send(frame),
          timer: env.setTimeout(() => settle(ref, new PublishError('publish_timeout')), timeout),
          resolve,
          reject,
        });
      });
    },
    flush() {
      for (const p of pending.values()) p.sent ||= send(p.frame);
    },
    lost() {
      for (const [ref, p] of pending) if (p.sent) settle(ref, new PublishError('unconfirmed'));
    },
    settle,
    fail(error) {
      for (const ref of pending.keys()) settle(ref, error);
    },
    divert(channel, post) {
      for (const [ref, p] of pending)
        if (p.channel === channel && !p.sent) {
          pending.delete(ref);
          env.clearTimeout(p.timer);
          post(channel, p.data, p.event).then(p.resolve, p.reject);
        }
    },
  };
}

/** @internal */
export interface HttpPublishContext {
  url: string;
  env: Environment;
  tokens: TokenSource;
  fetch: typeof globalThis.fetch;
  credentials: RequestCredentials | undefined;
  timeout: number;
  /** Aborts of publishes in flight, so `close()` can end them. */
  aborts: Set<() => void>;
}

/** `POST {url}/publish`, refreshing the token once after a 401. @internal */
export async function httpPublish(
  c: HttpPublishContext,
  channel: string,
  data: unknown,
  event: string | undefined,
): Promise<PublishResult> {
  const ac = new AbortController();
  let why: ErrorCode = 'publish_timeout';
  const stop = () => {
    why = 'client_closed';
    ac.abort();
  };
  const timer = c.env.setTimeout(() => ac.abort(), c.timeout);
  const post = async (fresh: boolean) =>
    c.fetch(`${c.url}/publish`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...bearer(await c.tokens.get({ reason: 'publish', attempt: +fresh }, fresh)),
      },
      body: JSON.stringify({ channel, event, data }),
      // Undefined leaves fetch's own default, 'same-origin'.
      credentials: c.credentials as RequestCredentials,
      signal: ac.signal,
    });
  c.aborts.add(stop);
  try {
    let res = await post(false);
    if (res.status === 401) res = await post(true);
    const { id = '', code } = await res.json().catch(() => ({}));
    if (res.ok) return { id };
    throw new PublishError(
      code ?? statusCode(res.status),
      { status: res.status, retryAfter: parseRetryAfter(res.headers.get('retry-after')), channel },
      DEV ? `POST ${c.url}/publish` : undefined,
    );
  } catch (cause) {
    throw isTidewireError(cause)
      ? cause
      : new PublishError(ac.signal.aborted ? why : 'network', { cause, channel });
  } finally {
    c.env.clearTimeout(timer);
    c.aborts.delete(stop);
  }
}
