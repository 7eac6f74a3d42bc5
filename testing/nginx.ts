// nginx for the integration tests: one launcher that takes the `http`-level configuration a test
// is about (its `map`, `upstream` and `server` blocks, most often a guide's, see guide.ts) and
// supplies the rest: a scratch folder with the pid file, error log and temporary paths, a free
// port on 127.0.0.1, `daemon off` and `master_process off` (one process, the child spawned here,
// stopped by its pid), a wait until it answers, and the folder removed once it has exited. And
// `nginxForLoopback`, which makes a guide's configuration run on loopback by changing only its
// addresses.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's nginx; override with TIDEWIRE_NGINX for other systems. */
export const nginxPath: string = process.env.TIDEWIRE_NGINX ?? '/usr/sbin/nginx';

/** Why the nginx tests are skipped on this machine, or undefined when they can run. */
export const nginxSkipReason: string | undefined = existsSync(nginxPath)
  ? undefined
  : `${nginxPath} is missing (apt-get install nginx-light)`;

/** A running nginx of one test. */
export interface Nginx {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Its process id. */
  readonly pid: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The whole configuration it runs. */
  readonly config: string;
  /** Its error log so far, and what it wrote to stderr. */
  log(): string;
  /** Stops it by its pid (a fast shutdown, SIGKILL after 3 s), and removes its folder. */
  stop(): Promise<void>;
}

/** A free port on 127.0.0.1, as the kernel gives one out. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The whole configuration around `http`, the `http`-level text of a test. One process: with
 * `master_process off` there are no workers, so none switches to the `nobody` user (which, in a
 * container run as root, could not write the temporary files of the buffers) and `user` is not
 * needed. The access log is off: its default path is the system's, outside the scratch folder.
 */
function wholeConfig(dir: string, http: string): string {
  return `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};

${http}
}
`;
}

/** Every nginx started and still running; each removes its scratch folder when it exits. */
const running = new Set<ChildProcess>();

/** Sends `signal` to a child by its pid, unless it has exited. */
function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, name);
  } catch {
    // Already gone.
  }
}

/** Resolves after `ms`. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Starts nginx on a free port of 127.0.0.1 with the `http`-level configuration that
 * `configure(port)` returns (whose `server` must listen on `127.0.0.1:<port>`), and resolves
 * once it answers HTTP (any status: `/` goes wherever the configuration sends it). Another
 * process may take the port between the probe and nginx's bind: then it tries again, three
 * times in all.
 */
export async function startNginx(configure: (port: number) => string): Promise<Nginx> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const http = configure(port);
    const dir = mkdtempSync(join(tmpdir(), 'tidewire-nginx-'));
    const config = wholeConfig(dir, http);
    const file = join(dir, 'nginx.conf');
    const errorLog = join(dir, 'error.log');
    writeFileSync(file, config);
    // `-e`: the errors before the configuration is read go to the scratch folder too.
    const child = spawn(nginxPath, ['-p', dir, '-c', file, '-e', errorLog], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    running.add(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const log = (): string => {
      let text = '';
      try {
        text = readFileSync(errorLog, 'utf8');
      } catch {
        // Not written yet, or removed with the folder.
      }
      return text + stderr;
    };
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        running.delete(child);
        rmSync(dir, { recursive: true, force: true });
        resolve();
      });
    });
    const stop = async (): Promise<void> => {
      signal(child, 'SIGTERM');
      const timer = setTimeout(() => signal(child, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    };
    const alive = () => child.exitCode === null && child.signalCode === null;
    const deadline = Date.now() + 10_000;
    let answered = false;
    while (alive() && !answered && Date.now() < deadline) {
      answered = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { connection: 'close' },
        signal: AbortSignal.timeout(2000),
      }).then(
        async (response) => {
          await response.body?.cancel();
          return true;
        },
        () => false,
      );
      if (!answered) await sleep(50);
    }
    if (answered && alive()) {
      return {
        port,
        pid: child.pid ?? 0,
        origin: `http://127.0.0.1:${port}`,
        config,
        log,
        stop,
      };
    }
    const reason = log();
    await stop();
    // Only a port taken meanwhile is worth another try; a configuration it refused is not.
    const portTaken = reason === '' || reason.includes('Address already in use');
    if (attempt === 3 || !portTaken) {
      throw new Error(`nginx did not start: ${reason || 'no answer in 10 s'}`);
    }
  }
}

