/** The Vue page: `@tidewire/vue` composables over one `@tidewire/core` client. */
import { createClient, exponentialBackoff } from '@tidewire/core';
import { TidewirePlugin } from '@tidewire/vue';
import { createApp } from 'vue';
import { api, channels, clientOptions, recent, type Start } from '../shared/api';
import { createLedger } from '../shared/ledger';
import { App, ledgerKey } from './app';

async function main(): Promise<void> {
  const ledger = createLedger();
  const client = createClient(clientOptions(exponentialBackoff));
  ledger.watch(client);
  const found = await api.start(recent);
  const starts = {} as Record<keyof typeof channels, Start>;
  for (const [name, label] of Object.entries(channels) as Array<[keyof typeof channels, string]>) {
    starts[name] = found[name] ?? { since: undefined, baseline: 0 };
    ledger.track(name, label, starts[name].baseline);
  }
  ledger.log('info', 'Page loaded (Vue, @tidewire/vue)');
  createApp(App, { starts })
    .provide(ledgerKey, ledger)
    .use(TidewirePlugin, { client })
    .mount('#app');
}

main().catch((error: unknown) => {
  const box = document.createElement('div');
  box.className = 'boot-error';
  box.textContent = `The playground failed to start: ${String(error)}`;
  document.body.prepend(box);
});
