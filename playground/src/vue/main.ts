/** The Vue page: `@tidewire/vue` composables over one `@tidewire/core` client (shared across tabs with `?share`). */
import { TidewireDevtools } from '@tidewire/devtools/vue';
import { TidewirePlugin } from '@tidewire/vue';
import { createApp, Fragment, h } from 'vue';
import { devtoolsOptions } from '../shared/api';
import { preparePage, showBootError } from '../shared/boot';
import { pageClient } from '../shared/client';
import { App, ledgerKey } from './app';

async function main(): Promise<void> {
  const client = pageClient();
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
