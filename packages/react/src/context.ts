import type { Client } from '@tidewire/core';
import { createContext, createElement, type ReactNode, useContext } from 'react';

// biome-ignore lint/suspicious/noExplicitAny: any channel map is accepted here; hooks narrow it.
type AnyClient = Client<any>;

const TidewireContext = createContext<AnyClient | null>(null);

/** Props of {@link TidewireProvider}. */
export interface TidewireProviderProps {
  /** The client every hook below this provider uses. Create it once, outside render. */
  client: AnyClient;
  /** The tree whose hooks use `client`. */
  children?: ReactNode;
}

/**
 * Makes a Tidewire client available to the hooks in its subtree.
 * @example
 * const client = createClient({ url: '/tidewire' });
 * root.render(<TidewireProvider client={client}><App /></TidewireProvider>);
 */
export function TidewireProvider({ client, children }: TidewireProviderProps): ReactNode {
  return createElement(TidewireContext.Provider, { value: client }, children);
}

/**
 * The client given to the nearest {@link TidewireProvider}.
 * @throws Error when called outside a provider.
 */
export function useTidewireClient<
  Channels extends Record<string, unknown> = Record<string, unknown>,
>(): Client<Channels> {
  const client = useContext(TidewireContext);
  if (!client) {
    throw new Error(
      'useTidewireClient: no client found. Wrap your tree in <TidewireProvider client={client}>.',
    );
  }
  return client as Client<Channels>;
}
