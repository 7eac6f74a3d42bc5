/**
 * The Tidewire client: {@link createClient} and what it takes and returns, the errors it raises
 * and the connection state machine. The optional entries `@tidewire/core/stream` and
 * `@tidewire/core/persist` add plain streams and persisted positions.
 * @module
 */
export type { BackoffOptions, RetryContext, RetryDelay } from './backoff';
export { exponentialBackoff } from './backoff';
export type {
  ChannelMap,
  Client,
  ClientEvents,
  ClientOptions,
  ClientState,
} from './client';
export { createClient } from './client';
export type { ConnectionEvent, ConnectionState } from './connection';
export { transition } from './connection';
export type { Environment, EnvironmentSignal } from './environment';
export type { ErrorCode, ErrorDetails } from './errors';
export {
  AuthError,
  ConnectionError,
  isFatal,
  isTidewireError,
  PublishError,
  TidewireError,
} from './errors';
export type { InspectRecord } from './inspect';
export type { TransportOptions } from './links';
export type { PublishOptions, PublishResult } from './publish';
export type { FallbackOptions, Transport, TransportChoice } from './routing';
export type {
  ChannelEvent,
  GapInfo,
  SubscribeOptions,
  Subscription,
  SubscriptionEvents,
  SubscriptionSnapshot,
  SubscriptionStatus,
} from './subscription';
export type { GetToken, TokenContext, TokenReason } from './token';
export type { WebSocketConstructor, WebSocketLike } from './transports/websocket';
