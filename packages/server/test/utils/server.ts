import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import {
  createTidewireServer,
  type Logger,
  type TidewireServer,
  type TidewireServerOptions,
} from '../../src/index.js';

/** A Tidewire server listening on 127.0.0.1 for one test. */
export interface TestServer {
  tw: TidewireServer;
  http: Server;
  /** `http://127.0.0.1:<port>/tidewire` (or the given path). */
  base: string;
  /** The same base with `ws:`. */
  wsBase: string;
  origin: string;
  /** Closes the Tidewire server and the HTTP server; safe to call twice. */
  stop(): Promise<void>;
}

/** Logs nothing; tests that care about logs pass their own. */
export const silentLogger: Logger = { warn: () => {}, error: () => {} };

/** Starts a server on an ephemeral loopback port; it is stopped when the test finishes. */
export async function startServer<P = unknown>(
  options: TidewireServerOptions<P> = {},
): Promise<TestServer> {
  const tw = createTidewireServer<P>({ logger: silentLogger, ...options });
  const http = createServer();
  tw.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const path = options.path ?? '/tidewire';
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await tw.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    })();
    return stopped;
  };
  onTestFinished(stop);
  return {
    tw,
    http,
    base: `${origin}${path}`,
    wsBase: `ws://127.0.0.1:${port}${path}`,
    origin,
    stop,
  };
}

/** The ids of publishes started together (so in one tick), in the order they were started. */
export async function idsOf(publishes: ReadonlyArray<Promise<{ id: string }>>): Promise<string[]> {
  return (await Promise.all(publishes)).map(({ id }) => id);
}
