import { vi } from 'vitest';
import { type Environment, type EnvironmentSignal, resolveEnvironment } from '../src/environment';
import type { TidewireError } from '../src/errors';
import type { SseMessage } from '../src/transports/sse';

/** An environment on vitest's fake timers with controllable online/visibility. */
export function fakeEnvironment(overrides: Partial<Environment> = {}) {
  const listeners = new Set<(s: EnvironmentSignal) => void>();
  const state = { online: true, visible: true, random: 0.5 };
  const env = resolveEnvironment({
    now: () => Date.now(),
    random: () => state.random,
    online: () => state.online,
    visible: () => state.visible,
    listen(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    ...overrides,
  });
  const signal = (s: EnvironmentSignal) => {
    if (s === 'online' || s === 'offline') state.online = s === 'online';
    else state.visible = s === 'visible';
    for (const fn of [...listeners]) fn(s);
  };
  return { env, state, signal, listeners };
}

export const flush = () => vi.advanceTimersByTimeAsync(0);

/** How an SSE stream ended, as tests compare it: the error's code and the facts it carries. */
export interface SseEnd {
  code: string;
  status?: number | undefined;
  retryAfter?: number | undefined;
  cause?: unknown;
}

/** The {@link SseEnd} of the error `openSse` ended with. */
export const sseEnd = (e: TidewireError): SseEnd => ({
  code: e.code,
  status: e.status,
  retryAfter: e.retryAfter,
  cause: e.cause,
});

/** A dispatched SSE message in the HTML Standard's terms: its data buffer is the lines joined by LF. */
export interface SseReceived {
  event: string;
  data: string;
  lastEventId: string;
}

/** What a test records of a dispatched message. */
export const received = (m: SseMessage): SseReceived => ({
  event: m.event,
  data: m.lines.join('\n'),
  lastEventId: m.lastEventId,
});
