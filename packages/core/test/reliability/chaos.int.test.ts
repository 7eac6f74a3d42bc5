import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Client } from '../../src/client';
import type { ConnectionState } from '../../src/connection';
import type { TransportChoice } from '../../src/routing';
import type { Subscription } from '../../src/subscription';
import {
  authenticate,
  closeClients,
  connect,
  countingEnvironment,
  countingFetch,
  createRig,
  logLines,
  type Rig,
  seeded,
  sleep,
  TOKEN_PREFIX,
  until,
} from './harness';

// The chaos suite of issue 8: 20 channels, 10,000 events at a steady rate, connections
// killed (or stalled) every 50–500 ms, two clients subscribed to every channel.
const CHANNELS = 20;
const EVENTS = 10_000;
const CLIENTS = 2;
const BATCH = 50; // events per 10 ms tick: about 4,500 events/s, 2.2 s of publishing

interface Scenario {
  name: string;
  transport: TransportChoice;
  duplex?: boolean;
  action?: 'kill' | 'stall';
  heartbeatMs?: number;
  /** Runs once, halfway through publishing. */
  midway?: (rig: Rig) => Promise<void> | void;
  check?: (subs: Subscription[], rig: Rig) => void;
}

interface Figures {
  scenario: string;
  events: number;
  deliveries: number;
  kills: number;
  stalls: number;
  reconnects: number;
  heartbeatTimeouts: number;
  maxRecoveryMs: number;
  heapGrowthMb: number;
  seconds: number;
}

const figures: Figures[] = [];
let rig: Rig | undefined;

afterEach(async () => {
  closeClients();
  await rig?.stop();
  rig = undefined;
});

afterAll(() => {
  // The table RELIABILITY.md quotes.
  console.log(
    `\nchaos figures (${CHANNELS} channels, ${CLIENTS} clients subscribed to all)\n${table(figures)}`,
  );
});

function table(rows: Figures[]): string {
  const head = Object.keys(rows[0] ?? {}) as (keyof Figures)[];
  const lines = [head.join(' | '), head.map(() => '---').join(' | ')];
  for (const r of rows) lines.push(head.map((k) => String(r[k])).join(' | '));
  return lines.map((l) => `| ${l} |`).join('\n');
}

const safe = (value: unknown) => {
  try {
    return JSON.stringify(value, (_k, v) => (v instanceof Error ? `${v.name}: ${v.message}` : v));
  } catch {
    return String(value);
  }
};

/** Times each transport spent between losing an open connection and being open again. */
function watch(client: Client) {
  const lostAt: Partial<Record<string, number>> = {};
  const w = { reconnects: 0, maxRecoveryMs: 0, heartbeatTimeouts: 0 };
  const opened = new Set<string>();
  client.on(
    'state',
    ({
      transport,
      next,
      prev,
    }: {
      transport: string;
      next: ConnectionState;
      prev: ConnectionState;
    }) => {
      if (next.status === 'waiting' && next.error.code === 'heartbeat_timeout')
        w.heartbeatTimeouts++;
      if (prev.status === 'open') lostAt[transport] = Date.now();
      if (next.status === 'open') {
        if (opened.has(transport)) w.reconnects++;
        opened.add(transport);
        const at = lostAt[transport];
        if (at !== undefined) w.maxRecoveryMs = Math.max(w.maxRecoveryMs, Date.now() - at);
        lostAt[transport] = undefined;
      }
      if (next.status === 'idle') lostAt[transport] = undefined;
    },
  );
  return w;
}

