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
  /**
   * How long a blocked transport is avoided, and SSE polls after it was found buffered,
   * before the transport is probed again, in ms.
   * @default 300000
   */
  ttl?: number;
}

/** How long a blocked transport is avoided by default, in ms. @internal */
export const FALLBACK_TTL = 300_000;

/** @internal */
export interface Router {
  /**
   * The rule: an explicit transport always wins; `'auto'` takes WebSocket for a duplex channel
   * (declared, or published on) and SSE otherwise, unless that transport is worse off than the
   * other: blocked, or (SSE) polling while WebSocket works. When both are blocked, the one
   * blocked last is avoided.
   */
  pick(choice: TransportChoice, duplex: boolean): Transport;
  /**
   * What happened on a transport: a connection stayed open for `stableAfter` (`'stable'`), or an
   * attempt ended with an error. Which errors count, and which block at once, is the error
   * table's call (errors.ts); an SSE stream found `buffered` makes SSE poll instead. Returns
   * true when this changed what `pick` answers.
   */
  observe(transport: Transport, outcome: 'stable' | TidewireError): boolean;
  /** Whether SSE polls (`mode=poll`) instead of streaming, until the memory of buffering expires. */
  polls(): boolean;
  dispose(): void;
}

const other = (t: Transport): Transport => (t === 'sse' ? 'websocket' : 'sse');

/**
 * `onChange`: a block (or the memory of buffering) ended by itself: its TTL ran out.
 * @internal
 */
export function createRouter(
  env: Environment,
  { after = 2, ttl = FALLBACK_TTL }: FallbackOptions = {},
  onChange: () => void,
): Router {
  const fails = { sse: 0, websocket: 0 };
  /** Until when each transport is blocked, and (`poll`) SSE polls. */
  const until: Partial<Record<Transport | 'poll', number>> = {};
  let timer: unknown;
  const isBlocked = (t: Transport | 'poll') => (until[t] ?? 0) > env.now();
  /** How badly a transport is off: 0 fine, 1 SSE polling, else when its block ends. */
  const rank = (t: Transport) => (isBlocked(t) ? until[t]! : +(t === 'sse' && isBlocked('poll')));
  /** Wakes up when the first block ends, to probe that transport again. */
  const rearm = () => {
    env.clearTimeout(timer);
    const next = Math.min(...Object.values(until)) - env.now();
    if (next > 0 && next < Infinity)
      timer = env.setTimeout(() => {
        for (const t of Object.keys(until) as Transport[]) if (!isBlocked(t)) delete until[t];
        rearm();
        onChange();
      }, next);
  };
  return {
    pick(choice, duplex) {
      if (choice !== 'auto') return choice;
      const want: Transport = duplex ? 'websocket' : 'sse';
      return rank(want) > rank(other(want)) ? other(want) : want;
    },
    observe(t, outcome) {
      if (outcome === 'stable') {
        fails[t] = 0;
        // Both blocked means the outage was the server's or the network's, not one path's: a
        // transport that works again clears both.
        const lift = isBlocked(t) && isBlocked(other(t)) ? TRANSPORTS : [t];
        if (!lift.some(isBlocked)) return false;
        for (const l of lift) delete until[l];
      } else {
        const { code } = outcome;
        // A stream held back by a buffering proxy makes SSE poll; it is not blocked.
        const buffered = code === 'buffered';
        const blocks = buffered || blocksTransport(code);
        // Other ends say nothing of the path; a path failure counts until there are `after`.
        if (!blocks && (!isPathFailure(code) || ++fails[t] < after)) return false;
        // Blocked (again) from now; `after` more failures block it again later.
        until[buffered ? 'poll' : t] = env.now() + ttl;
        fails[t] = 0;
      }
      rearm();
      return true;
    },
    polls: () => isBlocked('poll'),
    dispose: () => env.clearTimeout(timer),
  };
}
