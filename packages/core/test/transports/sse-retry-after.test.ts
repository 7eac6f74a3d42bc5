import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/transports/retry-after';

const now = Date.parse('Sun, 06 Nov 1994 08:49:07 GMT');

describe('parseRetryAfter', () => {
  it('should read whole seconds as milliseconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('007', now)).toBe(7_000);
  });

  it('should read the three HTTP date forms as the time left until then', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun Nov  6 08:49:37 1994 GMT', now)).toBe(30_000);
  });

  it('should give 0 for a date in the past', () => {
    expect(parseRetryAfter('Sat, 05 Nov 1994 08:49:37 GMT', now)).toBe(0);
  });

  it('should give undefined when the header is absent, empty or unreadable', () => {
    for (const value of [null, '', '  ', 'soon', '-1', '1.5', '10s', '1994-11-06', 'Someday']) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });

  it('should measure from the current time by default', () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    const ms = parseRetryAfter(at);
    expect(ms).toBeGreaterThan(58_000);
    expect(ms).toBeLessThanOrEqual(60_000);
  });
});
