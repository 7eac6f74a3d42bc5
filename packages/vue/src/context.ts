import type { Client } from '@tidewire/core';
import { type App, hasInjectionContext, type InjectionKey, inject, provide } from 'vue';

// biome-ignore lint/suspicious/noExplicitAny: any channel map is accepted here; composables narrow it.
type AnyClient = Client<any>;

const clientKey: InjectionKey<AnyClient> = Symbol('tidewire');

/** Options of {@link TidewirePlugin}. */
export interface TidewirePluginOptions {
  /** The client every composable in the app uses. */
  client: AnyClient;
}

/**
 * Installs a Tidewire client for the whole app.
 * @example
 * createApp(App).use(TidewirePlugin, { client: createClient({ url: '/tidewire' }) }).mount('#app');
 */
export const TidewirePlugin: { install(app: App, options: TidewirePluginOptions): void } = {
  install(app, { client }) {
    app.provide(clientKey, client);
  },
};

/** Provides a client to the calling component's descendants (inside `setup()`). */
export function provideTidewire(client: AnyClient): void {
  provide(clientKey, client);
}

/**
 * The client provided by {@link TidewirePlugin} or {@link provideTidewire}.
 * @throws Error outside `setup()` / an injection context, or when nothing was provided.
 */
export function useTidewireClient<
  Channels extends Record<string, unknown> = Record<string, unknown>,
>(): Client<Channels> {
  if (!hasInjectionContext()) {
    throw new Error('useTidewireClient: call it inside setup() or a function called from setup().');
  }
  const client = inject(clientKey, null);
  if (!client) {
    throw new Error(
      'useTidewireClient: no client provided. Use app.use(TidewirePlugin, { client }).',
    );
  }
  return client as Client<Channels>;
}
