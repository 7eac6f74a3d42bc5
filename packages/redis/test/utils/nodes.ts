// Tidewire nodes in processes of their own, for the cluster tests: each runs node-entry.ts (a
// @tidewire/server with a Redis engine behind Sentinel) on a fixed loopback port, so that a node
// killed with SIGKILL can be started again where the load balancer expects it. The program is
// bundled from source with esbuild, which resolves workspace packages through the
// @tidewire/source condition as vitest does: no build needed.
import { type ChildProcess, spawn } from 'node:child_process';
import { nodeBundle } from '../../../../testing/node-bundle.js';
import { killAll, signal } from './processes.js';

/** What a node is told at start, as JSON. */
export interface NodeSettings {
  /** The port it listens on, on 127.0.0.1. */
  port: number;
  /** The Sentinel's port and the name it monitors the primary under. */
  sentinelPort: number;
  name: string;
  /** The engine's key prefix. */
  prefix: string;
  /** The server's `staleAfterMs`; the default (30 s) when left out. */
  staleAfterMs?: number;
}

/** One node process; {@link TidewireNode.start} starts it again after a kill. */
export interface TidewireNode {
  readonly port: number;
  /** The pid of the current process, 0 while it is not running. */
  readonly pid: number;
  /** `http://127.0.0.1:<port>/tidewire` */
  readonly base: string;
  /** Starts the process and waits until it serves. */
  start(): Promise<void>;
  /** SIGKILL, and waits for the process to exit: a crash. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful stop), and waits for the process to exit. */
  stop(): Promise<void>;
  /** What the node logged (warnings and errors), across its restarts. */
  log(): string;
}

const START_TIMEOUT_MS = 20_000;

/** The node's program, bundled once per test file; {@link removeNodeBuild} deletes it. */
const program = nodeBundle(new URL('./node-entry.ts', import.meta.url), 'node');
const running = new Set<ChildProcess>();

/** Deletes the bundle. For `afterAll`. */
export function removeNodeBuild(): void {
  program.remove();
}

/** Kills every node process still running, by pid. For `afterAll`, also after a failure. */
export function killNodes(): Promise<void> {
  return killAll(running);
}

/** A node that is not started yet: call `start()`. */
export function createNode(settings: NodeSettings): TidewireNode {
  const file = program.file();
  let child: ChildProcess | undefined;
  let log = '';
  return {
    port: settings.port,
    get pid() {
      return child?.exitCode === null && child.signalCode === null ? (child.pid ?? 0) : 0;
    },
    base: `http://127.0.0.1:${settings.port}/tidewire`,
    async start() {
      const started = spawn(process.execPath, [file, JSON.stringify(settings)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = started;
      running.add(started);
      started.stderr?.setEncoding('utf8');
      started.stderr?.on('data', (chunk: string) => {
        log += chunk;
      });
      const exited = new Promise<never>((_, reject) => {
        started.once('exit', (code, signalName) => {
          running.delete(started);
          reject(new Error(`node on port ${settings.port} exited (${signalName ?? code})`));
        });
      });
      exited.catch(() => {});
      const listening = new Promise<void>((resolve) => {
        let out = '';
        started.stdout?.setEncoding('utf8');
        started.stdout?.on('data', (chunk: string) => {
          out += chunk;
          if (out.includes(`listening ${settings.port}`)) resolve();
        });
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`node on port ${settings.port} did not start: ${log}`)),
          START_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([listening, exited, timeout]);
      } catch (error) {
        await signal(started, 'SIGKILL');
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
    kill: async () => {
      if (child) await signal(child, 'SIGKILL');
    },
    stop: async () => {
      if (child) await signal(child, 'SIGTERM');
    },
    log: () => log,
  };
}
