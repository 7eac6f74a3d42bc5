import {
  createMemoryEngine,
  type Engine,
  type EngineHealth,
  type EngineListener,
  type MemoryEngine,
  type ReplayPage,
} from '../packages/server/src/index';

/** Options of {@link createControlledEngine}. */
export interface ControlledEngineOptions {
  /** The engine that keeps the history. @default createMemoryEngine() */
  inner?: MemoryEngine;
  /** Milliseconds before each page read resolves. @default 0 */
  readDelayMs?: number;
  /**
   * What a page read returns: the inner engine's page when it was called, or when it
   * resolves (a read that sees events the node's listeners get later). @default 'call'
   */
  snapshot?: 'call' | 'resolve';
}

/**
 * A memory engine that behaves like one across the network, for tests: page reads resolve
 * later (or only when released), and health, appends and listener resets are under the
 * test's control.
 */
export interface ControlledEngine extends Engine {
  /** Answers `health()` with this from now on. */
  setHealth(health: EngineHealth): void;
  /** Makes `append` reject with `error` from now on; `undefined` stores again. */
  failAppends(error: Error | undefined): void;
  /** Makes `readPage` reject with `error` from now on; `undefined` reads again. */
  failReads(error: Error | undefined): void;
  /** Tells every listener that it can no longer follow on from what it delivered. */
  reset(reason: string): void;
  /** Holds every page read until {@link ControlledEngine.releaseReads}. */
  holdReads(): void;
  /** Resolves the held page reads and stops holding new ones. */
  releaseReads(): void;
  /** Page reads started and not resolved yet. */
  readonly pendingReads: number;
  /** Events appended while a page read was pending. */
  readonly appendsDuringReads: number;
}

/** Creates a {@link ControlledEngine}. */
export function createControlledEngine(options: ControlledEngineOptions = {}): ControlledEngine {
  const { inner = createMemoryEngine(), readDelayMs = 0, snapshot = 'call' } = options;
  const listeners = new Set<EngineListener>();
  let health: EngineHealth = { ready: true };
  let appendError: Error | undefined;
  let readError: Error | undefined;
  let held: Array<() => void> | undefined;
  let pendingReads = 0;
  let appendsDuringReads = 0;

  /** Resolves after the delay, or once released while reads are held. */
  const later = (): Promise<void> =>
    new Promise((resolve) => {
      if (held === undefined) setTimeout(resolve, readDelayMs);
      else held.push(resolve);
    });

  return {
    get epoch() {
      return inner.epoch;
    },
    position: () => inner.position(),
    append(event) {
      if (appendError !== undefined) return Promise.reject(appendError);
      if (pendingReads > 0) appendsDuringReads += 1;
      return inner.append(event);
    },
    async readPage(channel, since, limit) {
      if (readError !== undefined) throw readError;
      pendingReads += 1;
      try {
        const early = snapshot === 'call' ? await inner.readPage(channel, since, limit) : undefined;
        await later();
        const page: ReplayPage = early ?? (await inner.readPage(channel, since, limit));
        return page;
      } finally {
        pendingReads -= 1;
      }
    },
    async rewind(channel, count, until) {
      await later();
      return inner.rewind(channel, count, until);
    },
    info: (channel) => inner.info(channel),
    channels: () => inner.channels(),
    listen(listener) {
      listeners.add(listener);
      const off = inner.listen(listener);
      return () => {
        listeners.delete(listener);
        off();
      };
    },
    health: () => health,
    close: () => inner.close(),
    setHealth(next) {
      health = next;
    },
    failAppends(error) {
      appendError = error;
    },
    failReads(error) {
      readError = error;
    },
    reset(reason) {
      for (const listener of [...listeners]) listener.reset(reason);
    },
    holdReads() {
      held ??= [];
    },
    releaseReads() {
      const waiting = held ?? [];
      held = undefined;
      for (const resolve of waiting) resolve();
    },
    get pendingReads() {
      return pendingReads;
    },
    get appendsDuringReads() {
      return appendsDuringReads;
    },
  };
}
