/**
 * Reads an HTTP `Retry-After` header value: a number of seconds, or an HTTP date.
 *
 * @param value - The header value, or `null` when the header is absent.
 * @param now - The current time in milliseconds since the epoch, for an HTTP date. @default Date.now()
 * @returns The delay in milliseconds (never negative), or `undefined` when the value is absent or unreadable.
 * @example
 * parseRetryAfter('120'); // 120000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:30 GMT')); // 30000
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // All three HTTP date forms start with a day name; this keeps Date.parse from reading other text.
  if (!/^[a-z]{3}/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
