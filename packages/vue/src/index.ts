/**
 * Vue bindings for Tidewire.
 * @module
 */

export type { SubscriptionState } from '@tidewire/core/store';
export type {
  Publish,
  ReadonlyRef,
  TidewireComposables,
  UseSubscriptionOptions,
  UseSubscriptionReturn,
} from './composables';
export {
  createTidewireComposables,
  useConnectionState,
  usePublish,
  useSubscription,
} from './composables';
export type { TidewirePluginOptions } from './context';
export { provideTidewire, TidewirePlugin, useTidewireClient } from './context';
