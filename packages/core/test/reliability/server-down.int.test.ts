import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'vitest';
import WebSocket from 'ws';
import {
  type ConnectionState,
  createClient,
  type Transport,
  type TransportChoice,
  type WebSocketConstructor,
} from '../../src/index';
import { type Counts, expectPolite, startDownServer, WINDOW_MS } from './down-server';

// A client with DEFAULT retry settings against a server that is down: every TCP connection is
// accepted, its request read and the socket destroyed, so fetch and WebSocket both fail with
// network errors. The server counts each connection: the honest measure of how hard the client
// knocks. The policy under test: full-jitter exponential backoff from 1 s to 30 s, one schedule
// shared by both transports, so about 5–7 attempts in 15 s; 12 is the ceiling.

interface Scenario {
  name: string;
  channel: string;
  /** Undefined: the client's default choice ('auto'). */
  transport?: TransportChoice;
  duplex?: boolean;
}

interface Seen {
  transport: Transport;
  state: ConnectionState;
}

interface Figures {
  counts: Counts;
  tokens: number;
  seen: Seen[];
}

/** Runs one client against its own down server for {@link WINDOW_MS}, then closes both. */
async function measure({ channel, transport, duplex }: Scenario): Promise<Figures> {
  const down = await startDownServer();
  let tokens = 0;
  const seen: Seen[] = [];
  const client = createClient({
    url: down.url,
    getToken: () => {
      tokens++;
      return 'tok';
    },
    WebSocket: WebSocket as unknown as WebSocketConstructor,
  });
  try {
    client.on('state', ({ transport, next }) => {
      seen.push({ transport, state: next });
    });
    client.subscribe(channel, {
      ...(transport ? { transport } : {}),
      ...(duplex ? { duplex } : {}),
    });
    await sleep(WINDOW_MS);
    // Read both counters at the same instant: an attempt whose getToken ran but whose
    // socket is not accepted yet is what the "+ 1" below allows for.
    return { counts: down.counts(), tokens, seen: [...seen] };
  } finally {
    client.close();
    await down.close();
  }
}

const describeState = ({ transport, state }: Seen) =>
  `${transport}:${state.status}#${'attempt' in state ? state.attempt : '-'}`;

const scenarios: Scenario[] = [
  { name: "'auto' listen-only", channel: 'prices' },
  { name: "'auto' duplex", channel: 'room', duplex: true },
  { name: "explicit 'sse'", channel: 'prices', transport: 'sse' },
  { name: "explicit 'websocket'", channel: 'prices', transport: 'websocket' },
];

describe.concurrent('a client with default retry settings while the server is down', () => {
  for (const scenario of scenarios)
    it(`should not hammer the server (${scenario.name})`, { timeout: WINDOW_MS + 15_000 }, async ({
      expect,
    }) => {
      const { counts, tokens, seen } = await measure(scenario);
      const attempts = counts.total;
      const delays = seen.flatMap(({ state }) => (state.status === 'waiting' ? [state.delay] : []));
      const numbered = seen.filter(({ state }) => 'attempt' in state);
      const decreases = numbered.flatMap((s, i) => {
        const prev = numbered[i - 1];
        if (!prev || !('attempt' in prev.state) || !('attempt' in s.state)) return [];
        return s.state.attempt < prev.state.attempt
          ? [`${describeState(prev)} -> ${describeState(s)}`]
          : [];
      });
      console.log(
        `[server-down node] ${scenario.name}: ${attempts} connections in ${WINDOW_MS / 1000} s ` +
          `(sse ${counts.sse}, websocket ${counts.websocket}, other ${counts.other}); ` +
          `getToken ${tokens}; waits ${delays.length}, max delay ${Math.max(0, ...delays)} ms; ` +
          `attempt decreases ${decreases.length}`,
      );

      expectPolite(expect, { attempts, tokens, delays, decreases });
    });
});
