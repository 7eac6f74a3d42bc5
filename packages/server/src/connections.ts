/** How a connection is ended by the server. */
export type EndMode =
  /** End SSE streams, close WebSockets with 1001: clients reconnect with backoff. */
  | 'graceful'
  /** Destroy the socket at once, as a network failure would. */
  | 'abort'
  /**
   * End SSE streams, close WebSockets with 1012: the server can no longer promise that its
   * live events follow on from what it sent, so clients reconnect and resume by position.
   */
  | 'restart';

/** A live client connection, as the server's registry sees it. */
export interface Connection {
  readonly transport: 'sse' | 'websocket';
  end(mode: EndMode): void;
  /** Ends it as an expired credential does: SSE `token_expired` frame and end, WebSocket 4401. */
  expire(): void;
  /** Stops every write to it (events and heartbeats) and leaves the socket open. */
  stall(): void;
}

/** Every open connection, for stats, `disconnectAll` and `close`. */
export interface ConnectionRegistry {
  /** Registers a connection. Returns its disposer, called when it is gone. */
  add(connection: Connection): () => void;
  count(transport: Connection['transport']): number;
  /** Open connections of both transports. */
  size(): number;
  /**
   * Takes one of the `max` connection slots of a principal (see {@link principalKey}). Returns
   * the slot's release, or undefined when all are taken.
   */
  claim(key: string, max: number): (() => void) | undefined;
  all(): Connection[];
  /** Resolves once no connection is left. */
  drained(): Promise<void>;
}

/** Creates an empty registry. */
export function createConnectionRegistry(): ConnectionRegistry {
  const connections = new Set<Connection>();
  /** Slots taken per principal; a principal without connections has no entry. */
  const slots = new Map<string, number>();
  let waiters: Array<() => void> = [];
  const notify = (): void => {
    if (connections.size > 0) return;
    const done = waiters;
    waiters = [];
    for (const resolve of done) resolve();
  };
  return {
    add(connection) {
      connections.add(connection);
      return () => {
        if (connections.delete(connection)) notify();
      };
    },
    count(transport) {
      let n = 0;
      for (const connection of connections) if (connection.transport === transport) n += 1;
      return n;
    },
    size: () => connections.size,
    claim(key, max) {
      const taken = slots.get(key) ?? 0;
      if (taken >= max) return undefined;
      slots.set(key, taken + 1);
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        const left = (slots.get(key) ?? 1) - 1;
        if (left > 0) slots.set(key, left);
        else slots.delete(key);
      };
    },
    all() {
      return [...connections];
    },
    drained() {
      if (connections.size === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/**
 * The key a principal's connections are counted under: a string or number principal stands for
 * itself. Anonymous and object principals (which have no identity that lasts across requests)
 * are not counted per principal: behind a proxy every anonymous client would share one address.
 * `maxConnections` bounds them with everyone else.
 */
export function principalKey(principal: unknown): string | undefined {
  return typeof principal === 'string' || typeof principal === 'number'
    ? `principal:${principal}`
    : undefined;
}
