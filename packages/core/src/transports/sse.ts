/**
 * The Server-Sent Events transport: one `fetch` request whose body is read as an event stream,
 * interpreted by the HTML Standard's rules ("Server-sent events", 9.2.6).
 *
 * UTF-8 is decoded with one `TextDecoder` (a BOM is dropped only at the very start; bytes split
 * across chunks decode whole; a chunk that ends on a whole character is decoded without `stream`,
 * which Node does several times faster). CR, LF and CRLF all end a line, and a CR at the end of a
 * chunk ends its line at once. The size of the block being received is bounded while it arrives.
 *
 * Two layers: {@link readSse} reads the stream into blocks of data lines (what the Tidewire client
 * needs: each data line is a frame, and positions travel inside them), and {@link openSse} adds the
 * standard's `event` and `id` interpretation on top (what a plain `EventSource`-like stream needs).
 * An id-only block moves the last event id without dispatching (and `openSse` reports the move
 * through `onLastEventId`).
 * @module
 */
import { DEV } from '../dev';
import { ConnectionError, errorFor, statusCode, type TidewireError } from '../errors';
import { parseRetryAfter } from './retry-after';

/** One dispatched message, per the HTML Standard's event-stream interpretation rules. */
export interface SseMessage {
  /** `event:` field, or "message" when absent. */
  event: string;
  /** The values of the block's `data:` lines, in order; the data buffer is them joined with "\n". */
  lines: string[];
  /**
   * The stream's last event id at dispatch. It persists across blocks and starts as the request's
   * `lastEventId`, as in `EventSource` after a reconnection; "" when never set or reset by an empty `id:`.
   */
  lastEventId: string;
}

/** What {@link openSse} requests. */
export interface SseRequest {
  /** The stream's URL. Never put a credential in it: use `headers`. */
  url: string;
  /**
   * A body to send: the request is then a `POST` (else a `GET`). A string goes as `text/plain`,
   * which a cross-origin request may send without a CORS preflight.
   */
  body?: string | undefined;
  /** The `fetch` to use; it is called without a `this`, so a bare `globalThis.fetch` works. */
  fetch: typeof globalThis.fetch;
  /** Extra request headers (Authorization etc.); Accept: text/event-stream and Cache-Control: no-cache are added. */
  headers?: Record<string, string> | undefined;
  /** Sent as Last-Event-ID when non-empty, encoded as UTF-8 like `EventSource` does. @default '' */
  lastEventId?: string;
  /** fetch credentials mode. @default fetch's own, 'same-origin' */
  credentials?: RequestCredentials | undefined;
  /**
   * Largest accepted message: the length of its block's decoded lines in characters (UTF-16 code
   * units: bytes for ASCII text), one per line break, comment lines not counted. Checked while the
   * block is still arriving, so memory stays bounded; counting characters instead of UTF-8 bytes
   * keeps an encode of every line off the hot path.
   */
  maxMessageBytes: number;
}

/**
 * What {@link openSse} reports. A handler that throws is ignored: the error is swallowed and the
 * stream goes on as if the handler had returned. No handler is called after the closer has run.
 *
 * The stream's last event id (what a reconnection sends as `Last-Event-ID`) arrives two ways: with
 * each message as its `lastEventId`, and through `onLastEventId` when a block without a `data:`
 * line changes it. A caller that follows both always knows the id to resume from.
 */
export interface SseHandlers {
  /** Status 200 with a text/event-stream content type arrived. */
  onOpen(): void;
  /** One dispatched message (a block without a `data:` line is not dispatched). */
  onMessage(message: SseMessage): void;
  /**
   * A block without a `data:` line changed the last event id: `id: 2` followed by an empty line
   * (HTML Standard: the id is set, no event is dispatched), or `""` for an empty `id:` that reset
   * it. Not called when the id is unchanged, nor for a message, which carries its `lastEventId`.
   * Optional: without it, such an id is learnt only from the next message, if one comes.
   */
  onLastEventId?(lastEventId: string): void;
  /** A valid `retry:` field (digits only). */
  onRetry(ms: number): void;
  /** Any bytes arrived (comments and partial lines included): feeds heartbeat watchdogs. */
  onActivity(): void;
  /** Exactly once per stream, unless the caller closed it first (then never). Never throws into the caller. */
  onEnd(error: TidewireError): void;
}

