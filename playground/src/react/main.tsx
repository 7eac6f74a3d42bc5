/** The React page: `@tidewire/react` hooks over one `@tidewire/core` client. */
import { createClient, exponentialBackoff } from '@tidewire/core';
import { TidewireProvider } from '@tidewire/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { api, channels, clientOptions, recent, type Start } from '../shared/api';
import { createLedger } from '../shared/ledger';
import { App } from './app';

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (root === null) throw new Error('#app is missing');
  const ledger = createLedger();
  const client = createClient(clientOptions(exponentialBackoff));
  ledger.watch(client);
  const found = await api.start(recent);
  const starts = {} as Record<keyof typeof channels, Start>;
  for (const [name, label] of Object.entries(channels) as Array<[keyof typeof channels, string]>) {
    starts[name] = found[name] ?? { since: undefined, baseline: 0 };
    ledger.track(name, label, starts[name].baseline);
  }
  ledger.log('info', 'Page loaded (React, @tidewire/react)');
  createRoot(root).render(
    <StrictMode>
      <TidewireProvider client={client}>
        <App ledger={ledger} starts={starts} />
      </TidewireProvider>
    </StrictMode>,
  );
}

main().catch((error: unknown) => {
  const box = document.createElement('div');
  box.className = 'boot-error';
  box.textContent = `The playground failed to start: ${String(error)}`;
  document.body.prepend(box);
});
