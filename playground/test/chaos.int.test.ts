/**
 * The playground's chaos controls over HTTP: what `/api/stats` lists for the pages to render,
 * and what `POST /api/chaos/<name>` answers, by default and with a host's own controls and
 * built-in ones left out (as `node scripts/cluster.mjs` starts it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChaosControl,
  type Playground,
  type PlaygroundOptions,
  startPlayground,
} from '../src/server/playground';

interface Listed {
  name: string;
  label: string;
  description: string;
  tone: string;
}

interface Entry {
  action: string;
  affected?: number;
  id: number;
  at: number;
}

/** The parts of `/api/stats` about chaos. */
interface Stats {
  controls: Listed[];
  unavailable: Array<{ name: string; label: string; reason: string }>;
  chaos: Entry[];
  webSocketEnabled: boolean;
  paused: boolean;
  restarts: number;
}

const running: Playground[] = [];

async function start(options: PlaygroundOptions = {}): Promise<Playground> {
  const playground = await startPlayground({ port: 0, ...options });
  running.push(playground);
  return playground;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((playground) => playground.close()));
});

async function stats(playground: Playground): Promise<Stats> {
  const response = await fetch(`${playground.url}api/stats`);
  expect(response.status).toBe(200);
  return (await response.json()) as Stats;
}

