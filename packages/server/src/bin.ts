#!/usr/bin/env node
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import type { CorsOptions } from './cors.js';
import { createTidewireServer } from './server.js';

const usage = `Usage: tidewire-server [--port 8080] [--host 127.0.0.1] [--path /tidewire] [--cors-origin <origin|*>]...

Runs a Tidewire server with the in-memory history store. Stops gracefully on SIGINT/SIGTERM.`;

function main(): void {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      path: { type: 'string', default: '/tidewire' },
      'cors-origin': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${values.port}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  const origins = values['cors-origin'] ?? [];
  const cors: CorsOptions | undefined =
    origins.length === 0 ? undefined : { origins: origins.includes('*') ? '*' : origins };
  const tw = createTidewireServer(
    cors === undefined ? { path: values.path } : { path: values.path, cors },
  );
  const server = createServer();
  tw.attach(server);
  server.listen(port, values.host, () => {
    const address = server.address();
    const actualPort = typeof address === 'object' && address !== null ? address.port : port;
    const host = values.host.includes(':') ? `[${values.host}]` : values.host;
    console.log(`Tidewire server listening on http://${host}:${actualPort}${values.path}`);
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // A stream that refuses to end must not keep the process alive forever.
    setTimeout(() => process.exit(1), 5000).unref();
    void tw.close().then(() => server.close(() => process.exit(0)));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main();