/** Stops every nginx started here and still running, by its pid (for afterAll, also after a failure). */
export async function stopEveryNginx(): Promise<void> {
  const children = [...running];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          signal(child, 'SIGKILL');
        }),
    ),
  );
}

/** The directive words before each `{` of a line, and one `}` for each close, in order. */
function blockMarks(code: string): Array<string | '}'> {
  const marks: Array<string | '}'> = [];
  let words = '';
  for (const character of code) {
    if (character === '{') {
      marks.push(words.trim().replace(/\s+/g, ' '));
      words = '';
    } else if (character === '}') {
      marks.push('}');
      words = '';
    } else if (character === ';') words = '';
    else words += character;
  }
  return marks;
}

/**
 * A guide's nginx `http`-level configuration made to run on loopback, changing only where it
 * listens and where it sends requests; every other line is kept as written:
 * - the lines of its one `server` block that say how browsers reach it (`listen`, `http2`,
 *   `server_name`, `ssl_*`, or a comment that stands for them, `# listen, …`) become one
 *   `listen 127.0.0.1:<port>;`, in place of the first: TLS and HTTP/2 are out of scope on
 *   loopback;
 * - in each `upstream` named in `upstreams`, the address of each `server` line becomes
 *   `127.0.0.1:<port>`, the ports in order, with its parameters (`max_fails`…) kept; a test
 *   that runs fewer nodes than the guide names leaves the extra `server` lines out (how many
 *   nodes there are is the deployment's, like their addresses).
 * Throws when the configuration has another number of `server` blocks than one, nothing to
 * replace by the `listen`, or an upstream fewer servers than ports given.
 */
export function nginxForLoopback(
  config: string,
  port: number,
  upstreams: Readonly<Record<string, readonly number[]>>,
): string {
  const blocks: string[] = [];
  let servers = 0;
  let listens = 0;
  const used = new Map<string, number>();
  const lines: string[] = [];
  for (const line of config.split('\n')) {
    const code = line.replace(/#.*/, '');
    const block = blocks.at(-1);
    const indent = /^\s*/.exec(line)?.[0] ?? '';
    if (
      block === 'server' &&
      blocks.length === 1 &&
      (/^\s*(listen|http2|server_name|ssl_\w+)\s/.test(code) || /^\s*#\s*listen\b/.test(line))
    ) {
      if (listens === 0) lines.push(`${indent}listen 127.0.0.1:${port};`);
      listens += 1;
      continue;
    }
    const upstream = /^upstream (\S+)$/.exec(block ?? '')?.[1];
    const server = /^(\s*server\s+)[^\s;]+(.*)$/.exec(line);
    if (upstream !== undefined && server && upstreams[upstream] !== undefined) {
      const index = used.get(upstream) ?? 0;
      used.set(upstream, index + 1);
      const target = upstreams[upstream][index];
      if (target !== undefined) lines.push(`${server[1]}127.0.0.1:${target}${server[2]}`);
      continue;
    }
    lines.push(line);
    for (const mark of blockMarks(code)) {
      if (mark === '}') blocks.pop();
      else {
        if (mark === 'server' && blocks.length === 0) servers += 1;
        blocks.push(mark);
      }
    }
  }
  if (servers !== 1) throw new Error(`the config has ${servers} server blocks, expected one`);
  if (listens === 0)
    throw new Error('the server block has no listen line, nor one standing for it');
  for (const [upstream, ports] of Object.entries(upstreams)) {
    const count = used.get(upstream) ?? 0;
    if (count < ports.length) {
      throw new Error(`upstream ${upstream} has ${count} servers, fewer than ${ports.length}`);
    }
  }
  return lines.join('\n');
}
