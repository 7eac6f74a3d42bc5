import type { IncomingMessage } from 'node:http';
import { CHANNEL_PATTERN, EVENT_TYPE_PATTERN } from '@tidewire/core/protocol';
import type { ResolvedOptions } from './options.js';

/**
 * Most bytes of frames joined into one WebSocket message or SSE event: frames are
 * joined with LF while the joined text stays within this; a frame larger than it
 * goes alone.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * Names already found valid, channels and event types apart (`message` is a type, never a
 * channel): publishers repeat the same few, and a set lookup is cheaper than the pattern.
 * Bounded, so that one-off names cannot grow them.
 */
const validChannels = new Set<string>();
const validTypes = new Set<string>();
const VALID_NAMES_KEPT = 4096;

function matches(name: string, pattern: RegExp, valid: Set<string>): boolean {
  if (valid.has(name)) return true;
  if (!pattern.test(name)) return false;
  if (valid.size >= VALID_NAMES_KEPT) valid.clear();
  valid.add(name);
  return true;
}

/** True when `name` is a valid channel name (see `CHANNEL_PATTERN`). */
export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && matches(name, CHANNEL_PATTERN, validChannels);
}

/** True when `type` is a valid application event type (see `EVENT_TYPE_PATTERN`). */
export function isValidEventType(type: unknown): type is string {
  return typeof type === 'string' && matches(type, EVENT_TYPE_PATTERN, validTypes);
}

/** True when `json` takes more than `max` bytes in UTF-8; counts them only when it could. */
export function exceedsBytes(json: string, max: number): boolean {
  // A UTF-16 code unit is at most 3 bytes in UTF-8 (a surrogate pair, 2 units, is 4).
  if (json.length * 3 <= max) return false;
  return json.length > max || Buffer.byteLength(json) > max;
}

/** A token bucket: `take()` is false once the burst is spent, until tokens refill. */
export interface TokenBucket {
  take(): boolean;
  /** Milliseconds until the next token is available (0 when one is). */
  waitMs(): number;
}

/** Creates a token bucket that starts full. */
export function createTokenBucket(options: {
  perSecond: number;
  burst: number;
  now: () => number;
}): TokenBucket {
  const { perSecond, burst, now } = options;
  let tokens = burst;
  let last = now();
  const refill = (): void => {
    const t = now();
    tokens = Math.min(burst, tokens + ((t - last) / 1000) * perSecond);
    last = t;
  };
  return {
    take() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    waitMs() {
      refill();
      if (tokens >= 1) return 0;
      return perSecond > 0
        ? Math.ceil(((1 - tokens) / perSecond) * 1000)
        : Number.POSITIVE_INFINITY;
    },
  };
}

/** Token buckets by key, created on first use and dropped once they could only be full. */
export interface BucketRegistry {
  /** The bucket of `key`; a new one starts full. */
  get(key: string): TokenBucket;
  /** Buckets held right now. */
  readonly size: number;
}

/**
 * Most buckets one registry holds. Past it the least recently used bucket is dropped even if
 * it is not full yet, which only gives that publisher a full bucket again.
 */
export const MAX_BUCKETS = 10_000;

/**
 * Creates a bucket registry. Memory stays bounded without a timer: a bucket left alone for
 * `burst / perSecond` seconds has refilled and is the same as a new one, so every `get` drops
 * such buckets (they are the least recently used, at the front of the map), and never more
 * than `maxBuckets` are kept.
 */
export function createBucketRegistry(options: {
  perSecond: number;
  burst: number;
  now: () => number;
  /** @default MAX_BUCKETS */
  maxBuckets?: number;
}): BucketRegistry {
  const { perSecond, burst, now, maxBuckets = MAX_BUCKETS } = options;
  const refillMs = perSecond > 0 ? (burst / perSecond) * 1000 : Number.POSITIVE_INFINITY;
  /** In order of last use, oldest first. */
  const entries = new Map<string, { bucket: TokenBucket; usedAt: number }>();
  return {
    get(key) {
      const time = now();
      let entry = entries.get(key);
      if (entry === undefined) {
        entry = { bucket: createTokenBucket({ perSecond, burst, now }), usedAt: time };
      } else {
        entries.delete(key);
        entry.usedAt = time;
      }
      entries.set(key, entry);
      for (const [oldKey, old] of entries) {
        if (entries.size <= maxBuckets && time - old.usedAt < refillMs) break;
        entries.delete(oldKey);
      }
      return entry.bucket;
    },
    get size() {
      return entries.size;
    },
  };
}

/** One registry per server: every endpoint of a server shares its resolved options object. */
const registries = new WeakMap<object, BucketRegistry>();

/**
 * The publish-rate bucket of whoever publishes on `req`, shared by every request and connection
 * of the same publisher (see `PublishRate.keyOf`), so that a new connection per publish does not
 * get a new burst. The publisher is worked out again on each use, so that the bucket follows a
 * principal that changes.
 */
export function publisherBucket<P>(
  options: ResolvedOptions<P>,
  req: IncomingMessage,
  principal: () => P | undefined,
): TokenBucket {
  let registry = registries.get(options);
  if (registry === undefined) {
    registry = createBucketRegistry({ ...options.limits.publishRate, now: options.now });
    registries.set(options, registry);
  }
  const buckets = registry;
  const current = (): TokenBucket => buckets.get(publisherKeyOf(options, principal(), req));
  return {
    take: () => current().take(),
    waitMs: () => current().waitMs(),
  };
}

function publisherKeyOf<P>(
  options: ResolvedOptions<P>,
  principal: P | undefined,
  req: IncomingMessage,
): string {
  const address = req.socket.remoteAddress;
  const { keyOf } = options.limits.publishRate;
  if (keyOf !== undefined) {
    try {
      return keyOf({ principal, address, req });
    } catch (error) {
      options.logger.error('publishRate.keyOf threw', { error: String(error) });
    }
  }
  return publisherKey(principal, address);
}

/**
 * The default publisher key: a string or number principal stands for itself; anyone else
 * (anonymous, or an object principal, which has no stable identity across requests) is counted
 * per client address, IPv6 per /64 network.
 */
export function publisherKey(principal: unknown, address: string | undefined): string {
  if (typeof principal === 'string' || typeof principal === 'number') {
    return `principal:${principal}`;
  }
  return `address:${addressNetwork(address)}`;
}

/** An IPv4 address as is (IPv4-mapped IPv6 included); an IPv6 address as its /64 network. */
export function addressNetwork(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('%', 1)[0]?.split('::', 2) ?? [];
  const groupsOf = (part: string | undefined): string[] =>
    part === undefined || part === '' ? [] : part.split(':');
  const front = groupsOf(head);
  const back = groupsOf(tail);
  // A trailing dotted IPv4 part takes two groups.
  const backSize = back.length + (back.at(-1)?.includes('.') ? 1 : 0);
  const zeros =
    tail === undefined ? [] : Array<string>(Math.max(0, 8 - front.length - backSize)).fill('0');
  const network = [...front, ...zeros, ...back]
    .slice(0, 4)
    .map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
  return `${network.join(':')}::/64`;
}

/** JSON of `data`, or `undefined` when it has no JSON form (undefined, functions, cycles, BigInt). */
export function serializeData(data: unknown): string | undefined {
  try {
    return JSON.stringify(data) as string | undefined;
  } catch {
    return undefined;
  }
}
