// nginx as the load balancer of the cluster tests: round robin over the given loopback ports,
// no stickiness, configured for SSE and WebSocket as docs/deploying.md says. Everything it writes
// (config, pid, error log, temp folders) is in a scratch folder of its own; it runs in the
// foreground as one process (`master_process off`), started here and stopped by its pid.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll } from './processes.js';
import { freePort, until } from './redis.js';

export const NGINX = '/usr/sbin/nginx';

/** Why the nginx tests are skipped on this machine, or undefined when they can run. */
export const nginxSkipReason: string | undefined = existsSync(NGINX)
  ? undefined
  : `${NGINX} is missing (apt-get install nginx-light)`;

/** A running nginx. */
export interface Nginx {
  readonly port: number;
  readonly pid: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Its error log so far. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * The configuration: the location serves every path, so that `/tidewire/*` reaches the nodes
 * unchanged. A node that refuses the connection, or answers 502 or 503 (not ready) to a GET (an
 * SSE stream or a WebSocket upgrade), is skipped for the next one; a POST is never sent twice.
 */
export function nginxConfig(dir: string, port: number, upstreams: readonly number[]): string {
  return `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      '';
  }
  upstream tidewire {
${upstreams.map((upstream) => `    server 127.0.0.1:${upstream} max_fails=1 fail_timeout=1s;`).join('\n')}
    keepalive 32;
    keepalive_timeout 30s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://tidewire;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_cache off;
      proxy_connect_timeout 2s;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
    }
  }
}
`;
}

/** Every nginx started and still running; each removes its scratch folder when it exits. */
const started = new Set<ChildProcess>();

/** Starts nginx on a free port in front of `upstreams`, and waits until it answers. */
export async function startNginx(upstreams: readonly number[]): Promise<Nginx> {
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'tidewire-nginx-'));
    const port = await freePort();
    const config = join(dir, 'nginx.conf');
    writeFileSync(config, nginxConfig(dir, port, upstreams));
    const child = spawn(NGINX, ['-p', dir, '-c', config, '-e', join(dir, 'error.log')], {
      stdio: 'ignore',
    });
    started.add(child);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        started.delete(child);
        rmSync(dir, { recursive: true, force: true });
        resolve();
      });
    });
    const log = (): string => {
      try {
        return readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    };
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {}
      }
      await exited;
    };
    try {
      await until(
        async () =>
          child.exitCode !== null ||
          (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)) !== undefined,
        10_000,
        'nginx to answer',
      );
      if (child.exitCode !== null) throw new Error(`nginx exited at start: ${log()}`);
    } catch (error) {
      const reason = log();
      await stop();
      // Another process may have taken the port since it was found free.
      if (attempt === 3) throw new Error(`nginx did not start: ${reason || String(error)}`);
      continue;
    }
    return { port, pid: child.pid ?? 0, origin: `http://127.0.0.1:${port}`, log, stop };
  }
}

/** Stops every nginx these helpers started and that is still running (for afterAll). */
export function stopNginx(): Promise<void> {
  return killAll(started);
}
