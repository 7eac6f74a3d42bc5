import type { ConnectionRegistry } from './connections.js';
import type { Hub } from './hub.js';
import type { LimitLog } from './logger.js';
import type { ResolvedOptions } from './options.js';
import type { PublishError } from './publish-error.js';

/** What the endpoint handlers share. */
export interface ServerContext<P> {
  readonly options: ResolvedOptions<P>;
  readonly hub: Hub;
  readonly connections: ConnectionRegistry;
  /** Logs a limit a client hit, at most once a minute per limit and client. */
  readonly logLimit: LimitLog;
  /** True once `close()` was called: new requests get 503 `shutting_down`. */
  isClosing(): boolean;
  /**
   * Publishes an accepted event and tells `onPublish`. Resolves to its id once the engine
   * stored it; rejects with a {@link PublishError} `unavailable` when the engine cannot.
   */
  publish(
    event: { channel: string; event: string; dataJson: string; data: unknown },
    principal: P | undefined,
    source: 'server' | 'http' | 'websocket',
  ): Promise<string>;
}
