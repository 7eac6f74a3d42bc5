// The epoch fence across real Sentinel failovers (the rig of the scale-out note, §12): a primary,
// a replica and one Sentinel, publishers running through the switch. A graceful failover lets
// the old primary acknowledge writes that the new one never sees (a split brain): the fence
// must keep every id unique, replay exactly up to the lineage K and answer `gap: 'epoch'` above
// it. A crash loses nothing acknowledged, so nobody needs a gap.
import type { StoredEvent } from '@tidewire/server';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RedisEngine } from '../src/index.js';
import { closeAll, engineOverSentinel, event, inSeqOrder, recorder } from './utils/engine.js';
import { type SentinelRig, skipReason, startSentinelRig, stopAll, until } from './utils/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CHANNELS = ['c0', 'c1', 'c2', 'c3'];
const prefix = '{tw}';
// Room for everything a test publishes, so that only the failover can make a gap.
const options = { prefix, maxEvents: 200_000, logLength: 400_000 };

/** Appends on `engine` from `inFlight` loops until stopped; records what was acknowledged. */
function publishers(engine: RedisEngine, inFlight: number) {
  const acked: StoredEvent[] = [];
  let failed = 0;
  let n = 0;
  let running = true;
  const loops = Array.from({ length: inFlight }, async () => {
    while (running) {
      n += 1;
      try {
        acked.push(await engine.append(event(CHANNELS[n % CHANNELS.length]!, n)));
      } catch {
        failed += 1;
        await sleep(20);
      }
    }
  });
  return {
    acked,
    failed: () => failed,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every event of `channel` after `since`, page by page, with the first page's gap. */
async function replayAll(engine: RedisEngine, channel: string, since: string) {
  const limit = { maxEvents: 5000, maxBytes: 1 << 24 };
  const first = await engine.readPage(channel, since, limit);
  const entries = [...first.entries];
  let more = first.more;
  while (more) {
    const page = await engine.readPage(channel, entries.at(-1)!.id, limit);
    entries.push(...page.entries);
    more = page.more;
  }
  return { gap: first.gap, entries };
}

describe.skipIf(skipReason !== undefined)(
  `createRedisEngine across Sentinel failovers${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let rig: SentinelRig | undefined;
    afterEach(async () => {
      await closeAll();
      await rig?.stop();
      rig = undefined;
    });
    afterAll(stopAll);

    it('should never issue an id twice across SENTINEL FAILOVER, replay exactly up to the lineage, and report an epoch gap above it', async () => {
      rig = await startSentinelRig();
      const a = await engineOverSentinel(rig.sentinel.port, rig.name, options);
      const b = await engineOverSentinel(rig.sentinel.port, rig.name, options);
      const old = a.epoch;
      const onB = recorder();
      b.listen(onB);
      const load = publishers(a, 16);
      await sleep(500);
      await rig.sentinel.cli('SENTINEL', 'FAILOVER', rig.name);
      await until(
        () => load.acked.filter((e) => !e.id.startsWith(`${old}-`)).length >= 200,
        20_000,
        'publishes under a new epoch',
      );
      await load.stop();
      const now = load.acked.at(-1)!.id.split('-')[0]!;
      expect(now).not.toBe(old);
      expect(await rig.primaryPort()).toBe(rig.replica.port);
      // The node's own tail follows the new primary within seconds, not when the old one is
      // finally demoted (about ten seconds after the switch).
      await until(() => a.epoch === now, 3000, 'node A to follow the new epoch');

      // No id was acknowledged twice, under any epoch.
      const ids = load.acked.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(load.acked.map((e) => e.id.split('-')[0]))).toEqual(new Set([old, now]));

      // K: the last seq of the old epoch that the new primary holds.
      const lineage = Number(await rig.replica.cli('HGET', `${prefix}:lineage`, old));
      expect(lineage).toBeGreaterThan(0);
      const oldAcks = load.acked.filter((e) => e.id.startsWith(`${old}-`));
      const kept = oldAcks.filter((e) => e.seq <= lineage);
      const lost = oldAcks.filter((e) => e.seq > lineage);
      expect(kept.length).toBeGreaterThan(0);

      for (const channel of CHANNELS) {
        // From the start of the old epoch: exact, and holds every kept acknowledged event.
        const history = await replayAll(a, channel, `${old}-0`);
        expect(history.gap).toBeUndefined();
        const byId = new Map(history.entries.map((e) => [e.id, e.dataJson]));
        for (const ack of [...kept, ...load.acked.filter((e) => e.id.startsWith(`${now}-`))]) {
          if (ack.channel === channel) expect(byId.get(ack.id)).toBe(ack.dataJson);
        }
        // Nothing acknowledged above K under the old epoch survived: those ids are not reused.
        for (const ack of lost) {
          if (ack.channel === channel) expect(byId.has(ack.id)).toBe(false);
        }
        // Seqs above K continue under the new epoch only.
        for (const entry of history.entries) {
          expect(entry.id.startsWith(entry.seq <= lineage ? `${old}-` : `${now}-`)).toBe(true);
        }
        // From K itself: exact. From above K under the old epoch: an epoch gap.
        expect(
          (await a.readPage(channel, `${old}-${lineage}`, { maxEvents: 1, maxBytes: 1 })).gap,
        ).toBeUndefined();
        expect(
          (await a.readPage(channel, `${old}-${lineage + 1}`, { maxEvents: 1, maxBytes: 1 })).gap,
        ).toBe('epoch');
      }
      for (const ack of lost.slice(0, 20)) {
        expect((await a.readPage(ack.channel, ack.id, { maxEvents: 1, maxBytes: 1 })).gap).toBe(
          'epoch',
        );
      }

      // The other node followed: in seq order between resets, now on the new epoch.
      await until(() => b.epoch === now, 10_000, 'node B to follow the new epoch');
      expect(inSeqOrder(onB.timeline)).toBe(true);
      console.info(
        `SENTINEL FAILOVER: ${load.acked.length} acked (${load.failed()} failed), K = ${lineage}, ` +
          `${lost.length} acked above K (lost, answered with gap: epoch), node B resets: ${onB.resets.length}`,
      );
    }, 40_000);

    it('should lose nothing acknowledged when the primary is killed, so that no resume needs a gap', async () => {
      rig = await startSentinelRig();
      const a = await engineOverSentinel(rig.sentinel.port, rig.name, options);
      const old = a.epoch;
      const load = publishers(a, 16);
      await sleep(500);
      await rig.primary.kill();
      await until(
        () => load.acked.filter((e) => !e.id.startsWith(`${old}-`)).length >= 200,
        20_000,
        'publishes under a new epoch',
      );
      await load.stop();
      const now = load.acked.at(-1)!.id.split('-')[0]!;
      expect(now).not.toBe(old);
      await until(() => a.epoch === now, 3000, 'node A to follow the new epoch');
      const ids = load.acked.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);

      const lineage = Number(await rig.replica.cli('HGET', `${prefix}:lineage`, old));
      const oldAcks = load.acked.filter((e) => e.id.startsWith(`${old}-`));
      expect(oldAcks.length).toBeGreaterThan(0);
      expect(Math.max(...oldAcks.map((e) => e.seq))).toBeLessThanOrEqual(lineage);
      for (const channel of CHANNELS) {
        const history = await replayAll(a, channel, `${old}-0`);
        expect(history.gap).toBeUndefined();
        const byId = new Map(history.entries.map((e) => [e.id, e.dataJson]));
        for (const ack of load.acked) {
          if (ack.channel === channel) expect(byId.get(ack.id)).toBe(ack.dataJson);
        }
        const newest = oldAcks.filter((e) => e.channel === channel).at(-1);
        if (newest) {
          expect(
            (await a.readPage(channel, newest.id, { maxEvents: 1, maxBytes: 1 })).gap,
          ).toBeUndefined();
        }
      }
      console.info(
        `kill -9: ${load.acked.length} acked (${load.failed()} failed), K = ${lineage}, none lost`,
      );
    }, 40_000);
  },
);