/** `POST /api/chaos/<name>`: the status, the content type and the JSON body. */
async function press(playground: Playground, name: string) {
  const response = await fetch(`${playground.url}api/chaos/${name}`, { method: 'POST' });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** Name, label and tone of each listed control, in order. */
const shown = (controls: Listed[]) =>
  controls.map(({ name, label, tone }) => ({ name, label, tone }));

/** The controls the pages showed before a host could add any: the same names, labels and order. */
const builtInShown = [
  { name: 'drop', label: 'Drop connections', tone: 'danger' },
  { name: 'block-websocket', label: 'Block WebSocket', tone: 'warn' },
  { name: 'expire-tokens', label: 'Expire tokens', tone: 'warn' },
  { name: 'stall', label: 'Stall streams', tone: 'warn' },
  { name: 'restart-kept', label: 'Restart (keep history)', tone: 'danger' },
  { name: 'restart-lost', label: 'Restart (lose history)', tone: 'danger' },
  { name: 'pause', label: 'Pause publishers', tone: 'neutral' },
];

/** The built-in controls that act on the playground's own Tidewire server. */
const embedded = [
  'drop',
  'block-websocket',
  'allow-websocket',
  'expire-tokens',
  'stall',
  'restart-kept',
  'restart-lost',
] as const;

const reason = 'the pages connect to the nodes, not to the playground';

/** A host's control that counts its runs, as the cluster's "Kill node 1" would kill. */
function counted(overrides: Partial<ChaosControl> = {}): ChaosControl & { runs: number } {
  const control: ChaosControl & { runs: number } = {
    name: 'kill-node-1',
    label: 'Kill node 1',
    description: 'SIGKILL node 1; the cluster starts it again',
    runs: 0,
    async run() {
      control.runs += 1;
      return { action: `Killed node 1 (run ${control.runs})`, affected: 2 };
    },
    ...overrides,
  };
  return control;
}

describe('the chaos controls by default', () => {
  it("should list exactly today's controls, one of each opposite pair, and leave none out", async () => {
    const playground = await start();
    const { controls, unavailable } = await stats(playground);
    expect(shown(controls)).toEqual(builtInShown);
    for (const control of controls) expect(control.description).not.toBe('');
    expect(unavailable).toEqual([]);
  });

  it('should swap each opposite control as the state changes, and run every built-in one', async () => {
    const playground = await start();
    expect((await press(playground, 'block-websocket')).status).toBe(200);
    expect((await press(playground, 'pause')).status).toBe(200);
    const swapped = await stats(playground);
    expect(swapped.webSocketEnabled).toBe(false);
    expect(swapped.paused).toBe(true);
    expect(swapped.controls.map((control) => control.name)).toEqual([
      'drop',
      'allow-websocket',
      'expire-tokens',
      'stall',
      'restart-kept',
      'restart-lost',
      'resume',
    ]);
    for (const name of [
      'allow-websocket',
      'resume',
      'drop',
      'expire-tokens',
      'stall',
      'restart-kept',
      'restart-lost',
    ]) {
      const reply = await press(playground, name);
      expect(reply.status, name).toBe(200);
      expect(reply.body.action, name).toEqual(expect.any(String));
    }
    const after = await stats(playground);
    expect(shown(after.controls)).toEqual(builtInShown);
    expect(after.restarts).toBe(2);
    expect(after.chaos.map((entry) => entry.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('should answer 404 with JSON naming an unknown control', async () => {
    const playground = await start();
    const reply = await press(playground, 'kill-node-1');
    expect(reply.status).toBe(404);
    expect(reply.type).toBe('application/json');
    expect(reply.body).toEqual({ error: 'no chaos control "kill-node-1"', control: 'kill-node-1' });
    expect((await stats(playground)).chaos).toEqual([]);
  });
});

describe("the chaos controls with a host's own", () => {
  it("should list a host's control first and run it, logging its entry for every page", async () => {
    const kill = counted();
    const failOver = counted({
      name: 'fail-over-redis',
      label: 'Fail over Redis',
      description: 'SENTINEL FAILOVER',
      tone: 'warn',
      run: async () => ({ action: 'Redis failed over' }),
    });
    const playground = await start({
      chaos: {
        controls: [kill, failOver],
        unavailable: Object.fromEntries(embedded.map((name) => [name, reason])),
      },
    });
    const before = await stats(playground);
    expect(before.controls).toEqual([
      {
        name: 'kill-node-1',
        label: 'Kill node 1',
        description: 'SIGKILL node 1; the cluster starts it again',
        tone: 'danger',
      },
      {
        name: 'fail-over-redis',
        label: 'Fail over Redis',
        description: 'SENTINEL FAILOVER',
        tone: 'warn',
      },
      {
        name: 'pause',
        label: 'Pause publishers',
        description: 'Stop publishing so that the counts settle',
        tone: 'neutral',
      },
    ]);

    const reply = await press(playground, 'kill-node-1');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      action: 'Killed node 1 (run 1)',
      affected: 2,
      id: 1,
      at: expect.any(Number),
    });
    expect(kill.runs).toBe(1);
    expect((await stats(playground)).chaos).toEqual([reply.body]);

    // The built-in controls that apply still run beside the host's.
    expect((await press(playground, 'pause')).status).toBe(200);
    expect((await press(playground, 'fail-over-redis')).status).toBe(200);
    const after = await stats(playground);
    expect(after.chaos.map((entry) => entry.action)).toEqual([
      'Killed node 1 (run 1)',
      'Publishers paused',
      'Redis failed over',
    ]);
    expect(after.controls.map((control) => control.name)).toEqual([
      'kill-node-1',
      'fail-over-redis',
      'resume',
    ]);
  });

  it('should leave out the built-in controls that do not apply and answer 409 naming each and why', async () => {
    const playground = await start({
      chaos: {
        controls: [counted()],
        unavailable: Object.fromEntries(embedded.map((name) => [name, reason])),
      },
    });
    const before = await stats(playground);
    const listed = before.controls.map((control) => control.name);
    for (const name of embedded) expect(listed).not.toContain(name);
    expect(before.unavailable).toEqual([
      { name: 'drop', label: 'Drop connections', reason },
      { name: 'block-websocket', label: 'Block WebSocket', reason },
      { name: 'allow-websocket', label: 'Allow WebSocket', reason },
      { name: 'expire-tokens', label: 'Expire tokens', reason },
      { name: 'stall', label: 'Stall streams', reason },
      { name: 'restart-kept', label: 'Restart (keep history)', reason },
      { name: 'restart-lost', label: 'Restart (lose history)', reason },
    ]);

    for (const name of embedded) {
      const reply = await press(playground, name);
      expect(reply.status, name).toBe(409);
      expect(reply.type, name).toBe('application/json');
      expect(reply.body, name).toEqual({
        error: `chaos control "${name}" is left out here, as ${reason}`,
        control: name,
        reason,
      });
    }
    // None of them ran: WebSocket is still allowed, the server never restarted, nothing logged.
    const after = await stats(playground);
    expect(after.webSocketEnabled).toBe(true);
    expect(after.restarts).toBe(0);
    expect(after.chaos).toEqual([]);
  });

  it("should answer 500 naming a host's control that failed, and log nothing", async () => {
    const playground = await start({
      chaos: {
        controls: [
          counted({
            name: 'fail-over-redis',
            run: () => Promise.reject(new Error('NOGOODSLAVE No suitable replica to promote')),
          }),
        ],
      },
    });
    const reply = await press(playground, 'fail-over-redis');
    expect(reply.status).toBe(500);
    expect(reply.body).toEqual({
      error: 'chaos control "fail-over-redis" failed: NOGOODSLAVE No suitable replica to promote',
      control: 'fail-over-redis',
    });
    expect((await stats(playground)).chaos).toEqual([]);
  });

  it('should refuse malformed or taken names, and unknown built-in ones, before starting', async () => {
    const refused = (chaos: PlaygroundOptions['chaos']) =>
      startPlayground({ port: 0, ...(chaos && { chaos }) });
    await expect(refused({ controls: [counted({ name: 'Kill node' })] })).rejects.toThrow(
      'chaos control name "Kill node": use lowercase letters, digits and single hyphens',
    );
    await expect(refused({ controls: [counted({ name: 'drop' })] })).rejects.toThrow(
      'chaos control name "drop" is taken',
    );
    await expect(refused({ controls: [counted(), counted()] })).rejects.toThrow(
      'chaos control name "kill-node-1" is taken',
    );
    await expect(
      refused({ unavailable: { 'kill-node-1': reason } as Record<string, string> }),
    ).rejects.toThrow('no built-in chaos control "kill-node-1"');
  });
});
