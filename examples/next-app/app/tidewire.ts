// Imported only by client components ('use client'): the client and the typed hooks.
// Server rendering evaluates this module too. That is safe: creating a client opens no
// connection, and the hooks render the `idle` state on the server.
import { createClient } from '@tidewire/core';
import { createTidewireHooks } from '@tidewire/react';

/** The channels of the demo server (examples/express-server), and the data each carries. */
export type Channels = {
  clock: { now: string };
  chat: { author: string; text: string };
};

let name: string | undefined;

/** This tab's name in the chat, chosen in the browser; the demo server takes it as the token. */
export function me(): string {
  name ??= `guest-${Math.random().toString(36).slice(2, 6)}`;
  return name;
}

export const client = createClient<Channels>({
  // Absolute: the server is another process. A relative URL works too when the app proxies
  // /tidewire to it (but then the page must be in a browser before anything connects, as here).
  url: process.env.NEXT_PUBLIC_TIDEWIRE_URL ?? 'http://localhost:8080/tidewire',
  getToken: me,
});

export const { useSubscription, usePublish, useConnectionState } = createTidewireHooks<Channels>();
