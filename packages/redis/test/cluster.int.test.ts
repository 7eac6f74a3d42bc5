// The engine on Redis Cluster (the rig of the scale-out note, §12): every key of a hub in one
// slot, commands routed to the node that serves it, and a CLUSTER FAILOVER of that node, which
// waits for the replica to catch up: no id issued twice, nothing acknowledged lost, no gap.
import type { StoredEvent } from '@tidewire/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisEngine } from '../src/index.js';
import { closeAll, engineOverCluster, event, inSeqOrder, recorder } from './utils/engine.js';
import { type ClusterRig, skipReason, startClusterRig, stopAll, until } from './utils/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const all = { maxEvents: 100_000, maxBytes: 1 << 30 };

describe.skipIf(skipReason !== undefined)(
  `createRedisEngine on Redis Cluster${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let rig: ClusterRig;
    beforeAll(async () => {
      rig = await startClusterRig();
    }, 30_000);
    afterAll(async () => {
      await closeAll();
      await rig?.stop();
      await stopAll();
    });

    it('should serve a hub from the node that owns its slot, and fan out to every node', async () => {
      const port = rig.nodes[0]!.port;
      const a = await engineOverCluster(port, { prefix: '{c1}' });
      const b = await engineOverCluster(rig.nodes[5]!.port, { prefix: '{c1}' });
      const onB = recorder();
      b.listen(onB);
      const stored = await a.append(event('x', 1));
      expect(stored.id).toBe(`${a.epoch}-1`);
      await until(() => onB.events.length === 1, 5000, 'delivery on B');
      expect(onB.events[0]).toEqual(stored);
      expect(await b.readPage('x', `${a.epoch}-0`, all)).toMatchObject({
        gap: undefined,
        entries: [{ id: stored.id }],
      });
      const { primary } = await rig.ownersOf('{c1}');
      expect(Number(await primary.cli('EXISTS', '{c1}:log'))).toBe(1);
    });

    it('should keep every acknowledged event and issue no id twice across CLUSTER FAILOVER', async () => {
      const prefix = '{c2}';
      const a = await engineOverCluster(rig.nodes[1]!.port, { prefix, maxEvents: 100_000 });
      const b = await engineOverCluster(rig.nodes[2]!.port, { prefix, maxEvents: 100_000 });
      const old = a.epoch;
      const onB = recorder();
      b.listen(onB);
      const acked: StoredEvent[] = [];
      let failed = 0;
      let running = true;
      let n = 0;
      const publish = async (engine: RedisEngine) => {
        while (running) {
          n += 1;
          try {
            acked.push(await engine.append(event(`c${n % 4}`, n)));
          } catch {
            failed += 1;
            await sleep(20);
          }
        }
      };
      const loops = Array.from({ length: 16 }, (_, i) => publish(i % 2 ? a : b));
      await sleep(500);
      const { replica } = await rig.ownersOf(prefix);
      await replica.cli('CLUSTER', 'FAILOVER');
      await until(
        () => acked.filter((e) => !e.id.startsWith(`${old}-`)).length >= 200,
        20_000,
        'publishes under a new epoch',
      );
      running = false;
      await Promise.all(loops);
      const now = acked.at(-1)!.id.split('-')[0]!;
      expect(now).not.toBe(old);
      const ids = acked.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      // CLUSTER FAILOVER lets the replica catch up first: the lineage holds every acked seq.
      const oldSeqs = acked.filter((e) => e.id.startsWith(`${old}-`)).map((e) => e.seq);
      const lineage = Number(await replica.cli('HGET', `${prefix}:lineage`, old));
      expect(Math.max(...oldSeqs)).toBeLessThanOrEqual(lineage);
      for (const channel of ['c0', 'c1', 'c2', 'c3']) {
        const replay = await a.readPage(channel, `${old}-0`, all);
        expect(replay.gap).toBeUndefined();
        const byId = new Map(replay.entries.map((e) => [e.id, e.dataJson]));
        for (const ack of acked) {
          if (ack.channel === channel) expect(byId.get(ack.id)).toBe(ack.dataJson);
        }
      }
      await until(() => a.epoch === now && b.epoch === now, 10_000, 'both nodes to follow');
      expect(inSeqOrder(onB.timeline)).toBe(true);
      console.info(
        `CLUSTER FAILOVER: ${acked.length} acked (${failed} failed), K = ${lineage}, none lost, node B resets: ${onB.resets.length}`,
      );
    }, 40_000);
  },
);
