import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's nginx; override with TIDEWIRE_NGINX for other systems. */
export const nginxPath: string = process.env.TIDEWIRE_NGINX ?? '/usr/sbin/nginx';

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** Where requests are proxied: a port on 127.0.0.1. */
  upstreamPort: number;
  /** Directives added to the proxying `location`. */
  location?: string;
}

/** An nginx of one test: its own port, config, pid file and temporary directories. */
export interface Nginx {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Its error log so far. */
  log(): string;
  /** Stops it by its pid, and removes its directory. */
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
 * Starts nginx in the foreground as a reverse proxy to `upstreamPort`, in a directory of its
 * own under the system's temporary directory. Resolves once it accepts connections.
 */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'tidewire-nginx-'));
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(join(dir, sub), { mode: 0o777 });
  const port = await freePort();
  const pidFile = join(dir, 'nginx.pid');
  const errorLog = join(dir, 'error.log');
  // Run as root (a container), its workers would be `nobody`: keep them the same user, so
  // that they may write the temporary files of the buffers.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  writeFileSync(
    join(dir, 'nginx.conf'),
    `${user}
worker_processes 1;
daemon off;
pid ${pidFile};
error_log ${errorLog} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${options.upstreamPort};
      ${options.location ?? ''}
    }
  }
}
`,
  );
  const child: ChildProcess = spawn(
    nginxPath,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', errorLog],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const log = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '') + stderr;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready when it accepts a connection (its pid file is written first).
  const deadline = Date.now() + 5000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${log()}`);
    const up = await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' }).then(
      () => true,
      () => false,
    );
    if (up && existsSync(pidFile)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start: ${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return {
    port,
    log,
    async stop() {
      // Its own master process, by the pid it wrote: a fast shutdown.
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
