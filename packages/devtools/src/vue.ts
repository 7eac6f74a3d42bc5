/**
 * `<TidewireDevtools :client="client" />`: the panel as a Vue component.
 * @module
 */
import {
  type DefineSetupFnComponent,
  defineComponent,
  onBeforeUnmount,
  onMounted,
  watch,
} from 'vue';
import { type DevtoolsClient, type DevtoolsOptions, mountDevtools } from './index';

/** Props of {@link TidewireDevtools}: the client, and the options of `mountDevtools`. */
export type TidewireDevtoolsProps = DevtoolsOptions & { client: DevtoolsClient };

/**
 * Mounts the panel while the component is mounted. It renders nothing where it is placed: the
 * panel is appended to `container` (the document's body). The options are read when it
 * mounts, and again when `client` changes.
 * @example
 * h(TidewireDevtools, { client })
 */
export const TidewireDevtools: DefineSetupFnComponent<TidewireDevtoolsProps> = defineComponent(
  (props: TidewireDevtoolsProps) => {
    let unmount: (() => void) | undefined;
    const mount = () => {
      unmount?.();
      const options: DevtoolsOptions = {};
      // Vue passes an absent prop as undefined, which the options do not take.
      for (const [key, value] of Object.entries(props))
        if (key !== 'client' && value !== undefined)
          Object.assign(options, { [key]: key === 'open' && value === '' ? true : value });
      unmount = mountDevtools(props.client, options);
    };
    onMounted(mount);
    watch(() => props.client, mount);
    onBeforeUnmount(() => {
      unmount?.();
      unmount = undefined;
    });
    return () => null;
  },
  {
    name: 'TidewireDevtools',
    // Declared without types: a template's bare `open` comes as '' and is read as true below.
    props: [
      'client',
      'open',
      'position',
      'container',
      'maxEvents',
      'maxTimeline',
      'sentAt',
      'nonce',
    ],
  },
);
