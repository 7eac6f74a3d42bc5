/**
 * `@tidewire/core/persist`: resume after a reload. {@link persistPositions} wraps a client so that
 * each channel's last event id is saved in a storage such as `sessionStorage`, and a new
 * subscription without `since` resumes from it. Its own entry, so an app that does not persist
 * positions ships none of it.
 * @module
 */
import type { Client } from './client';
import { type Environment, resolveEnvironment } from './environment';
import type { SubscribeOptions, Subscription } from './subscription';

/** The subset of the Web Storage API `persistPositions` uses. */
export interface StorageLike {
  /** The value saved under `key`, or `null`. */
  getItem(key: string): string | null;
  /** Saves `value` under `key`. A throw (quota, privacy mode) is ignored. */
  setItem(key: string, value: string): void;
  /** Removes the value saved under `key`. */
  removeItem(key: string): void;
}

/** Options of {@link persistPositions}. */
export interface PersistOptions {
  /** Where positions are saved, e.g. `sessionStorage` (per tab) or `localStorage`. */
  storage: StorageLike;
  /**
   * The prefix of every key; a channel's position is saved under the prefix followed by its name.
   * Give each server its own when a page talks to several. @default 'tidewire:'
   */
  prefix?: string;
  /** The least time between two writes of positions, in ms; `close()` writes at once. @default 1000 */
  interval?: number;
  /** Timers. @default the browser's */
  environment?: Partial<Environment>;
}

/**
 * Returns the client with positions persisted: every event delivered saves its channel's id (at
 * most once per `interval`, and on `close()`), and `subscribe` resumes a channel from its saved
 * id unless `since` is given. A storage that throws (quota, privacy mode) is ignored: the client
 * then works as without persistence.
 * @example
 * import { persistPositions } from '@tidewire/core/persist'
 * const client = persistPositions(createClient({ url }), { storage: sessionStorage })
 */
export function persistPositions<M extends object>(
  client: Client<M>,
  options: PersistOptions,
): Client<M> {
  const { storage, prefix = 'tidewire:', interval = 1000 } = options;
  const env = resolveEnvironment(options.environment);
  const unsaved = new Map<string, string>();
  let timer: unknown;
  const save = () => {
    timer = undefined;
    for (const [channel, id] of unsaved)
      try {
        storage.setItem(prefix + channel, id);
      } catch {}
    unsaved.clear();
  };
  return {
    ...client,
    subscribe<C extends keyof M & string>(
      channel: C,
      subscribeOptions: SubscribeOptions = {},
    ): Subscription<M[C]> {
      let since = subscribeOptions.since;
      try {
        since ??= storage.getItem(prefix + channel) ?? undefined;
      } catch {}
      const handle = client.subscribe(channel, { ...subscribeOptions, since });
      handle.on('event', ({ id }) => {
        unsaved.set(channel, id);
        timer ??= env.setTimeout(save, interval);
      });
      return handle;
    },
    close() {
      env.clearTimeout(timer);
      save();
      client.close();
    },
  };
}
