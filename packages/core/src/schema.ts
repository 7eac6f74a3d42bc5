/**
 * Channels typed and checked by schemas: `createClient({ url, channels: { prices: schema } })`
 * with any validator that implements Standard Schema (Zod, Valibot, ArkType…). Its own entry,
 * `@tidewire/core/schema`, so that an app without schemas ships none of it.
 * @module
 */
import { type Client, type ClientOptions, createClient as createPlainClient } from './client';
import { Emitter } from './emitter';
import { PublishError, TidewireError } from './errors';
import type { PublishOptions, PublishResult } from './publish';
import type { StandardSchemaV1 } from './standard-schema';
import type {
  ChannelEvent,
  Subscription,
  SubscriptionEvents,
  SubscriptionSnapshot,
} from './subscription';

export type { StandardSchemaV1 } from './standard-schema';

/** Channel names mapped to the schema of their events' data. */
export type SchemaMap = Record<string, StandardSchemaV1>;

/** The channel map a {@link SchemaMap} describes: each channel's data is its schema's output. */
export type ChannelsOf<S extends SchemaMap> = {
  [C in keyof S]: StandardSchemaV1.InferOutput<S[C]>;
};

/** Options of {@link createClient} from `@tidewire/core/schema`. */
export interface SchemaClientOptions<S extends SchemaMap> extends ClientOptions {
  /** Each channel's schema. Channels not named here are neither typed nor checked. */
  channels: S;
  /**
   * `'always'`: every event received and every publish is checked against its channel's
   * schema. `'off'`: the schemas only type the client (for example, when the server already
   * validates and the checks cost too much on a hot channel).
   * @default 'always'
   */
  validate?: 'always' | 'off';
}

/**
 * A client whose channels are typed by schemas: events carry each schema's output, and
 * `publish` takes its input.
 */
export interface SchemaClient<S extends SchemaMap> extends Omit<Client<ChannelsOf<S>>, 'publish'> {
  /**
   * Checks `data` against the channel's schema, then publishes it as given. Rejects with a
   * `PublishError` `invalid_event` (nothing is sent) when it does not match.
   */
  publish<C extends keyof S & string>(
    channel: C,
    data: StandardSchemaV1.InferInput<S[C]>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
}

/** Most issues a message lists; `cause` holds them all. */
const ISSUES_SHOWN = 3;

/** `price: Expected number` for an issue at `price`. */
function describe(issue: StandardSchemaV1.Issue): string {
  const path = (issue.path ?? [])
    .map((step) => String(typeof step === 'object' ? step.key : step))
    .join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** What a check found wrong: an explanation for the message, and the issues for `cause`. */
interface Problem {
  readonly explanation: string;
  readonly issues?: ReadonlyArray<StandardSchemaV1.Issue>;
}

/** Checks `data` against `schema`: the schema's output, or what is wrong. */
function check(schema: StandardSchemaV1, data: unknown): { value: unknown } | Problem {
  const result = schema['~standard'].validate(data);
  if (result instanceof Promise) {
    result.catch(() => {});
    return {
      explanation: 'the schema validates asynchronously; give this channel a synchronous schema',
    };
  }
  if (result.issues === undefined) return { value: result.value };
  const shown = result.issues.slice(0, ISSUES_SHOWN).map(describe).join('; ');
  const more = result.issues.length - ISSUES_SHOWN;
  return {
    explanation: more > 0 ? `${shown} (and ${more} more)` : shown,
    issues: result.issues,
  };
}

/**
 * A handle whose events are checked: a valid event reaches `event` listeners with the
 * schema's output as its `data`; an invalid one becomes an `invalid_event` error on the
 * subscription and does not count as received. `results` shares each event's check between
 * the handles of a channel.
 */
function checkedHandle<T>(
  handle: Subscription<unknown>,
  schema: StandardSchemaV1,
  results: WeakMap<ChannelEvent, { value: unknown } | TidewireError>,
): Subscription<T> {
  const { channel } = handle;
  const emitter = new Emitter<SubscriptionEvents<T>>((cause, type) => {
    if (type !== 'error') {
      emitter.emit('error', { error: new TidewireError('listener_failed', { cause, channel }) });
    }
  });
  let invalid = 0;
  let lastEvent: ChannelEvent<T> | undefined;
  let base: SubscriptionSnapshot<unknown> | undefined;
  let snapshot: SubscriptionSnapshot<T> | undefined;

  const offEvent = handle.on('event', (event) => {
    let result = results.get(event);
    if (result === undefined) {
      const checked = check(schema, event.data);
      result =
        'value' in checked
          ? checked
          : new TidewireError(
              'invalid_event',
              { channel, cause: checked.issues },
              checked.explanation,
            );
      results.set(event, result);
    }
    if (result instanceof TidewireError) {
      invalid += 1;
      emitter.emit('error', { error: result });
    } else {
      lastEvent = { ...event, data: result.value as T };
      emitter.emit('event', lastEvent);
    }
  });
  const offError = handle.on('error', (context) => emitter.emit('error', context));

  return {
    channel,
    on(type, listener) {
      if (type === 'event' || type === 'error') return emitter.on(type, listener);
      return handle.on(type, listener as SubscriptionEvents<unknown>[typeof type]);
    },
    getSnapshot() {
      const current = handle.getSnapshot();
      if (current !== base || snapshot === undefined) {
        base = current;
        snapshot = { ...current, lastEvent, received: current.received - invalid };
      }
      return snapshot;
    },
    unsubscribe() {
      offEvent();
      offError();
      handle.unsubscribe();
      emitter.clear();
    },
  };
}

/**
 * Creates a client whose channels are typed by the schemas in `options.channels`, and whose
 * events and publishes are checked against them at runtime. Any validator that implements
 * Standard Schema works; schemas must validate synchronously. Everything else is
 * `createClient` from `@tidewire/core`, which this wraps.
 * @example
 * import { createClient } from '@tidewire/core/schema'
 * import { z } from 'zod'
 * const client = createClient({
 *   url: 'https://api.example.com/tidewire',
 *   channels: { prices: z.object({ symbol: z.string(), price: z.number() }) },
 * })
 * client.subscribe('prices').on('event', (e) => render(e.data.price))
 */
export function createClient<S extends SchemaMap>(
  options: SchemaClientOptions<S>,
): SchemaClient<S> {
  const client = createPlainClient<ChannelsOf<S>>(options);
  const { channels, validate = 'always' } = options;
  const results = new WeakMap<ChannelEvent, { value: unknown } | TidewireError>();
  const schemaOf = (channel: string): StandardSchemaV1 | undefined =>
    validate === 'off' || !Object.hasOwn(channels, channel) ? undefined : channels[channel];

  return {
    ...client,
    subscribe(channel, subscribeOptions) {
      const handle = client.subscribe(channel, subscribeOptions);
      const schema = schemaOf(channel);
      return schema === undefined
        ? handle
        : checkedHandle(handle as Subscription<unknown>, schema, results);
    },
    publish(channel, data, publishOptions) {
      const schema = schemaOf(channel);
      const result = schema === undefined ? undefined : check(schema, data);
      if (result !== undefined && !('value' in result)) {
        return Promise.reject(
          new PublishError('invalid_event', { channel, cause: result.issues }, result.explanation),
        );
      }
      return client.publish(channel, data as ChannelsOf<S>[typeof channel], publishOptions);
    },
  };
}
