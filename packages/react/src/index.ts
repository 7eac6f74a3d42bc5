'use client';
export type { SubscriptionState } from '@tidewire/core/store';
/**
 * React bindings for Tidewire.
 * @module
 */
export type { TidewireProviderProps } from './context';
export { TidewireProvider, useTidewireClient } from './context';
export type { TidewireHooks, UseSubscriptionOptions } from './hooks';
export {
  createTidewireHooks,
  useConnectionState,
  usePublish,
  useSubscription,
} from './hooks';
