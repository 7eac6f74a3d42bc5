// One node of a local Tidewire cluster: @tidewire/server with the Redis engine, over a Sentinel
// that names the primary. Started by rig.mjs on the built packages (`pnpm build`):
//   node scripts/cluster/node.mjs '{"port":8081,"sentinelPort":26379,"name":"tw"}'
// Settings (JSON): port; sentinelPort and name (the Sentinel's name for the primary), or
// redisUrl for one Redis without Sentinel; prefix (default '{tw}'); staleAfterMs (default the
// server's, 30 s); publish: 'any' (anyone may publish anywhere, for benchmarks) or 'chat' (the
// playground's rule: only on `chat`).
// Serves `GET /stats` (its connection counts) beside Tidewire's endpoints.
// Prints `listening <port>` once it serves; logs warnings to stderr; stops on SIGTERM.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../packages/redis/package.json', import.meta.url));
const { createClient, createSentinel } = require('@redis/client');
const { createTidewireServer } = await import('../../packages/server/dist/index.js');
const { createRedisEngine, fromNodeRedis, fromNodeRedisSentinel } = await import(
  '../../packages/redis/dist/index.js'
);

const settings = JSON.parse(process.argv[2] ?? '{}');
const { port, sentinelPort, name, redisUrl, prefix = '{tw}', staleAfterMs } = settings;
const { publish = 'chat' } = settings;
const log = (level) => (message, details) =>
  process.stderr.write(`${level} ${message}${details ? ` ${JSON.stringify(details)}` : ''}\n`);
const logger = { warn: log('warn'), error: log('error') };

const redis =
  redisUrl === undefined
    ? createSentinel({ name, sentinelRootNodes: [{ host: '127.0.0.1', port: sentinelPort }] })
    : createClient({ url: redisUrl });
redis.on('error', () => {});
// A node started while Redis fails over may find no primary for a few seconds.
for (let attempt = 1; ; attempt++) {
  try {
    await redis.connect();
    break;
  } catch (error) {
    if (attempt === 150) throw error;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
const engine = createRedisEngine({
  connection: redisUrl === undefined ? fromNodeRedisSentinel(redis) : fromNodeRedis(redis),
  prefix,
  logger,
});
await engine.ready;

const tw = createTidewireServer({
  engine,
  heartbeatMs: 5000,
  ...(staleAfterMs === undefined ? {} : { staleAfterMs }),
  // Pages may read every channel; the playground's chat takes events from browsers.
  authorize: (_principal, channel, action) =>
    action === 'subscribe' || publish === 'any' || channel === 'chat',
  limits: publish === 'any' ? { publishRate: { perSecond: 1_000_000, burst: 1_000_000 } } : {},
  logger,
});
// Beside Tidewire's endpoints, `GET /stats` answers the node's connection counts: the playground
// of `pnpm cluster` sums them for its pages' top bar. Only on the node's own port, not via nginx.
const http = createServer(async (req, res) => {
  if (req.method !== 'GET' || req.url !== '/stats') {
    res.writeHead(404).end();
    return;
  }
  const { connections } = await tw.stats();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(connections));
});
tw.attach(http);
// Longer than nginx's keepalive_timeout (30 s), so that nginx, not the node, closes an idle
// connection: a request sent on one the node just closed would fail.
http.keepAliveTimeout = 60_000;
http.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));

process.once('SIGTERM', async () => {
  setTimeout(() => process.exit(1), 3000).unref();
  await tw.close();
  await engine.close();
  await redis.destroy();
  http.close(() => process.exit(0));
  http.closeAllConnections();
});
