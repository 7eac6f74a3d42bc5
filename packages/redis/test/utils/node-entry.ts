// The program of one Tidewire node for the cluster tests (see nodes.ts): a real
// @tidewire/server with a Redis engine behind Sentinel, on a given loopback port, in a process of
// its own so that a test can kill it with SIGKILL. Bundled from source before it runs; takes its
// settings as JSON in argv[2], prints `listening <port>` once it serves, and logs the server's
// and the engine's warnings to stderr.
import { createServer } from 'node:http';
import { createSentinel } from '@redis/client';
import { createTidewireServer, type Logger } from '@tidewire/server';
import { createRedisEngine, fromNodeRedisSentinel } from '../../src/index.js';
import type { NodeSettings } from './nodes.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as NodeSettings;
const log = (level: string, message: string, details?: unknown): void => {
  process.stderr.write(
    `${new Date().toISOString()} ${level} ${message} ${details === undefined ? '' : JSON.stringify(details)}\n`,
  );
};
const logger: Logger = {
  warn: (message, details) => log('warn', message, details),
  error: (message, details) => log('error', message, details),
};

const sentinel = createSentinel({
  name: settings.name,
  sentinelRootNodes: [{ host: '127.0.0.1', port: settings.sentinelPort }],
});
sentinel.on('error', () => {});
// A node restarted while Redis fails over may find no primary for a few seconds.
for (let attempt = 1; ; attempt++) {
  try {
    await sentinel.connect();
    break;
  } catch (error) {
    if (attempt === 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
const engine = createRedisEngine({
  connection: fromNodeRedisSentinel(sentinel),
  prefix: settings.prefix,
  // Room for everything a run publishes: only a failover may make a gap.
  maxEvents: 200_000,
  logLength: 1_000_000,
  maxAgeMs: 3_600_000,
  logger,
});
await engine.ready;

const tw = createTidewireServer({
  engine,
  ...(settings.staleAfterMs === undefined ? {} : { staleAfterMs: settings.staleAfterMs }),
  limits: { publishRate: { perSecond: 1_000_000, burst: 1_000_000 } },
  logger,
});
const http = createServer();
tw.attach(http);
// As docs/deploying.md says: longer than the load balancer's keep-alive (nginx's upstream
// `keepalive_timeout`, 60 s by default), so that it, not the node, closes an idle connection.
http.keepAliveTimeout = 75_000;
http.listen(settings.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${settings.port}\n`);
});

process.once('SIGTERM', () => {
  setTimeout(() => process.exit(1), 3000).unref();
  void (async () => {
    await tw.close();
    await engine.close();
    await sentinel.destroy();
    http.close();
    process.exit(0);
  })();
});
