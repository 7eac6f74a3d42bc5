import { TidewireError } from './errors';

/** Options both `createClient` and `openStream` take, as far as they are checked. */
type Checked = Record<string, unknown>;

const MILLISECONDS = ['closeDelay', 'publishTimeout', 'connectTimeout', 'stableAfter'];
const COUNTS = ['maxQueue', 'maxMessageBytes'];
const FUNCTIONS = ['getToken', 'fetch', 'WebSocket', 'retryDelay', 'logger'];
const TRANSPORTS = ['auto', 'sse', 'websocket'];

/** A value for a message: strings quoted, URLs without their query (which may hold a secret). */
const shown = (value: unknown): string =>
  typeof value === 'string' ? `'${value.split('?')[0]}'` : String(value);

const invalid = (option: string, expected: string, value: unknown): TidewireError =>
  new TidewireError('invalid_options', {}, `${option} must be ${expected}, got ${shown(value)}`);

/**
 * Throws `invalid_options` for an option the client cannot work with, naming the option and
 * what it expects, instead of failing later as a `network` error retried in silence.
 * Called by the development build only.
 * @internal
 */
export function checkOptions(options: unknown, where: 'createClient' | 'openStream'): void {
  if (typeof options !== 'object' || options === null) {
    throw new TidewireError(
      'invalid_options',
      {},
      where === 'createClient'
        ? "createClient takes an options object, e.g. createClient({ url: 'https://api.example.com/tidewire' })"
        : 'openStream takes an options object as its second argument, or none',
    );
  }
  const given = options as Checked;
  if (where === 'createClient') checkBaseUrl(given.url);
  if (given.transport !== undefined && !TRANSPORTS.includes(given.transport as string)) {
    throw invalid('transport', "'auto', 'sse' or 'websocket'", given.transport);
  }
  for (const name of MILLISECONDS) {
    const value = given[name];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value < 2 ** 31)) {
      throw invalid(name, 'a number of milliseconds from 0 to 2147483647', value);
    }
  }
  for (const name of COUNTS) {
    const value = given[name];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) > 0)) {
      throw invalid(name, 'a whole number above 0', value);
    }
  }
  for (const name of FUNCTIONS) {
    const value = given[name];
    // Never the value itself: a token given where getToken was expected must not be shown.
    if (value !== undefined && typeof value !== 'function') {
      throw new TidewireError(
        'invalid_options',
        {},
        `${name} must be a function, got ${typeof value}`,
      );
    }
  }
}

/**
 * Throws `invalid_options` unless `url` is a URL string whose scheme, when it has one, is one of
 * `schemes`. `where` names the call in the message.
 * @internal
 */
export function checkUrl(
  url: unknown,
  where: 'url' | 'openStream(url)',
  schemes: readonly string[],
): void {
  if (typeof url !== 'string' || url === '') {
    throw invalid(where, "a URL string, e.g. 'https://api.example.com/tidewire'", url);
  }
  const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
  if (isAbsolute(url) && !schemes.includes(scheme)) {
    throw invalid(where, `a URL starting with ${schemes.map((s) => `${s}//`).join(' or ')}`, url);
  }
}

const isAbsolute = (url: string): boolean => /^[a-z][a-z\d+.-]*:/i.test(url);

/**
 * What is wrong with a relative URL where there is no page to resolve it against (Node,
 * server rendering), for an `invalid_options` message; undefined when nothing is. A client says
 * so when it first needs to connect, not when it is created: server rendering creates clients
 * that never connect.
 * @internal
 */
export function unresolvable(url: string, where: 'url' | 'openStream(url)'): string | undefined {
  if (isAbsolute(url) || typeof (globalThis as { location?: unknown }).location !== 'undefined') {
    return undefined;
  }
  return `${where} must be an absolute URL outside a browser (there is no page to resolve it against), e.g. 'http://localhost:8080/tidewire', got ${shown(url)}`;
}

/** The base URL of `createClient`: http(s) only, since the WebSocket URL is derived from it. */
function checkBaseUrl(url: unknown): void {
  if (typeof url === 'string' && /^wss?:/i.test(url)) {
    throw invalid('url', 'an http:// or https:// URL (the WebSocket URL is derived from it)', url);
  }
  checkUrl(url, 'url', ['http:', 'https:']);
}

/**
 * Throws `invalid_options` for subscribe options the server would refuse, naming the channel.
 * Called by the development build only.
 * @internal
 */
export function checkSubscribeOptions(channel: string, options: { rewind?: unknown }): void {
  const { rewind } = options;
  if (rewind !== undefined && !(Number.isInteger(rewind) && (rewind as number) >= 0)) {
    throw new TidewireError(
      'invalid_options',
      { channel },
      `rewind must be a whole number of events from 0, got ${String(rewind)}`,
    );
  }
}
