// haproxy as the load balancer of the cluster tests, configured by docs/deploying.md itself: the
// configuration is the guide's haproxy block for a cluster, read from the Markdown, with only
// what a loopback run must change (the `bind` line, plain HTTP on 127.0.0.1 instead of TLS on
// :443, and the servers' addresses); the timeouts, retries, balance and health checks are the
// guide's own, so a change that breaks them in the guide breaks the tests. haproxy runs in the
// foreground (`-db`) as one process, started here and stopped by its pid; its config is in a
// scratch folder of its own, and what it reports (servers going UP and DOWN) goes to its stderr.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployingBlock } from '../../../../testing/guide.js';
import { killAll } from './processes.js';
import { freePort, until } from './redis.js';

export const HAPROXY = '/usr/sbin/haproxy';

/** Why the haproxy tests are skipped on this machine, or undefined when they can run. */
export const haproxySkipReason: string | undefined = existsSync(HAPROXY)
  ? undefined
  : `${HAPROXY} is missing (apt-get install haproxy)`;

/** The guide's haproxy configuration for several nodes (the one with the health checks). */
export function guideClusterConfig(): string {
  return deployingBlock('## Scaling out', 'haproxy');
}

/**
 * `config` for a loopback run: its one `bind` line becomes `bind 127.0.0.1:<port>`, and the
 * address of each `server` line of a backend named in `backends` becomes `127.0.0.1:<port>`, the
 * ports in order; the rest of every line is kept. Throws when the config does not have exactly
 * one `bind`, or a backend has another number of servers than ports given.
 */
export function forLoopback(
  config: string,
  port: number,
  backends: Readonly<Record<string, readonly number[]>>,
): string {
  let section = '';
  let binds = 0;
  const used = new Map<string, number>();
  const lines = config.split('\n').map((line) => {
    const header = /^(\w[\w-]*)(?:\s+(\S+))?/.exec(line);
    if (header) {
      section = `${header[1]} ${header[2] ?? ''}`.trim();
      return line;
    }
    const bind = /^(\s+)bind\s/.exec(line);
    if (bind) {
      binds += 1;
      return `${bind[1]}bind 127.0.0.1:${port}`;
    }
    const server = /^(\s+server\s+\S+\s+)\S+(.*)$/.exec(line);
    const backend = /^(?:backend|listen) (\S+)$/.exec(section)?.[1];
    if (server && backend !== undefined && backends[backend] !== undefined) {
      const index = used.get(backend) ?? 0;
      used.set(backend, index + 1);
      const target = backends[backend][index];
      if (target === undefined) {
        throw new Error(`backend ${backend} has more servers than the ${index} ports given`);
      }
      return `${server[1]}127.0.0.1:${target}${server[2]}`;
    }
    return line;
  });
  if (binds !== 1) throw new Error(`the config has ${binds} bind lines, expected one`);
  for (const [backend, ports] of Object.entries(backends)) {
    const count = used.get(backend) ?? 0;
    if (count !== ports.length) {
      throw new Error(`backend ${backend} has ${count} servers, expected ${ports.length}`);
    }
  }
  return lines.join('\n');
}

/** A running haproxy. */
export interface Haproxy {
  readonly port: number;
  readonly pid: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The configuration it runs. */
  readonly config: string;
  /** What it wrote to stderr so far: warnings, and every server going UP or DOWN. */
  log(): string;
  /**
   * The last state haproxy reported for `server` (`<backend>/<name>`), undefined while it has
   * reported none (a server starts UP, and a first failed check takes it DOWN).
   */
  serverState(server: string): 'UP' | 'DOWN' | undefined;
  stop(): Promise<void>;
}

/** Every haproxy started and still running; each removes its scratch folder when it exits. */
const started = new Set<ChildProcess>();

/**
 * Starts haproxy on a free port with the config `configure(port)` returns, and waits until it
 * answers HTTP (any status: a request for `/` goes to whatever the config routes it to).
 */
export async function startHaproxy(configure: (port: number) => string): Promise<Haproxy> {
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'tidewire-haproxy-'));
    const port = await freePort();
    const config = configure(port);
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    const child = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    started.add(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        started.delete(child);
        rmSync(dir, { recursive: true, force: true });
        resolve();
      });
    });
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {}
      }
      await exited;
    };
    const running = () => child.exitCode === null && child.signalCode === null;
    try {
      await until(
        async () =>
          !running() ||
          (await fetch(`http://127.0.0.1:${port}/`, {
            headers: { connection: 'close' },
            signal: AbortSignal.timeout(2000),
          })
            .then(async (response) => {
              await response.body?.cancel();
              return true;
            })
            .catch(() => false)),
        10_000,
        'haproxy to answer',
      );
      if (!running()) throw new Error(`haproxy exited at start: ${stderr}`);
    } catch (error) {
      await stop();
      // Another process may have taken the port since it was found free.
      if (attempt === 3) throw new Error(`haproxy did not start: ${stderr || String(error)}`);
      continue;
    }
    return {
      port,
      pid: child.pid ?? 0,
      origin: `http://127.0.0.1:${port}`,
      config,
      log: () => stderr,
      serverState(server) {
        const reports = [...stderr.matchAll(/Server (\S+) is (UP|DOWN)\b/g)];
        return reports.filter((report) => report[1] === server).at(-1)?.[2] as
          | 'UP'
          | 'DOWN'
          | undefined;
      },
      stop,
    };
  }
}

/** Stops every haproxy these helpers started and that is still running (for afterAll). */
export function stopHaproxy(): Promise<void> {
  return killAll(started);
}
