// The chaos controls `node scripts/cluster.mjs` gives the playground's pages (its `chaos` option):
// kill a node, kill the Redis primary, fail Redis over. The playground's built-in controls that act
// on its own Tidewire server are left out: the pages' connections go through nginx to the nodes.
// What happens next is cluster.mjs's: a killed node or Redis instance is started again, and it
// prints what it does.
import { waitFor } from './rig.mjs';

/** The playground's built-in controls that act on its own Tidewire server, not on the cluster. */
const embeddedOnly = [
  'drop',
  'block-websocket',
  'allow-websocket',
  'expire-tokens',
  'stall',
  'restart-kept',
  'restart-lost',
];

/** Why they are left out: it reads after "left out, as". */
const reason = "the pages connect to the nodes through nginx, not to the playground's own server";

/**
 * The playground's `chaos` option for a cluster.
 * - `nodes`: `{ label, current, down }` each, `current` as `startNode` returns it and `down` true
 *   from its exit until it runs again;
 * - `redis`: `{ label, process }` each, `process` as `startRedis` returns it;
 * - `rig`: what `startSentinelRig` returns;
 * - `say`: prints a line.
 */
export function clusterChaos({ nodes, redis, rig, say }) {
  const killNode = (node) => ({
    name: `kill-${node.label.replaceAll(' ', '-')}`,
    label: `Kill ${node.label}`,
    description: `SIGKILL ${node.label}: its connections move to the other node, and it starts again 2 s later`,
    async run() {
      if (node.down)
        return { action: `${capitalize(node.label)} is down already: it starts again` };
      const { pid } = node.current;
      await node.current.kill();
      return {
        action: `Killed ${node.label} (pid ${pid}): its connections move to the other node, and it starts again in 2 s`,
      };
    },
  });

  /** The instance the Sentinel names as the primary now. */
  const primary = async () => {
    const port = await rig.primaryPort();
    const entry = redis.find((candidate) => candidate.process.port === port);
    if (entry === undefined) throw new Error(`the Sentinel names port ${port} as the primary`);
    return entry;
  };

  const killPrimary = {
    name: 'kill-redis-primary',
    label: 'Kill the Redis primary',
    description:
      'SIGKILL the Redis primary: the Sentinel promotes the replica within about 3 s, and the killed instance comes back as its replica',
    async run() {
      const entry = await primary();
      const answering = await entry.process.cli('PING').then(
        (answer) => answer === 'PONG',
        () => false,
      );
      if (!answering) {
        return {
          action: `The Redis primary, ${entry.label}, is down already: the Sentinel is promoting the replica`,
        };
      }
      const { pid } = entry.process;
      await entry.process.kill();
      return {
        action: `Killed the Redis primary, ${entry.label} (pid ${pid}): the Sentinel promotes the replica within about 3 s`,
      };
    },
  };

  const failOver = {
    name: 'fail-over-redis',
    label: 'Fail over Redis',
    description:
      'SENTINEL FAILOVER: the replica becomes the primary, a split brain for a moment (pages that got an event the new primary lacks see a gap)',
    tone: 'warn',
    async run() {
      const from = await primary();
      const answer = await rig.sentinel.cli('SENTINEL', 'FAILOVER', rig.name).catch((error) => {
        throw new Error(error.stdout?.trim() || error.message);
      });
      if (answer !== 'OK') throw new Error(answer);
      const to = await waitFor(
        async () => {
          const entry = await primary();
          return entry !== from && entry;
        },
        15_000,
        'the Sentinel to promote the replica',
      );
      say(
        `SENTINEL FAILOVER: ${to.label} is the primary now (kill -9 ${to.process.pid}), ${from.label} its replica`,
      );
      return {
        action: `Failed Redis over: ${to.label} is the primary now, ${from.label} its replica`,
      };
    },
  };

  return {
    controls: [...nodes.map(killNode), killPrimary, failOver],
    unavailable: Object.fromEntries(embeddedOnly.map((name) => [name, reason])),
  };
}

const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);
