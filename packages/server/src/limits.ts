import { CHANNEL_PATTERN } from '@tidewire/core/protocol';

/** True when `name` is a valid channel name. */
export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_PATTERN.test(name);
}

/** True when `type` is a valid application event type. */
export function isValidEventType(type: unknown): type is string {
  return typeof type === 'string' && type.length <= 64 && CHANNEL_PATTERN.test(type);
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
