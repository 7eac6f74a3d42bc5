import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * What the proxy does with a connection whose first request is a WebSocket upgrade:
 * - `pass`: forward it like any other connection;
 * - `refuse`: answer `403` and close, as a proxy that blocks upgrades;
 * - `kill`: forward the handshake, then destroy the connection once the upgrade succeeded;
 * - `starve`: forward the handshake, then forward nothing more in either direction.
 */
export type UpgradePolicy = 'pass' | 'refuse' | 'kill' | 'starve';

/** Options of {@link createTcpProxy}. */
export interface TcpProxyOptions {
  /** Where connections are forwarded: a port on 127.0.0.1. */
  targetPort: number;
  /** @default 'pass' */
  upgrades?: UpgradePolicy;
}

/** A loopback TCP proxy that can misbehave on command. */
export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Connections killed so far by {@link TcpProxy.killAll} or random chaos. */
  readonly kills: number;
  /** Destroys every open connection now (both sides see a reset). */
  killAll(): number;
  /** Stops forwarding on every open connection without closing it: a half-open link. */
  stallAll(): void;
  /** Adds `ms` of delay to every chunk, from now on. */
  setDelay(ms: number): void;
  /** Limits every connection to `bytesPerSecond` in each direction; 0 removes the limit. */
  setThrottle(bytesPerSecond: number): void;
  /** Changes what happens to WebSocket upgrades from now on. */
  setUpgrades(policy: UpgradePolicy): void;
  /**
   * Every `min`–`max` ms, kills one random open connection (or, with `action` `'stall'`,
   * stops forwarding on one that is not stalled yet) until the returned function is called.
   */
  chaos(min: number, max: number, random?: () => number, action?: 'kill' | 'stall'): () => void;
  /** Connections stalled so far by {@link TcpProxy.stallAll} or stalling chaos. */
  readonly stalls: number;
  /** Forwards new connections to another port on 127.0.0.1 (a restarted server); open ones stay. */
  setTarget(port: number): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket;
  stalled: boolean;
  /** When this link may send again, per direction, under throttling. */
  nextFree: [number, number];
}

const isUpgrade = (chunk: Buffer) => /\r\nupgrade:\s*websocket/i.test(chunk.toString('latin1'));

/** Starts a proxy on 127.0.0.1 with a random port. */
export async function createTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const links = new Set<Link>();
  let upgrades: UpgradePolicy = options.upgrades ?? 'pass';
  let delay = 0;
  let throttle = 0;
  let kills = 0;
  let stalls = 0;
  let target = options.targetPort;
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void) => {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const destroy = (link: Link) => {
    links.delete(link);
    link.client.destroy();
    link.upstream.destroy();
  };

  /** Forwards one chunk from `from` to `to`, honouring stall, delay and throttle. */
  const forward = (link: Link, direction: 0 | 1, to: Socket, chunk: Buffer) => {
    if (link.stalled) return;
    let wait = delay;
    if (throttle > 0) {
      const now = Date.now();
      const start = Math.max(now, link.nextFree[direction]);
      link.nextFree[direction] = start + (chunk.length / throttle) * 1000;
      wait += start - now;
    }
    later(wait, () => {
      if (!link.stalled && !to.destroyed) to.write(chunk);
    });
  };

  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect({ host: '127.0.0.1', port: target });
    upstream.setNoDelay(true);
    const link: Link = { client, upstream, stalled: false, nextFree: [0, 0] };
    links.add(link);
    let first = true;
    let upgrading = false;
    client.on('data', (chunk) => {
      if (first) {
        first = false;
        upgrading = isUpgrade(chunk);
        if (upgrading && upgrades === 'refuse') {
          client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
          upstream.destroy();
          links.delete(link);
          return;
        }
      }
      forward(link, 0, upstream, chunk);
    });
    let answered = false;
    upstream.on('data', (chunk) => {
      forward(link, 1, client, chunk);
      if (upgrading && !answered) {
        answered = true;
        if (upgrades === 'kill') later(delay + 20, () => destroy(link));
        if (upgrades === 'starve') link.stalled = true;
      }
    });
    const end = () => destroy(link);
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const killAll = () => {
    const n = links.size;
    for (const link of [...links]) destroy(link);
    kills += n;
    return n;
  };

  return {
    port,
    get connections() {
      return links.size;
    },
    get kills() {
      return kills;
    },
    get stalls() {
      return stalls;
    },
    setTarget(port) {
      target = port;
    },
    killAll,
    stallAll() {
      for (const link of links) {
        stalls += +!link.stalled;
        link.stalled = true;
      }
    },
    setDelay(ms) {
      delay = ms;
    },
    setThrottle(bytesPerSecond) {
      throttle = bytesPerSecond;
    },
    setUpgrades(policy) {
      upgrades = policy;
    },
    chaos(min, max, random = Math.random, action = 'kill') {
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const tick = () => {
        timer = setTimeout(
          () => {
            if (stopped) return;
            const all = [...links].filter((l) => action === 'kill' || !l.stalled);
            const victim = all[Math.floor(random() * all.length)];
            if (victim && action === 'stall') {
              victim.stalled = true;
              stalls++;
            } else if (victim) {
              destroy(victim);
              kills++;
            }
            tick();
          },
          min + random() * (max - min),
        );
      };
      tick();
      return () => {
        stopped = true;
        clearTimeout(timer);
      };
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const link of [...links]) destroy(link);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
