/**
 * The client of the React and Vue pages: one of its own, or with `?share` in the URL one
 * connection shared by every tab that has it (`@tidewire/core/share`): the panel shows which
 * tab leads, and closing that tab shows the handover with nothing lost. (The vanilla page takes
 * the script-tag build, which has no sharing.)
 */
import { type Client, createClient, exponentialBackoff } from '@tidewire/core';
import { createSharedClient } from '@tidewire/core/share';
import { clientOptions } from './api';

/** Creates the page's client; it is also `window.client`, to try things from the console. */
export function pageClient(): Client {
  const options = clientOptions(exponentialBackoff);
  const client = new URLSearchParams(location.search).has('share')
    ? createSharedClient({ ...options, share: { key: 'playground' } })
    : createClient(options);
  (window as { client?: Client }).client = client;
  return client;
}
