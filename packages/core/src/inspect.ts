import type { ConnectionState } from './connection';
import type { TidewireError } from './errors';
import type { GapReason, ServerFrame } from './protocol';
import type { Transport } from './routing';
import type { SubscribeOptions } from './subscription';
import type { TokenReason } from './token';

/**
 * One thing the client did or received, for devtools and an app's own tooling: read them with
 * `client.on('inspect', listener)`. Development build only (see the core README's
 * "Development and production builds"); the production build sends none, and keeps `state`
 * and `error` events. `at` is the client's clock (`Date.now()` unless the environment is
 * replaced). Never carries a token.
 */
export type InspectRecord = { readonly at: number } & (
  | {
      readonly type: 'subscribe';
      readonly channel: string;
      readonly options: SubscribeOptions;
    }
  | { readonly type: 'unsubscribe'; readonly channel: string }
  | {
      /** The channel's last handle was released `closeDelay` ago: the client left it. */
      readonly type: 'leave';
      readonly channel: string;
    }
  | {
      /** A channel was put on a transport (first, or moved): `from` is where it was. */
      readonly type: 'placement';
      readonly channel: string;
      readonly from: Transport | undefined;
      readonly to: Transport;
      /** What led to it: `subscribe`, `unsubscribe`, `publish`, `fallback ended`, or `<transport>: <outcome>`. */
      readonly reason: string;
    }
  | {
      /** A channel was asked of the server, resuming after `since` when there is one. */
      readonly type: 'join';
      readonly channel: string;
      readonly transport: Transport;
      readonly since: string | undefined;
    }
  | {
      readonly type: 'state';
      readonly transport: Transport;
      readonly next: ConnectionState;
      readonly prev: ConnectionState;
    }
  | {
      /**
       * `'auto'` stopped using a transport until `until` (ms), because of `reason` (an error
       * code), or lifted that (`until` undefined) after a connection stayed open.
       */
      readonly type: 'fallback';
      readonly transport: Transport;
      readonly reason: string;
      readonly until: number | undefined;
    }
  | {
      /** A frame from the server, events included (their data parsed). */
      readonly type: 'frame';
      readonly transport: Transport;
      readonly frame: ServerFrame;
    }
  | { readonly type: 'gap'; readonly channel: string; readonly reason: GapReason }
  | {
      /** `getToken` was called; the token itself is never recorded. */
      readonly type: 'token';
      readonly reason: TokenReason;
      readonly attempt: number;
    }
  | {
      /** A publish settled: with the event's `id`, or with its `error`. */
      readonly type: 'publish';
      readonly channel: string;
      readonly id: string | undefined;
      readonly error: TidewireError | undefined;
    }
  | {
      /**
       * An error: the client's, a connection's, or one the server sent about a channel (then
       * `error.channel` names it, and a `fatal` one fails that channel).
       */
      readonly type: 'error';
      readonly error: TidewireError;
    }
);

/** An {@link InspectRecord} before its time is stamped. @internal */
export type InspectNote = InspectRecord extends infer R
  ? R extends { at: number }
    ? Omit<R, 'at'>
    : never
  : never;

/** The logger's line for a record; undefined for records too frequent to log (frames). @internal */
export function describeRecord(record: InspectNote): string | undefined {
  switch (record.type) {
    case 'subscribe':
      return `subscribe ${record.channel}`;
    case 'unsubscribe':
      return `unsubscribe ${record.channel}`;
    case 'leave':
      return `left ${record.channel}`;
    case 'placement':
      return `${record.channel} on ${record.to}${record.from ? ` (from ${record.from})` : ''} (${record.reason})`;
    case 'join':
      return `${record.channel} joins on ${record.transport}${record.since ? ` after ${record.since}` : ''}`;
    case 'state':
      return `${record.transport} ${record.next.status}`;
    case 'fallback':
      return record.until === undefined
        ? `${record.transport} usable again (${record.reason})`
        : `${record.transport} avoided until ${new Date(record.until).toISOString()} (${record.reason})`;
    case 'gap':
      return `${record.channel} gap (${record.reason})`;
    case 'token':
      return `token asked (${record.reason}, attempt ${record.attempt})`;
    case 'publish':
      return record.error
        ? `publish on ${record.channel} failed: ${record.error.message}`
        : `published on ${record.channel}: ${record.id}`;
    case 'error':
      return record.error.message;
    case 'frame':
      return undefined;
  }
}
