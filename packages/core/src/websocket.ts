/**
 * `@tidewire/core/websocket`: everything `@tidewire/core` exports, built with the WebSocket
 * transport alone, so that an app that talks over WebSocket ships no Server-Sent Events code. Its
 * {@link createClient} puts every channel on the socket. Import the whole client from this one
 * entry: an app that also imported `@tidewire/core` would ship both builds.
 * @example
 * import { createClient } from '@tidewire/core/websocket'
 * const client = createClient({ url: '/tidewire' })
 * @module
 */
export * from './index';
