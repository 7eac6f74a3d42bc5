import { type ChildProcess, spawn } from 'node:child_process';
import { nodeBundle } from '../../../../testing/node-bundle.js';
import type { HistoryOptions, LimitOptions, TidewireServerOptions } from '../../src/index.js';

// A real @tidewire/server in a process of its own, for measuring its memory: started with
// --expose-gc on a free loopback port, with the README's hooks (a token names its principal,
// who may use public/* and user/<principal>/*) and the defaults for everything not given.
// Its program (child-server-entry.ts) is bundled from source with esbuild, which resolves
// workspace packages through the @tidewire/source condition as vitest does: no build needed.

/** The settings a child server takes: JSON, so no hooks (the child has its own). */
export type ChildServerOptions = Pick<
  TidewireServerOptions<string>,
  'heartbeatMs' | 'authTimeoutMs' | 'tokenRefreshLeadMs'
> & {
  history?: HistoryOptions;
  limits?: Omit<LimitOptions, 'publishRate'> & {
    publishRate?: { perSecond?: number; burst?: number };
  };
};

/** The child's memory after two full garbage collections, in bytes. */
export interface ChildMemory {
  rss: number;
  /** The V8 heap's size, used or not. */
  heapTotal: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JavaScript ones, Buffers (`arrayBuffers`) included. */
  external: number;
  arrayBuffers: number;
}

/** What a `publish` request did. */
export interface PublishReport {
  first: string;
  last: string;
  epoch: string;
  count: number;
  ms: number;
}

/** `tw.stats()` in figures, plus what the child's hooks, logger and outputs saw. */
export interface ChildStats {
  connections: { sse: number; websocket: number };
  subscriptions: number;
  channels: number;
  /** Events kept in history, all channels together. */
  history: number;
  authenticateCalls: number;
  /** Logged warnings by message. */
  warnings: Record<string, number>;
  errors: Record<string, number>;
  /** The open connections' bytes written and not yet taken by the operating system. */
  outputs: {
    open: number;
    buffered: number;
    largest: number;
    /** The most one connection has held, sampled every 2 ms, closed connections included. */
    peak: number;
    /** The most each open connection has held. */
    peaks: number[];
    /** Milliseconds each closed connection was open, from its request to its close. */
    lifetimes: number[];
  };
}

/** What the child is asked to do over the IPC channel. */
export type ChildCommand =
  | { op: 'publish'; prefix: string; channels: number; perChannel: number; bytes: number }
  | { op: 'memory' }
  | { op: 'stats' };

/** A {@link ChildCommand} with the id its reply carries. */
export type ChildRequest = { id: number } & ChildCommand;

/** The answer to a {@link ChildRequest}. */
export type ChildReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };

/** A running child server. */
export interface ChildServer {
  pid: number;
  /** `http://127.0.0.1:<port>/tidewire`. */
  base: string;
  wsBase: string;
  port: number;
  /**
   * Publishes `perChannel` rounds of one event on each of `<prefix>0` … `<prefix><channels-1>`,
   * `bytes` of padding each, with `tw.publish` in the child.
   */
  publish(spec: {
    prefix: string;
    channels: number;
    perChannel: number;
    bytes: number;
  }): Promise<PublishReport>;
  memory(): Promise<ChildMemory>;
  stats(): Promise<ChildStats>;
  /** Ends the child at once (SIGKILL by pid); safe to call twice. */
  kill(): void;
}

/** Longest a child may take to answer one request or to start. */
const REQUEST_TIMEOUT_MS = 15_000;

const program = nodeBundle(new URL('./child-server-entry.ts', import.meta.url), 'child-server');
const running = new Set<ChildProcess>();

/** Bundles the child's program (once per test file); {@link removeChildServerBuild} deletes it. */
export function buildChildServer(): string {
  return program.file();
}

/** Deletes the bundle {@link buildChildServer} wrote. For `afterAll`. */
export function removeChildServerBuild(): void {
  program.remove();
}

/** Kills every child server still running, by pid. For `afterEach` and `afterAll`. */
export function killChildServers(): void {
  for (const child of running) killChild(child);
  running.clear();
}

function killChild(child: ChildProcess): void {
  running.delete(child);
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** Starts a child server and waits until it listens. */
export async function startChildServer(options: ChildServerOptions = {}): Promise<ChildServer> {
  const file = buildChildServer();
  const child = spawn(process.execPath, ['--expose-gc', file, JSON.stringify(options)], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(`the child server exited (${signal ?? code}): ${stderr}`);
    });
  });

  const pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  let nextId = 0;
  let started: ((port: number) => void) | undefined;
  child.on('message', (message: ChildReply | { ready: true; port: number }) => {
    if ('ready' in message) {
      started?.(message.port);
      return;
    }
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.ok) waiter?.resolve(message.result);
    else waiter?.reject(new Error(`the child server failed: ${message.error}`));
  });
  void exited.then((reason) => {
    for (const waiter of pending.values()) waiter.reject(new Error(reason));
    pending.clear();
  });

  /** Races `promise` against the child's exit and a timeout. */
  const bounded = <T>(promise: Promise<T>, what: string): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the child server took over ${REQUEST_TIMEOUT_MS} ms to ${what}`)),
        REQUEST_TIMEOUT_MS,
      );
    });
    const died = exited.then((reason) => Promise.reject(new Error(reason)));
    return Promise.race([promise, timeout, died]).finally(() => clearTimeout(timer));
  };
  const request = <T>(body: ChildCommand): Promise<T> => {
    const id = nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
    child.send({ id, ...body });
    return bounded(answer, `answer ${body.op}`);
  };

  const port = await bounded(
    new Promise<number>((resolve) => {
      started = resolve;
    }),
    'listen',
  );
  return {
    pid: child.pid ?? 0,
    base: `http://127.0.0.1:${port}/tidewire`,
    wsBase: `ws://127.0.0.1:${port}/tidewire`,
    port,
    publish: (spec) => request<PublishReport>({ op: 'publish', ...spec }),
    memory: () => request<ChildMemory>({ op: 'memory' }),
    stats: () => request<ChildStats>({ op: 'stats' }),
    kill: () => killChild(child),
  };
}
