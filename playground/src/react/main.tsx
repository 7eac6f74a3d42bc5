/** The React page: `@tidewire/react` hooks over one `@tidewire/core` client (shared across tabs with `?share`). */
import { TidewireDevtools } from '@tidewire/devtools/react';
import { TidewireProvider } from '@tidewire/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { devtoolsOptions } from '../shared/api';
import { preparePage, showBootError } from '../shared/boot';
import { pageClient } from '../shared/client';
import { App } from './app';

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (root === null) throw new Error('#app is missing');
  const client = pageClient();
  const { ledger, starts } = await preparePage(client, 'React, @tidewire/react');
  createRoot(root).render(
    <StrictMode>
      <TidewireProvider client={client}>
        <App ledger={ledger} starts={starts} />
        <TidewireDevtools client={client} {...devtoolsOptions} />
      </TidewireProvider>
    </StrictMode>,
  );
}

main().catch(showBootError);
