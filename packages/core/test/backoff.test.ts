import { describe, expect, it } from 'vitest';
import { exponentialBackoff } from '../src/backoff';
import { ConnectionError } from '../src/errors';

const error = new ConnectionError('network');
const ctx = (attempt: number, random: number, serverDelay?: number) => ({
  attempt,
  error,
  serverDelay,
  random,
});

describe('exponentialBackoff', () => {
  it('should jitter the first retry between 0 and the base delay', () => {
    const delay = exponentialBackoff({ baseDelay: 1000 });
    expect(delay(ctx(1, 0))).toBe(0);
    expect(delay(ctx(1, 0.5))).toBe(500);
    expect(delay(ctx(1, 0.999))).toBeLessThan(1000);
  });

  it('should double the ceiling per attempt up to maxDelay', () => {
    const delay = exponentialBackoff({ baseDelay: 100, maxDelay: 1000 });
    expect(delay(ctx(2, 0.999))).toBeLessThan(200);
    expect(delay(ctx(3, 0.999))).toBeGreaterThan(390);
    expect(delay(ctx(30, 0.999))).toBeLessThan(1000);
    expect(delay(ctx(30, 0.999))).toBeGreaterThan(990);
  });

  it('should use the server delay as the base and Retry-After as a floor', () => {
    const delay = exponentialBackoff({ baseDelay: 100 });
    expect(delay(ctx(1, 0.5, 3000))).toBe(1500);
    const limited = new ConnectionError('rate_limited', { retryAfter: 5000 });
    expect(delay({ attempt: 1, error: limited, serverDelay: undefined, random: 0.5 })).toBe(5050);
  });

  it('should keep growing and stay finite when the server sends retry: 0', () => {
    const delay = exponentialBackoff();
    expect(delay(ctx(1, 0.999, 0))).toBeGreaterThan(490);
    expect(delay(ctx(4, 0.999, 0))).toBeGreaterThan(3900);
    for (const attempt of [1024, 1025, 5000]) {
      expect(Number.isFinite(delay(ctx(attempt, 0.5, 0)))).toBe(true);
      expect(delay(ctx(attempt, 0.999))).toBeLessThan(30_000);
    }
  });

  it('should cap Retry-After, so a date years ahead cannot overflow a timer', () => {
    const delay = exponentialBackoff();
    const farOff = new ConnectionError('http_status', { retryAfter: 100_000_000_000 });
    const value = delay({ attempt: 1, error: farOff, serverDelay: undefined, random: 0.5 });
    expect(value).toBe(300_000 + 500);
    expect(value).toBeLessThan(2 ** 31 - 1);
  });
});
