/**
 * The Tidewire wire protocol, version 2: frame shapes and codes, shared by the client and
 * `@tidewire/server`. PROTOCOL.md at the repository root is the prose version, with the wire
 * forms of events (named SSE events, WebSocket event lines) that carry no frame object.
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

/**
 * A channel name: 1–128 characters from `A–Z a–z 0–9 _ - . : /`, other than `open`, `error` and
 * `message`, which a standard `EventSource` gives meanings of its own (version 2 names each SSE
 * event after its channel).
 */
export const CHANNEL_PATTERN: RegExp = /^(?!(open|error|message)$)[\w.:/-]{1,128}$/;

/** An application event type: 1–64 characters from the channel-name alphabet (any name, `message` included). */
export const EVENT_TYPE_PATTERN: RegExp = /^[\w.:/-]{1,64}$/;

/** The event type given to events published without one. */
export const DEFAULT_EVENT_TYPE = 'message';

/** Server → client: the connection is ready. */
export interface WelcomeFrame {
  /** The frame's type. */
  type: 'welcome';
  /** The server's current history epoch (informational). */
  epoch: string;
  /** Milliseconds between server heartbeats. */
  heartbeat: number;
  /** Milliseconds until the credential expires, when known. */
  expiresIn?: number;
}

/** Server → client: a subscription is active. */
export interface SubscribedFrame {
  /** The frame's type. */
  type: 'subscribed';
  /** The channel now subscribed. */
  channel: string;
  /** The server's position when the subscription went live: resuming from it misses nothing. */
  position?: string;
}

/** Server → client: one event of a channel. */
export interface EventFrame {
  /** The frame's type. */
  type: 'event';
  /** The channel it was published on. */
  channel: string;
  /** The event's id: its position, strictly increasing within the channel. */
  id: string;
  /** The application's event type (`"message"` when the publisher gave none). */
  event: string;
  /** The payload, any JSON value. */
  data: unknown;
}

/** Server → client: a resume position could not be replayed. */
export interface GapFrame {
  /** The frame's type. */
  type: 'gap';
  /** The channel whose position could not be replayed. */
  channel: string;
  /** Why; see {@link GapReason}. */
  reason: GapReason;
}

/** Server → client: a request, subscription or publish failed. */
export interface ErrorFrame {
  /** The frame's type. */
  type: 'error';
  /** What failed; see {@link ErrorCode}. */
  code: ErrorCode;
  /** Human-readable; never contains a credential. */
  message: string;
  /** The channel it concerns, if any: that channel is no longer subscribed on this connection. */
  channel?: string;
  /** The `ref` of the `publish` it answers, if it answers one. */
  ref?: string;
}

/** Server → client (WebSocket): heartbeat. */
export interface PingFrame {
  /** The frame's type. */
  type: 'ping';
}

/** Server → client (WebSocket): the credential expires soon; send a new `auth`. */
export interface RefreshFrame {
  /** The frame's type. */
  type: 'refresh';
  /** Milliseconds until the credential expires. */
  expiresIn: number;
}

/** Server → client (WebSocket): a publish was accepted. */
export interface AckFrame {
  /** The frame's type. */
  type: 'ack';
  /** The `ref` of the `publish` it answers. */
  ref: string;
  /** The id the event received. */
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
  /** The frame's type. */
  type: 'auth';
  /** The bearer token; absent when the server authenticates by cookies. */
  token?: string;
}

/** Client → server (WebSocket): start (or restart) a subscription. */
export interface SubscribeFrame {
  /** The frame's type. */
  type: 'subscribe';
  /** The channel to subscribe to. */
  channel: string;
  /** The position to resume after; without it (and without `rewind`), live events only. */
  since?: string;
  /** Without `since`: replay up to this many of the channel's newest events first. */
  rewind?: number;
}

/** Client → server (WebSocket): stop a subscription. */
export interface UnsubscribeFrame {
  /** The frame's type. */
  type: 'unsubscribe';
  /** The channel to stop. */
  channel: string;
}

/** Client → server (WebSocket): publish an event, answered by `ack` or `error` with the same `ref`. */
export interface PublishFrame {
  /** The frame's type. */
  type: 'publish';
  /** Chosen by the client, unique among its unanswered publishes on the connection. */
  ref: string;
  /** The channel to publish on. */
  channel: string;
  /** The application's event type. @default 'message' */
  event?: string;
  /** The payload, any JSON value (`null` for none). */
  data: unknown;
}

/** Every frame a client sends. */
export type ClientFrame = AuthFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame;
