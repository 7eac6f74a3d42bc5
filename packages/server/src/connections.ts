/** How a connection is ended by the server. */
export type EndMode =
  /** End SSE streams, close WebSockets with 1001: clients reconnect with backoff. */
  | 'graceful'
  /** Destroy the socket at once, as a network failure would. */
  | 'abort';

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
  all(): Connection[];
  /** Resolves once no connection is left. */
  drained(): Promise<void>;
}

/** Creates an empty registry. */
export function createConnectionRegistry(): ConnectionRegistry {
  const connections = new Set<Connection>();
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
    all() {
      return [...connections];
    },
    drained() {
      if (connections.size === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
