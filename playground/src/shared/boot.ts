/** What the React and Vue pages do before they render: the same for both. */
import type { Client } from '@tidewire/core';
import { api, channels, recent, type Start } from './api';
import { createLedger, type Ledger } from './ledger';

/** Where each demo channel starts, by channel. */
export type Starts = Record<keyof typeof channels, Start>;

/**
 * Creates the inspector's ledger watching `client`, asks the server where each demo
 * channel starts (so the page counts against the server's published totals), and logs
 * the page as loaded.
 */
export async function preparePage(
  client: Pick<Client, 'on'>,
  page: string,
): Promise<{ ledger: Ledger; starts: Starts }> {
  const ledger = createLedger();
  ledger.watch(client);
  const found = await api.start(recent);
  const starts = {} as Starts;
  for (const [name, label] of Object.entries(channels) as Array<[keyof typeof channels, string]>) {
    starts[name] = found[name] ?? { since: undefined, baseline: 0 };
    ledger.track(name, label, starts[name].baseline);
  }
  ledger.log('info', `Page loaded (${page})`);
  return { ledger, starts };
}

/** Shows why a page could not start, instead of a blank page. */
export function showBootError(error: unknown): void {
  const box = document.createElement('div');
  box.className = 'boot-error';
  box.textContent = `The playground failed to start: ${String(error)}`;
  document.body.prepend(box);
}