/** What {@link readSse} reports: {@link SseHandlers}' stream events, with blocks instead of messages. */
export interface SseReaderHandlers
  extends Pick<SseHandlers, 'onOpen' | 'onRetry' | 'onActivity' | 'onEnd'> {
  /**
   * A block ended (an empty line): its `data:` values in order (none when it had no `data:` line),
   * and its other fields but `retry` (`event`, `id` or unknown ones), the last value of each. An
   * `id` that contains NUL is ignored, as the standard has it.
   */
  onBlock(data: string[], fields: Readonly<Record<string, string>>): void;
}

/**
 * Opens one stream with `fetch` and reads it into blocks; returns a closer that aborts it
 * (idempotent). A handler that throws is ignored, as in {@link SseHandlers}. It sends no
 * `Last-Event-ID` and ignores `lastEventId`: {@link openSse} adds both.
 */
export function readSse(request: SseRequest, handlers: SseReaderHandlers): () => void {
  const { url, body, fetch, headers, credentials, maxMessageBytes } = request;
  const controller = new AbortController();
  let closed = false;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  // Safe to call again: aborting and cancelling twice do nothing more.
  const close = (): void => {
    closed = true;
    controller.abort();
    reader?.cancel().catch(() => {});
  };
  // A handler by name, so no closure is made per message.
  const emit = <K extends 'onOpen' | 'onBlock' | 'onRetry' | 'onActivity'>(
    k: K,
    ...args: Parameters<NonNullable<SseReaderHandlers[K]>>
  ): void => {
    if (closed) return;
    try {
      (handlers[k] as ((...a: typeof args) => void) | undefined)?.(...args);
    } catch {
      // Handler errors are the caller's: see SseHandlers.
    }
  };
  const end = (reason: TidewireError): void => {
    if (closed) return;
    close();
    try {
      handlers.onEnd(reason);
    } catch {
      // onEnd never throws into the caller.
    }
  };

  // The BOM is dropped here rather than by the decoder, so that a chunk ending on a whole character
  // can be decoded without `stream` (Node's fast path, several times faster than streaming).
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  // The data lines of the block being received, and its other fields.
  let data: string[] = [];
  let fields: Record<string, string> = {};
  // The text being read: what was left of the last chunk, then this chunk.
  let text = '';
  // The character a chunk may start with that belongs to what came before: a BOM at the very
  // start of the stream, an LF after a CR that ended the previous chunk.
  let skip = '\uFEFF';
  let size = 0;

  /**
   * Interprets the line `text[start, end)`. Field and value are cut from the text in place: a
   * `data:` line, most of a Tidewire stream, costs one slice.
   */
  const line = (start: number, end: number): void => {
    if (start === end) {
      emit('onBlock', data, fields);
      data = [];
      fields = {};
      size = 0;
    } else if (text[start] !== ':') {
      size += end - start + 1;
      // A line without a colon is a field name with an empty value.
      const found = text.indexOf(':', start);
      const colon = found < 0 || found > end ? end : found;
      const field = text.slice(start, colon);
      const value = text.slice(colon + (text[colon + 1] === ' ' ? 2 : 1), end);
      if (field === 'data') data.push(value);
      else if (field === 'retry') {
        if (/^\d+$/.test(value)) emit('onRetry', +value);
      } else if (field !== 'id' || !value.includes('\0')) fields[field] = value;
    }
  };

  /** Feeds one chunk; false when the current block grew past the limit. */
  const feed = (bytes: Uint8Array): boolean => {
    // Streaming only when the chunk may end inside a character (or is empty); bytes held back from
    // the previous chunk are consumed either way.
    let chunk = decoder.decode(bytes, { stream: !(bytes.at(-1)! < 128) });
    if (chunk) {
      if (chunk[0] === skip) chunk = chunk.slice(1);
      skip = chunk.endsWith('\r') ? '\n' : '';
    }
    text += chunk;
    // CR is rare: text that has one is rewritten to LF line ends first.
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    let start = 0;
    let end = text.indexOf('\n');
    while (end >= 0) {
      line(start, end);
      if (size > maxMessageBytes) return false;
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    text = text.slice(start);
    return size + text.length <= maxMessageBytes;
  };

  const run = async (): Promise<void> => {
    try {
      // `cache: 'no-store'` rather than a Cache-Control header, which is not CORS-safelisted and
      // would make every cross-origin stream need that header allowed in the preflight.
      const response = await fetch(url, {
        ...(body && { method: 'POST', body }),
        headers: { accept: 'text/event-stream', ...headers },
        // Undefined leaves fetch's own default, 'same-origin'.
        credentials: credentials as RequestCredentials,
        cache: 'no-store',
        signal: controller.signal,
      });
      if (response.status !== 200) {
        // A 400 names what is wrong with the request (`too_many_channels`…); other bodies go unread.
        if (response.status !== 400) response.body?.cancel().catch(close);
        const { code } = response.status === 400 ? await response.json().catch(() => ({})) : {};
        return end(
          errorFor(
            code ?? statusCode(response.status),
            {
              status: response.status,
              retryAfter: parseRetryAfter(response.headers.get('retry-after')),
            },
            // The development build names the request, without the URL's query.
            DEV ? `request to ${url.split('?')[0]}` : undefined,
          ),
        );
      }
      reader = response.body?.getReader();
      // Closed before the response arrived (some fetch implementations ignore that abort).
      if (closed) return close();
      // No header (null) reads as "null": no event stream either.
      const type = response.headers.get('content-type') as string;
      if (!/^\s*text\/event-stream\s*(;|$)/i.test(type)) {
        return end(new ConnectionError('bad_content_type', { cause: type }));
      }
      emit('onOpen');
      while (reader && !closed) {
        const { done, value } = await reader.read();
        if (done || closed) break;
        emit('onActivity');
        if (!closed && !feed(value)) return end(new ConnectionError('too_large'));
      }
      end(new ConnectionError('closed'));
    } catch (error) {
      end(new ConnectionError('network', { cause: error }));
    }
  };
  void run();
  return close;
}

/**
 * Opens one stream with `fetch` and reads it. Returns a closer that aborts it (idempotent).
 *
 * @example
 * const close = openSse(
 *   { url: 'https://api.example.com/tidewire/sse?channel=prices', fetch, headers: { authorization: `Bearer ${token}` } },
 *   {
 *     onOpen: () => console.log('open'),
 *     onMessage: (m) => console.log(m.lastEventId, JSON.parse(m.lines.join('\n'))),
 *     onLastEventId: (id) => console.log('resume from', id),
 *     onRetry: (ms) => (retryMs = ms),
 *     onActivity: () => watchdog.feed(),
 *     onEnd: (end) => console.log('ended', end.kind),
 *   },
 * );
 * close();
 */
export function openSse(request: SseRequest, handlers: SseHandlers): () => void {
  const { lastEventId = '' } = request;
  // The event-stream interpretation state (HTML Standard, 9.2.6).
  let id = lastEventId;
  let idBuffer = id;
  return readSse(
    {
      ...request,
      // A header value is a byte string: send the id's UTF-8 bytes, as EventSource does.
      headers: lastEventId
        ? { ...request.headers, 'last-event-id': unescape(encodeURIComponent(lastEventId)) }
        : request.headers,
    },
    {
      ...handlers,
      onBlock(lines, fields) {
        const event = fields.event || 'message';
        idBuffer = fields.id ?? idBuffer;
        if (lines.length) {
          id = idBuffer;
          handlers.onMessage({ event, lines, lastEventId: id });
        } else if (id !== idBuffer) {
          // Off the per-message path: only a block without data compares ids.
          id = idBuffer;
          handlers.onLastEventId?.(id);
        }
      },
    },
  );
}
