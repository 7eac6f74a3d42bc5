/**
 * `@tidewire/core/sse`: everything `@tidewire/core` exports, built with the Server-Sent Events
 * transport alone, so that an app that listens over SSE ships no WebSocket code. Its
 * {@link createClient} puts every channel on SSE (publishes go by HTTP). Import the whole client
 * from this one entry: an app that also imported `@tidewire/core` would ship both builds.
 * @example
 * import { createClient } from '@tidewire/core/sse'
 * const client = createClient({ url: '/tidewire' })
 * @module
 */
export * from './index';
