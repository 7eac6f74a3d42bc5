/**
 * The reference Node server: {@link createTidewireServer} serves the SSE, WebSocket and HTTP
 * publish endpoints of the Tidewire protocol on a `node:http` server, with history in memory
 * through {@link createMemoryStore}.
 * @module
 */
export {
  AuthError,
  type AuthErrorCode,
  type Authenticate,
  type Authorize,
  type AuthResult,
  isAuthError,
} from './auth.js';
export type { CorsOptions } from './cors.js';
export type {
  ChannelHistoryInfo,
  Engine,
  EngineHealth,
  EngineListener,
  NewEvent,
  PageLimit,
  ReplayPage,
  StoredEvent,
} from './engine/engine.js';
export {
  createMemoryEngine,
  type MemoryEngine,
  type MemoryEngineOptions,
} from './engine/memory.js';
export type { Logger } from './logger.js';
export type {
  HistoryOptions,
  LimitOptions,
  PublishContext,
  PublishRate,
  TidewireServerOptions,
} from './options.js';
export { isPublishError, PublishError, type PublishErrorCode } from './publish-error.js';
export {
  createTidewireServer,
  type DisconnectOptions,
  type EngineStats,
  type PublishOptions,
  type PublishResult,
  type ServerStats,
  type TidewireServer,
} from './server.js';
export type { TimerHandle, Timers } from './timers.js';
