// The benchmark's event: a JSON object whose serialized form is exactly 100 bytes,
// carrying a sequence number and the publish time for latency.

export const EVENT_BYTES = 100;

/** Microseconds on a clock shared by every thread of the process. */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// `{"seq":,"t":,"pad":""}` is 22 characters; the pad fills the rest.
const FRAME = 22;
const pads = Array.from({ length: EVENT_BYTES }, (_, n) => 'x'.repeat(n));

/** @returns {{ seq: number, t: number, pad: string }} serializing to {@link EVENT_BYTES} bytes */
export function makeEvent(seq, t = nowUs()) {
  const used = FRAME + String(seq).length + String(t).length;
  return { seq, t, pad: pads[Math.max(0, EVENT_BYTES - used)] };
}
