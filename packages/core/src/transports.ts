declare const __SSE__: boolean | undefined;
declare const __WEBSOCKET__: boolean | undefined;

/**
 * Which transports this build of the client carries: both in `@tidewire/core`, one in
 * `@tidewire/core/sse` and `@tidewire/core/websocket`. Those entries are built with the other
 * one false, like `DEV`, so that everything it guards is left out and an app that uses one
 * transport ships none of the other's code.
 * @internal
 */
export const SSE: boolean = typeof __SSE__ !== 'boolean' || __SSE__;

/** See {@link SSE}. @internal */
export const WEBSOCKET: boolean = typeof __WEBSOCKET__ !== 'boolean' || __WEBSOCKET__;
