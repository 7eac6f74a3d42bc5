// nginx as the load balancer of the cluster tests, configured by docs/deploying.md itself: the
// guide's nginx block for a cluster ("nginx, round robin over three nodes"), read from the
// Markdown, with only what a loopback run must change (its `listen` on 127.0.0.1 instead of
// "listen, server_name and TLS as above", and the upstream servers' addresses, their
// `max_fails`/`fail_timeout` kept); the map, keepalive, proxy_* directives and next_upstream
// are the guide's own, so a change that breaks them in the guide breaks the tests. The process
// (scratch folder, start, stop by pid) is testing/nginx.ts's.
import { deployingBlock } from '../../../../testing/guide.js';
import {
  type Nginx,
  nginxForLoopback,
  startNginx as startNginxProcess,
  stopEveryNginx,
} from '../../../../testing/nginx.js';

export { type Nginx, nginxSkipReason } from '../../../../testing/nginx.js';

/** The guide's nginx configuration for several nodes (round robin, next upstream on 503). */
export function guideClusterConfig(): string {
  return deployingBlock('### The load balancer: round robin and health checks', 'nginx');
}

/** Starts the guide's cluster nginx on a free port in front of `upstreams`, and waits until it answers. */
export function startNginx(upstreams: readonly number[]): Promise<Nginx> {
  const config = guideClusterConfig();
  return startNginxProcess((port) => nginxForLoopback(config, port, { tidewire: upstreams }));
}

/** Stops every nginx these helpers started and that is still running (for afterAll). */
export function stopNginx(): Promise<void> {
  return stopEveryNginx();
}
