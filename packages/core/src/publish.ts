import type { Environment } from './environment';
import {
  type ErrorCode,
  httpError,
  isTidewireError,
  PublishError,
  type TidewireError,
} from './errors';
import { bearer } from './links';
import type { TokenSource } from './token';

/** Options of `client.publish`. */
export interface PublishOptions {
  /** The event type. @default 'message' */
  event?: string;
}

/** What a publish resolves to: the id the server gave the event. */
export interface PublishResult {
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
}

interface Pending {
  frame: string;
  sent: boolean;
  timer: unknown;
  resolve(result: PublishResult): void;
  reject(error: TidewireError): void;
}

/** @internal */
export function createOutbox(
  env: Environment,
  send: (data: string) => boolean,
  timeout: number,
  max: number,
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
      if (pending.size >= max) return Promise.reject(new PublishError('queue_full'));
      return new Promise((resolve, reject) => {
        const ref = `${++seq}`;
        const frame = JSON.stringify({ type: 'publish', ref, channel, event, data });
        const timer = env.setTimeout(
          () => settle(ref, new PublishError('publish_timeout')),
          timeout,
        );
        pending.set(ref, { frame, sent: send(frame), timer, resolve, reject });
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
  };
}

/** @internal */
export interface HttpPublishContext {
  url: string;
  env: Environment;
  tokens: TokenSource;
  fetch: typeof globalThis.fetch;
  credentials: RequestCredentials;
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
  const abort = (code: ErrorCode) => {
    why = code;
    ac.abort();
  };
  const stop = () => abort('client_closed');
  const timer = c.env.setTimeout(() => abort('publish_timeout'), c.timeout);
  c.aborts.add(stop);
  try {
    for (let attempt = 0; ; attempt++) {
      const token = await c.tokens.get({ reason: 'publish', attempt }, attempt > 0);
      const res = await c.fetch(`${c.url}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(token) },
        body: JSON.stringify({ channel, event, data }),
        credentials: c.credentials,
        signal: ac.signal,
      });
      const body = (await res.json().catch(() => ({}))) as { id?: string; code?: ErrorCode };
      if (res.ok) return { id: body.id ?? '' };
      if (res.status !== 401 || attempt) {
        throw new PublishError(httpError(res.status, body.code).code, {
          status: res.status,
          channel,
        });
      }
    }
  } catch (cause) {
    if (isTidewireError(cause)) throw cause;
    throw new PublishError(ac.signal.aborted ? why : 'network', {
      cause,
      channel,
    });
  } finally {
    c.env.clearTimeout(timer);
    c.aborts.delete(stop);
  }
}
