import { createClient } from '@tidewire/core';
import { createTidewireHooks } from '@tidewire/react';

/** The channels of the demo server (examples/express-server), and the data each carries. */
export type Channels = {
  clock: { now: string };
  chat: { author: string; text: string };
};

/** This tab's name in the chat; the demo server takes it as the token. */
export const me = `guest-${Math.random().toString(36).slice(2, 6)}`;

// At module scope, never in a component: a client made during render would connect again and again.
export const client = createClient<Channels>({
  url: 'http://localhost:8080/tidewire',
  getToken: () => me,
});

export const { useSubscription, usePublish, useConnectionState } = createTidewireHooks<Channels>();
