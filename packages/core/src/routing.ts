import type { Environment } from './environment';

/** Both transports, in a fixed order. @internal */
export const TRANSPORTS = ['sse', 'websocket'] as const;

/** A transport a channel can travel on. */
export type Transport = 'sse' | 'websocket';

/** A subscription's transport request: `'auto'` lets the router decide. */
export type TransportChoice = Transport | 'auto';

/** Options of the fallback between transports. */
export interface FallbackOptions {
  /**
   * Consecutive connections that fail before the server's welcome, or die within
   * `stableAfter` of it (a proxy that kills or starves upgraded sockets), after which
   * a transport counts as blocked. @default 2
   */
  after?: number;
  /** How long a blocked transport is avoided (and remembered in sessionStorage) before it is probed again, in ms. @default 300000 */
  ttl?: number;
}

/** @internal */
export interface Router {
  /**
   * The rule: an explicit transport always wins; `'auto'` takes WebSocket for a
   * duplex channel (declared, or published on) and SSE otherwise, unless that
   * transport is blocked and the other is not.
   */
  pick(choice: TransportChoice, duplex: boolean): Transport;
  /**
   * An attempt on `transport` ended (`ok`: it had been open for `stableAfter`; `hard`: it failed
   * fatally before, which blocks at once). Returns true when this changed what `pick` answers.
   */
  report(transport: Transport, ok: boolean, hard?: boolean): boolean;
  dispose(): void;
}

const other = (t: Transport): Transport => (t === 'sse' ? 'websocket' : 'sse');

/** @internal */
export function createRouter(
  env: Environment,
  key: string,
  { after = 2, ttl = 300_000 }: FallbackOptions | undefined = {},
  onChange: () => void = () => {},
): Router {
  const fails = { sse: 0, websocket: 0 };
  const store = env.session();
  let blocked: Partial<Record<Transport, number>> = {};
  let timer: unknown;
  try {
    blocked = JSON.parse(store?.getItem(key) ?? '{}');
  } catch {}
  const isBlocked = (t: Transport) => (blocked[t] ?? 0) > env.now();
  /** Saves the blocks and wakes up when the first one ends, to probe that transport again. */
  const save = () => {
    try {
      store?.setItem(key, JSON.stringify(blocked));
    } catch {}
    env.clearTimeout(timer);
    const next = Math.min(...Object.values(blocked)) - env.now();
    if (next > 0 && next < Infinity)
      timer = env.setTimeout(() => {
        for (const t of TRANSPORTS) if (!isBlocked(t)) delete blocked[t];
        save();
        onChange();
      }, next);
  };
  save();
  return {
    pick(choice, duplex) {
      if (choice !== 'auto') return choice;
      const want: Transport = duplex ? 'websocket' : 'sse';
      const o = other(want);
      // When both are blocked, the one blocked last (it failed last) is avoided.
      return isBlocked(want) && !(isBlocked(o) && blocked[o]! >= blocked[want]!) ? o : want;
    },
    report(t, ok, hard) {
      fails[t] = ok ? 0 : fails[t] + 1;
      if (ok ? !isBlocked(t) : !hard && fails[t] < after) return false;
      if (ok) delete blocked[t];
      else {
        // Blocked (again) from now; `after` more failures block it again later.
        blocked[t] = env.now() + ttl;
        fails[t] = 0;
      }
      save();
      return true;
    },
    dispose: () => env.clearTimeout(timer),
  };
}
