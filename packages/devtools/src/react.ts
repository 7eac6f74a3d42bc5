/**
 * `<TidewireDevtools client={client} />`: the panel as a React component.
 * @module
 */
import { useEffect } from 'react';
import { type DevtoolsClient, type DevtoolsOptions, mountDevtools } from './index';

/** Props of {@link TidewireDevtools}: the client, and the options of `mountDevtools`. */
export type TidewireDevtoolsProps = DevtoolsOptions & { client: DevtoolsClient };

/**
 * Mounts the panel while the component is mounted. It renders nothing in the component tree:
 * the panel is appended to `container` (the document's body). The options are read when it
 * mounts, and again when `client` changes.
 * @example
 * <TidewireProvider client={client}>
 *   <App />
 *   {import.meta.env.DEV && <TidewireDevtools client={client} />}
 * </TidewireProvider>
 */
export function TidewireDevtools(props: TidewireDevtoolsProps): null {
  const { client } = props;
  // biome-ignore lint/correctness/useExhaustiveDependencies: options are read at mount, as documented.
  useEffect(() => {
    const { client: _, ...options } = props;
    return mountDevtools(client, options);
  }, [client]);
  return null;
}
