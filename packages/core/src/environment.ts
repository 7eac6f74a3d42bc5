/** A change reported by {@link Environment.listen}. */
export type EnvironmentSignal = 'online' | 'offline' | 'visible' | 'hidden';

/**
 * Everything Tidewire takes from its surroundings. Each member may be replaced
 * (tests, SSR, React Native, workers); the defaults read globals only when called,
 * never when the module loads.
 */
export interface Environment {
  /** Calls `callback` once after `ms` milliseconds; returns a handle for `clearTimeout`. @default globalThis.setTimeout, looked up at each call */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer set by `setTimeout`. @default globalThis.clearTimeout */
  clearTimeout(handle: unknown): void;
  /** Wall-clock milliseconds, used for deadlines that must survive throttled timers. @default Date.now */
  now(): number;
  /** A number in [0, 1) for jitter. @default Math.random */
  random(): number;
  /** Whether the browser is online. @default `navigator.onLine`, true when there is no navigator */
  online(): boolean;
  /** Whether the page is visible. @default `document.visibilityState !== 'hidden'`, true when there is no document */
  visible(): boolean;
  /**
   * Reports online/offline and visibility changes; returns the disposer.
   * @default window `online`/`offline` and document `visibilitychange` events, when they exist
   */
  listen(callback: (signal: EnvironmentSignal) => void): () => void;
}

interface Target {
  addEventListener?(type: string, fn: (event: { type: string }) => void): void;
  removeEventListener?(type: string, fn: (event: { type: string }) => void): void;
}

/** Fills the members of `overrides` that are missing with the browser's (or Node's) own. */
export function resolveEnvironment(overrides: Partial<Environment> = {}): Environment {
  const g = globalThis as Target & {
    navigator?: { onLine?: boolean };
    document?: Target & { visibilityState?: string };
  };
  return {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    now: () => Date.now(),
    random: () => Math.random(),
    online: () => g.navigator?.onLine !== false,
    visible: () => g.document?.visibilityState !== 'hidden',
    listen(fn) {
      // The `online` and `offline` events are named after their signal.
      const network = (event: { type: string }) => fn(event.type as EnvironmentSignal);
      const vis = () => fn(this.visible() ? 'visible' : 'hidden');
      const doc = g.document;
      const each = (k: 'addEventListener' | 'removeEventListener') => {
        g[k]?.('online', network);
        g[k]?.('offline', network);
        doc?.[k]?.('visibilitychange', vis);
      };
      each('addEventListener');
      return () => each('removeEventListener');
    },
    ...overrides,
  };
}
