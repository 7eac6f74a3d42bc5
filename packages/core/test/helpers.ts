import { vi } from 'vitest';
import { type Environment, type EnvironmentSignal, resolveEnvironment } from '../src/environment';

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
    session: () => undefined,
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
