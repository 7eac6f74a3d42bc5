import type { ServerFrame } from '@tidewire/core/protocol';
import { describe, expect, it } from 'vitest';
import { createControlledEngine } from '../../../testing/controlled-engine.js';
import { startServer, type TestServer } from './utils/server.js';
import { type Subscription, subscribe, type Transport } from './utils/transport.js';
import { waitFor } from './utils/wait.js';

// With an engine across the network a page read resolves later, and events are appended (and
// reach the node's listeners) while it is in flight. Whether the page holds them or not, a
// subscriber gets every event once, in order: the replay, then what arrived during the last
// read, then live events.

type EventFrame = Extract<ServerFrame, { type: 'event' }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Publishes on `channel` and records the id under it in `expected`. */
async function publishTo(
  server: TestServer,
  expected: Map<string, string[]>,
  channel: string,
  data: unknown,
): Promise<string> {
  const list = expected.get(channel)!;
  const index = list.push('') - 1;
  const { id } = await server.tw.publish(channel, data);
  list[index] = id;
  return id;
}

/** Publishes one last event per channel, then checks that every event arrived once, in order. */
async function expectEveryEventOnce(
  server: TestServer,
  sub: Subscription,
  expected: Map<string, string[]>,
  transport: Transport,
): Promise<void> {
  const last = await Promise.all(
    [...expected.keys()].map((channel) => publishTo(server, expected, channel, 'last')),
  );
  await waitFor(
    () => last.every((id) => sub.events().some((event) => event.id === id)),
    10_000,
    'the last events',
  );
  await sleep(20);
  const events = sub.events() as EventFrame[];
  expect(sub.frames().filter((f) => f.type === 'gap')).toEqual([]);
  for (const [channel, ids] of expected) {
    expect(events.filter((e) => e.channel === channel).map((e) => e.id)).toEqual(ids);
  }
  expect(events).toHaveLength([...expected.values()].flat().length);
  if (transport === 'sse') {
    // One stream is one sequence across its channels: its last id resumes every one.
    const sequence = events.map((e) => Number(e.id.split('-')[1]));
    expect(sequence).toEqual([...sequence].sort((x, y) => x - y));
  }
}

describe.each<Transport>(['sse', 'websocket'])('the %s subscribe handshake', (transport) => {
  describe.each(['call', 'resolve'] as const)(
    'with pages read when the read is %sd',
    (snapshot) => {
      it.each([
        ['one channel', ['a']],
        ['several channels', ['a', 'b', 'c']],
      ])(
        'should deliver what is appended during the last page read once, after the replay, then live events (%s)',
        async (_name, channels) => {
          const engine = createControlledEngine({ snapshot });
          const server = await startServer({ engine });
          const expected = new Map<string, string[]>(channels.map((c) => [c, []]));
          const since = (await server.tw.publish('elsewhere', 0)).id;
          for (let n = 0; n < 3; n++) {
            for (const channel of channels) await publishTo(server, expected, channel, n);
          }
          engine.holdReads();
          const sub = await subscribe(
            transport,
            server,
            channels.map((channel) => ({ channel, since })),
          );
          await waitFor(() => engine.pendingReads > 0, 3000, 'a page read');
          // Appended, and delivered to the node, while the only page read is in flight.
          for (let n = 3; n < 6; n++) {
            for (const channel of channels) await publishTo(server, expected, channel, n);
          }
          expect(engine.appendsDuringReads).toBe(3 * channels.length);
          engine.releaseReads();
          await expectEveryEventOnce(server, sub, expected, transport);
        },
      );

      it.each([
        ['one channel', ['a']],
        ['several channels', ['a', 'b', 'c']],
      ])(
        'should lose and repeat nothing while publishes go on during a replay of many pages (%s)',
        async (_name, channels) => {
          const engine = createControlledEngine({ snapshot, readDelayMs: 3 });
          // Pages of 4 KiB: some twenty events each.
          const server = await startServer({ engine, limits: { sendBufferBytes: 16 * 1024 } });
          const expected = new Map<string, string[]>(channels.map((c) => [c, []]));
          const padding = 'x'.repeat(150);
          const since = (await server.tw.publish('elsewhere', 0)).id;
          for (let n = 0; n < 150; n++) {
            for (const channel of channels)
              await publishTo(server, expected, channel, { n, padding });
          }
          const sub = await subscribe(
            transport,
            server,
            channels.map((channel) => ({ channel, since })),
          );
          // Publishes go on through the replay and after it.
          for (let n = 150; n < 250; n++) {
            await publishTo(server, expected, channels[n % channels.length]!, { n, padding });
            await sleep(1);
          }
          expect(engine.appendsDuringReads).toBeGreaterThan(0);
          await expectEveryEventOnce(server, sub, expected, transport);
        },
      );
    },
  );
});
