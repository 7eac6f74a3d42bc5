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

/** The event a consumer was last handed; see {@link keepEvent}. */
export let latestEvent;

/**
 * Hands a channel event's data to `onEvent`, keeping the event as an app does (in a store, a
 * state hook). Every consumer that receives `{ channel, id, type, data }` goes through it, the
 * client and its floor readers alike: a reader whose events nobody keeps may have them removed by
 * V8 (escape analysis), and would be measured delivering its data alone.
 */
export const keepEvent = (onEvent) => (event) => {
  latestEvent = event;
  onEvent(event.data);
};
