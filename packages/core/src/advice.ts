import type { ErrorCode } from './errors';

/** What a mismatch between client and server versions looks like. */
const VERSIONS =
  'The server refused the request as malformed: check that client and server versions match.';

/**
 * One sentence per error code that says what to do, added to messages by the development
 * build (see `DEV`). Codes without one explain themselves.
 * @internal
 */
export const ADVICE: Partial<Record<ErrorCode, string>> = {
  network:
    "Check that the server runs at the url option and, from another origin, that its CORS allow-list names this page's origin; retrying on the backoff schedule.",
  connect_timeout:
    'The server did not say welcome in time: check that url is a Tidewire server and that no proxy holds the response; retrying.',
  buffered:
    'A proxy or antivirus buffers streaming responses (the stream sent no welcome within 4 s): SSE polls instead, a request per batch. Turn buffering off for this path: send the header X-Accel-Buffering: no (the reference server does, and nginx obeys it unless it ignores the header), or set proxy_buffering off in nginx.',
  heartbeat_timeout:
    'Nothing arrived for longer than the heartbeat allows (a proxy may buffer or cut the stream); reconnecting and resuming.',
  closed: 'The server ended the connection; reconnecting and resuming from the last position.',
  http_status:
    'The server or a proxy answered with an error status; retrying on the backoff schedule.',
  unavailable: 'The server cannot serve now; retrying on the backoff schedule.',
  shutting_down: 'The server is restarting; reconnecting and resuming.',
  rate_limited: 'Too many requests: the client waits as long as the server asks.',
  no_content:
    'The server has nothing to stream for this request: check the channels and the url option.',
  bad_content_type:
    'Something other than a Tidewire server answered (no text/event-stream): check the url option and any proxy.',
  bad_message:
    'The server sent a frame this client cannot read: check that client and server versions match.',
  bad_request: VERSIONS,
  bad_json: VERSIONS,
  bad_frame: VERSIONS,
  unknown_type: VERSIONS,
  method_not_allowed: VERSIONS,
  unsupported_media_type: VERSIONS,
  not_found:
    'No Tidewire endpoint at this path: the url option is the base path the server is mounted on, without /sse or /ws.',
  origin_not_allowed: "Add this page's origin to the server's cors.origins.",
  unauthorized:
    "The server refused the token: check what getToken returns and the server's authenticate hook.",
  token_expired: 'The token expired; the client asks getToken for a fresh one.',
  forbidden:
    "The server refused: its authorize hook denies this channel to this user, or its cors.origins does not list this page's origin.",
  token_failed: 'getToken threw or rejected; its error is the cause.',
  token_empty:
    'getToken returned an empty string: return the token, or undefined to send none (cookies).',
  token_timeout: 'getToken did not settle within connectTimeout.',
  token_invalid:
    'getToken returned a value a header cannot carry (CR, LF or NUL): return the bare token.',
  auth_rejected:
    "The server refused fresh tokens again and again: check what getToken returns and the server's authenticate hook.",
  invalid_channel: 'A channel name has 1 to 128 of the characters A-Z a-z 0-9 _ - . : and /.',
  too_many_channels: "Subscribe to fewer channels at once, or raise the server's limits.",
  too_large: "Send less data in one event, or raise the server's limits.maxDataBytes.",
  queue_full: 'Too many publishes wait for the socket: await earlier ones, or raise maxQueue.',
  unconfirmed:
    'The connection dropped before the acknowledgement: the event may or may not have been stored.',
  publish_timeout:
    'No acknowledgement within publishTimeout: the event may or may not have been stored.',
  client_closed: 'The client was closed: create a new one.',
  invalid_event:
    "The data does not match the channel's schema: an event received is dropped (its position is kept), a publish is not sent.",
  listener_failed: 'A listener threw; its error is the cause.',
  unsupported:
    "No WebSocket or fetch here: pass WebSocket (in Node, from the 'ws' package) or fetch in the options.",
};
