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
});
