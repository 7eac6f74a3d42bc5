'use client';
export type { TidewireProviderProps } from './context';
/**
 * React bindings for Tidewire.
 * @module
 */
export { TidewireProvider, useTidewireClient } from './context';
