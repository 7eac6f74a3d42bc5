import type { Engine, EngineHealth } from './engine/engine.js';
import type { TimerHandle, Timers } from './timers.js';

/** The longest time between two looks at the engine's health. */
export const PROBE_MS = 1000;

/** What {@link createReadiness} needs. */
export interface ReadinessOptions {
  readonly engine: Pick<Engine, 'health'>;
  /**
   * How long the engine may stay not ready before `onStale`; `Infinity` never calls it.
   * Counted from the first time the engine was seen not ready (by a probe or a request).
   */
  readonly staleAfterMs: number;
  readonly timers: Timers;
  readonly now: () => number;
  /**
   * The engine has been not ready for `staleAfterMs` without a break. Called when the count
   * runs out, then on every probe while it stays so (connections refused meanwhile are not opened, but one admitted just
   * before may finish opening late), with the health and when it turned not ready.
   */
  readonly onStale: (health: Extract<EngineHealth, { ready: false }>, since: number) => void;
}

/** A node's readiness, as `GET {path}/ready` and the connection refusals read it. */
export interface Readiness {
  /** The engine's health now. A look that finds it not ready starts (or continues) the count. */
  health(): EngineHealth;
  /** When the engine was first seen not ready, while it still is; `undefined` while ready. */
  notReadySince(): number | undefined;
  /** Stops the probe. */
  close(): void;
}

/**
 * Watches the engine's health: a probe looks every second (or every `staleAfterMs`, when
 * that is shorter), so that a node whose engine stays not ready (it lost Redis) notices it
 * with nobody asking, and ends its connections `staleAfterMs` after the engine lost its store
 * (on time, not at the next probe) so that their clients move to a ready node and resume
 * there by position. Any look that finds the engine ready ends the count.
 */
export function createReadiness(options: ReadinessOptions): Readiness {
  const { engine, staleAfterMs, timers, now, onStale } = options;
  let since: number | undefined;

  const health = (): EngineHealth => {
    const current = engine.health();
    if (current.ready) since = undefined;
    // From when the engine says it lost its footing, if it knows (never later than now).
    else since ??= Math.min(current.since ?? Number.POSITIVE_INFINITY, now());
    return current;
  };

  const every = Math.max(1, Math.min(PROBE_MS, staleAfterMs));
  /** A look set for the moment the count runs out, when the next probe would come after it. */
  let due: TimerHandle | undefined;
  const probe = (): void => {
    const current = health();
    if (current.ready || since === undefined) return;
    const left = since + staleAfterMs - now();
    if (left <= 0) onStale(current, since);
    else if (left < every && due === undefined) {
      due = timers.setTimeout(() => {
        due = undefined;
        probe();
      }, left);
      (due as { unref?: () => void } | undefined)?.unref?.();
    }
  };

  let probing: TimerHandle | undefined;
  if (Number.isFinite(staleAfterMs)) {
    probing = timers.setInterval(probe, every);
    // A server that is never closed must not keep the process alive for its probe.
    (probing as { unref?: () => void } | undefined)?.unref?.();
  }

  return {
    health,
    notReadySince: () => since,
    close() {
      if (probing !== undefined) timers.clearInterval(probing);
      if (due !== undefined) timers.clearTimeout(due);
      probing = due = undefined;
    },
  };
}
