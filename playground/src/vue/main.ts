/** The Vue page: `@tidewire/vue` composables over one `@tidewire/core` client. */
import { createClient, exponentialBackoff } from '@tidewire/core';
import { TidewireDevtools } from '@tidewire/devtools/vue';
import { TidewirePlugin } from '@tidewire/vue';
import { createApp, Fragment, h } from 'vue';
import { clientOptions, devtoolsOptions } from '../shared/api';
import { preparePage, showBootError } from '../shared/boot';
import { App, ledgerKey } from './app';

async function main(): Promise<void> {
  const client = createClient(clientOptions(exponentialBackoff));
  const { ledger, starts } = await preparePage(client, 'Vue, @tidewire/vue');
  createApp({
    render: () =>
      h(Fragment, [h(App, { starts }), h(TidewireDevtools, { client, ...devtoolsOptions })]),
  })
    .provide(ledgerKey, ledger)
    .use(TidewirePlugin, { client })
    .mount('#app');
}

main().catch(showBootError);
