/** The Vue page: `@tidewire/vue` composables over one `@tidewire/core` client. */
import { createClient, exponentialBackoff } from '@tidewire/core';
import { TidewirePlugin } from '@tidewire/vue';
import { createApp } from 'vue';
import { clientOptions } from '../shared/api';
import { preparePage, showBootError } from '../shared/boot';
import { App, ledgerKey } from './app';

async function main(): Promise<void> {
  const client = createClient(clientOptions(exponentialBackoff));
  const { ledger, starts } = await preparePage(client, 'Vue, @tidewire/vue');
  createApp(App, { starts })
    .provide(ledgerKey, ledger)
    .use(TidewirePlugin, { client })
    .mount('#app');
}

main().catch(showBootError);
