/**
 * The Tidewire wire protocol: frame shapes and codes, shared by the client and
 * `@tidewire/server`. PROTOCOL.md at the repository root is the prose version.
 * @module
 */

/** WebSocket close codes used by the protocol. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  TooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  BadRequest: 4400,
  Unauthorized: 4401,
  Forbidden: 4403,
  AuthTimeout: 4408,
  SlowConsumer: 4409,
  TooManyRequests: 4429,
} as const;

/** One of the {@link CloseCode} values. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Error codes carried by `error` frames and HTTP error bodies. */
export type ErrorCode =
  | 'bad_request'
  | 'bad_json'
  | 'bad_frame'
  | 'unknown_type'
  | 'invalid_channel'
  | 'too_many_channels'
  | 'forbidden'
  | 'unauthorized'
  | 'token_expired'
  | 'too_large'
  | 'rate_limited'
  | 'unsupported_media_type'
  | 'origin_not_allowed'
  | 'not_found'
  | 'method_not_allowed'
  | 'unavailable'
  | 'shutting_down';

/** Why a resume position could not be replayed. */
export type GapReason = 'trimmed' | 'epoch' | 'invalid';

/** A channel name: 1–128 characters from `A–Z a–z 0–9 _ - . : /`. */
export const CHANNEL_PATTERN: RegExp = /^[\w.:/-]{1,128}$/;

/** The event type given to events published without one. */
export const DEFAULT_EVENT_TYPE = 'message';

/** Server → client: the connection is ready. */
export interface WelcomeFrame {
  type: 'welcome';
  epoch: string;
  /** Milliseconds between server heartbeats. */
  heartbeat: number;
  /** Milliseconds until the credential expires, when known. */
  expiresIn?: number;
}

/** Server → client: a subscription is active. */
export interface SubscribedFrame {
  type: 'subscribed';
  channel: string;
  /** The server's position when the subscription went live: resuming from it misses nothing. */
  position?: string;
}

/** Server → client: one event of a channel. */
export interface EventFrame {
  type: 'event';
  channel: string;
  id: string;
  event: string;
  data: unknown;
}

/** Server → client: a resume position could not be replayed. */
export interface GapFrame {
  type: 'gap';
  channel: string;
  reason: GapReason;
}

/** Server → client: a request, subscription or publish failed. */
export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
  channel?: string;
  ref?: string;
}

/** Server → client (WebSocket): heartbeat. */
export interface PingFrame {
  type: 'ping';
}

/** Server → client (WebSocket): the credential expires soon; send a new `auth`. */
export interface RefreshFrame {
  type: 'refresh';
  expiresIn: number;
}

/** Server → client (WebSocket): a publish was accepted. */
export interface AckFrame {
  type: 'ack';
  ref: string;
  id: string;
}

/** Every frame a server sends. */
export type ServerFrame =
  | WelcomeFrame
  | SubscribedFrame
  | EventFrame
  | GapFrame
  | ErrorFrame
  | PingFrame
  | RefreshFrame
  | AckFrame;

/** Client → server (WebSocket): the credential; first frame, and again to refresh. */
export interface AuthFrame {
  type: 'auth';
  token?: string;
}

/** Client → server (WebSocket): start (or restart) a subscription. */
export interface SubscribeFrame {
  type: 'subscribe';
  channel: string;
  since?: string;
}

/** Client → server (WebSocket): stop a subscription. */
export interface UnsubscribeFrame {
  type: 'unsubscribe';
  channel: string;
}

/** Client → server (WebSocket): publish an event, answered by `ack` or `error` with the same `ref`. */
export interface PublishFrame {
  type: 'publish';
  ref: string;
  channel: string;
  event?: string;
  data: unknown;
}

/** Every frame a client sends. */
export type ClientFrame = AuthFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame;