async function run(s: Scenario, seed: number) {
  const started = Date.now();
  rig = await createRig({ authenticate, heartbeatMs: s.heartbeatMs ?? 1000 });
  const r = rig;
  const names = Array.from({ length: CHANNELS }, (_, i) => `ch-${i}`);
  const published = new Map(names.map((n) => [n, [] as string[]]));
  const envs = Array.from({ length: CLIENTS }, countingEnvironment);
  const nets = Array.from({ length: CLIENTS }, countingFetch);
  const received: Map<string, string[]>[] = [];
  const subs: Subscription[] = [];
  const debug: string[] = [];
  const watches = envs.map((env, i) => {
    const client = connect(r.url, {
      fetch: nets[i]!.fetch,
      environment: env.environment,
      logger: (message, details) => debug.push(`${message} ${safe(details)}`),
    });
    const got = new Map(names.map((n) => [n, [] as string[]]));
    received.push(got);
    for (const n of names) {
      const sub = client.subscribe(n, { transport: s.transport, duplex: !!s.duplex });
      sub.on('event', (e) => got.get(n)!.push(e.id));
      subs.push(sub);
    }
    return { client, w: watch(client) };
  });
  await until(() => subs.every((x) => x.getSnapshot().status === 'live'), 10_000);

  const heap0 = process.memoryUsage().heapUsed;
  let heapMax = heap0;
  const sampler = setInterval(() => {
    heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  }, 100);
  const random = seeded(seed);
  const stop = r.proxy.chaos(50, 500, random, s.action ?? 'kill');
  try {
    for (let i = 0; i < EVENTS; ) {
      for (const end = i + BATCH; i < end; i++) {
        const n = names[i % CHANNELS]!;
        published.get(n)!.push((await r.node.tw.publish(n, i)).id);
      }
      if (i === EVENTS / 2) await s.midway?.(r);
      await sleep(10);
    }
  } finally {
    stop();
    clearInterval(sampler);
  }
  const total = () =>
    received.reduce((a, m) => a + [...m.values()].reduce((b, l) => b + l.length, 0), 0);
  await until(() => total() >= EVENTS * CLIENTS, 15_000).catch((e) => {
    // Say where it stood, so a failure can be read without a rerun.
    const states = watches.map(({ client }) => client.getState());
    const stuck = subs.filter((x) => x.getSnapshot().status !== 'live').map((x) => x.getSnapshot());
    throw new Error(
      `${s.name}: ${total()} of ${EVENTS * CLIENTS} delivered; ${JSON.stringify(states)}; not live: ${JSON.stringify(stuck.slice(0, 3))}`,
      { cause: e },
    );
  });
  await sleep(100); // anything late would be a duplicate

  for (const got of received)
    for (const n of names) expect(got.get(n), `${s.name}: ${n}`).toEqual(published.get(n));
  s.check?.(subs, r);

  // Tokens stay out of every URL the server saw, fallback and restart included.
  for (const req of r.log) expect(req.url).not.toContain(TOKEN_PREFIX);
  expect(logLines.join('\n')).not.toContain(TOKEN_PREFIX);
  expect(debug.length).toBeGreaterThan(0);
  expect(debug.join('\n')).not.toContain(TOKEN_PREFIX);

  // After close(): no socket on either side, no client timer, no request in flight.
  for (const { client } of watches) client.close();
  // Streams end at once (server stats); Node's fetch may keep an idle keep-alive socket
  // open in its own pool for up to 4 s after an abort, which the proxy count waits out.
  await until(async () => {
    const { connections } = await r.node.tw.stats();
    return connections.sse + connections.websocket === 0 && r.proxy.connections === 0;
  });
  for (const env of envs) expect(env.live()).toBe(0);
  await until(() => nets.every((n) => n.pending() === 0));
  for (const net of nets) expect(net.unaborted()).toBeLessThanOrEqual(0);

  const heapGrowthMb = Math.round((heapMax - heap0) / 1e5) / 10;
  expect(heapGrowthMb).toBeLessThan(200);
  const f: Figures = {
    scenario: s.name,
    events: EVENTS,
    deliveries: total(),
    kills: r.proxy.kills,
    stalls: r.proxy.stalls,
    reconnects: watches.reduce((a, x) => a + x.w.reconnects, 0),
    heartbeatTimeouts: watches.reduce((a, x) => a + x.w.heartbeatTimeouts, 0),
    maxRecoveryMs: Math.max(...watches.map((x) => x.w.maxRecoveryMs)),
    heapGrowthMb,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  figures.push(f);
  return f;
}

describe('chaos: 10,000 events on 20 channels while connections die every 50–500 ms', () => {
  it('should deliver every event exactly once, in order, over WebSocket only', async () => {
    const f = await run({ name: 'websocket', transport: 'websocket' }, 1);
    expect(f.kills).toBeGreaterThanOrEqual(3);
    expect(f.reconnects).toBeGreaterThan(0);
  }, 40_000);

  it('should deliver every event exactly once, in order, over SSE only', async () => {
    const f = await run({ name: 'sse', transport: 'sse' }, 2);
    expect(f.kills).toBeGreaterThanOrEqual(3);
    expect(f.reconnects).toBeGreaterThan(0);
  }, 40_000);

  it('should fall back from WebSocket to SSE when upgrades are blocked mid-run, losing nothing', async () => {
    await run(
      {
        name: 'auto, WebSocket blocked midway',
        transport: 'auto',
        duplex: true,
        midway(rig) {
          rig.proxy.setUpgrades('refuse');
          rig.proxy.killAll();
        },
        check(subs, rig) {
          expect(subs.every((x) => x.getSnapshot().transport === 'sse')).toBe(true);
          const upgrades = rig.log.filter((r) => r.kind === 'upgrade').length;
          expect(upgrades).toBeGreaterThan(0);
        },
      },
      3,
    );
  }, 40_000);

  it('should resume across a server restart that keeps its history', async () => {
    let epochs = 0;
    await run(
      {
        name: 'server restart, history kept',
        transport: 'auto',
        async midway(rig) {
          await rig.restart();
          epochs++;
        },
        check(subs) {
          for (const x of subs) expect(x.getSnapshot().gaps).toBe(0);
        },
      },
      4,
    );
    expect(epochs).toBe(1);
  }, 40_000);
});

describe('chaos: connections stalled (half-open) every 50–500 ms', () => {
  it.each<TransportChoice>(['websocket', 'sse'])(
    'should detect each stall by the heartbeat watchdog over %s and lose nothing',
    async (transport) => {
      const f = await run(
        { name: `${transport}, stalled`, transport, action: 'stall', heartbeatMs: 100 },
        5,
      );
      expect(f.stalls).toBeGreaterThanOrEqual(3);
      if (transport === 'sse') expect(f.heartbeatTimeouts).toBeGreaterThan(0);
      // Over WebSocket the server's protocol ping may find the dead socket first.
      else expect(f.heartbeatTimeouts + f.reconnects).toBeGreaterThan(0);
    },
    40_000,
  );
});
