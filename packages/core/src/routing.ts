import type { Environment } from './environment';
import { blocksTransport, isPathFailure, type TidewireError } from './errors';

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
  /** How long a blocked transport is avoided before it is probed again, in ms. @default 300000 */
  ttl?: number;
}

/** How long a blocked transport is avoided by default, in ms. @internal */
export const FALLBACK_TTL = 300_000;

/** @internal */
export interface Router {
  /**
   * The rule: an explicit transport always wins; `'auto'` takes WebSocket for a
   * duplex channel (declared, or published on) and SSE otherwise, unless that
   * transport is blocked and the other is not.
   */
  pick(choice: TransportChoice, duplex: boolean): Transport;
  /**
   * What happened on a transport: a connection stayed open for `stableAfter` (`'stable'`), or an
   * attempt ended with an error. Which errors count, and which block at once, is the error
   * table's call (errors.ts). Returns true when this changed what `pick` answers.
   */
  observe(transport: Transport, outcome: 'stable' | TidewireError): boolean;
  dispose(): void;
}

const other = (t: Transport): Transport => (t === 'sse' ? 'websocket' : 'sse');

/**
 * `onChange`: a block ended by itself (its TTL ran out).
 * @internal
 */
export function createRouter(
  env: Environment,
  { after = 2, ttl = FALLBACK_TTL }: FallbackOptions = {},
  onChange: () => void,
): Router {
  const fails = { sse: 0, websocket: 0 };
  const blocked: Partial<Record<Transport, number>> = {};
  let timer: unknown;
  const isBlocked = (t: Transport) => (blocked[t] ?? 0) > env.now();
  /** Wakes up when the first block ends, to probe that transport again. */
  const rearm = () => {
    env.clearTimeout(timer);
    const next = Math.min(...Object.values(blocked)) - env.now();
    if (next > 0 && next < Infinity)
      timer = env.setTimeout(() => {
        for (const t of TRANSPORTS) if (!isBlocked(t)) delete blocked[t];
        rearm();
        onChange();
      }, next);
  };
  rearm();
  return {
    pick(choice, duplex) {
      if (choice !== 'auto') return choice;
      const want: Transport = duplex ? 'websocket' : 'sse';
      const o = other(want);
      // When both are blocked, the one blocked last (it failed last) is avoided.
      return isBlocked(want) && !(isBlocked(o) && blocked[o]! >= blocked[want]!) ? o : want;
    },
    observe(t, outcome) {
      if (outcome === 'stable') {
        fails[t] = 0;
        // Both blocked means the outage was the server's or the network's, not one path's: a
        // transport that works again clears both.
        const lift = isBlocked(t) && isBlocked(other(t)) ? TRANSPORTS : [t];
        if (!lift.some(isBlocked)) return false;
        for (const l of lift) delete blocked[l];
      } else {
        const blocks = blocksTransport(outcome.code);
        if (!blocks && !isPathFailure(outcome.code)) return false;
        if (!blocks && ++fails[t] < after) return false;
        // Blocked (again) from now; `after` more failures block it again later.
        blocked[t] = env.now() + ttl;
        fails[t] = 0;
      }
      rearm();
      return true;
    },
    dispose: () => env.clearTimeout(timer),
  };
}
