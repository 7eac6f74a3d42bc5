/**
 * Vue bindings for Tidewire.
 * @module
 */

export type { TidewirePluginOptions } from './context';
export { provideTidewire, TidewirePlugin, useTidewireClient } from './context';
