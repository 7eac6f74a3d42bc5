import { CHANNEL_PATTERN } from '@tidewire/core/protocol';

/**
 * Most bytes of frames joined into one WebSocket message or SSE event: frames are
 * joined with LF while the joined text stays within this; a frame larger than it
 * goes alone.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * Names already found valid: publishers repeat the same few channels and types, and a
 * set lookup is cheaper than the pattern. Bounded, so that one-off names cannot grow it.
 */
const validNames = new Set<string>();
const VALID_NAMES_KEPT = 4096;

function matchesPattern(name: string): boolean {
  if (validNames.has(name)) return true;
  if (!CHANNEL_PATTERN.test(name)) return false;
  if (validNames.size >= VALID_NAMES_KEPT) validNames.clear();
  validNames.add(name);
  return true;
}

/** True when `name` is a valid channel name. */
export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && matchesPattern(name);
}

/** True when `type` is a valid application event type. */
export function isValidEventType(type: unknown): type is string {
  return typeof type === 'string' && type.length <= 64 && matchesPattern(type);
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

/** JSON of `data`, or `undefined` when it has no JSON form (undefined, functions, cycles, BigInt). */
export function serializeData(data: unknown): string | undefined {
  try {
    return JSON.stringify(data) as string | undefined;
  } catch {
    return undefined;
  }
}
