import { type } from 'arktype';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { z } from 'zod';
import type { ChannelEvent, PublishResult, Subscription } from '../src/index';
import { type ChannelsOf, createClient, type StandardSchemaV1 } from '../src/schema';
import type { WebSocketConstructor } from '../src/transports/websocket';
import { event, FakeSocket, fakeSseFetch, subscribed, welcome } from './fakes';
import { fakeEnvironment } from './helpers';

const tick = async (n = 6) => {
  for (let i = 0; i < n; i++) await vi.advanceTimersByTimeAsync(0);
};

const zodChannels = {
  prices: z.object({ symbol: z.string(), price: z.number() }),
  // Input and output differ: the wire carries a string, listeners get a Date.
  ticks: z.object({ at: z.string().transform((text) => new Date(text)) }),
};
const valibotChannels = { prices: v.object({ symbol: v.string(), price: v.number() }) };
const arktypeChannels = { prices: type({ symbol: 'string', price: 'number' }) };

type Price = { symbol: string; price: number };

/** Never called: the assertions are checked by the typechecker. */
function typed() {
  const url = 'https://example.com/tw';
  const fromZod = createClient({ url, channels: zodChannels });
  const fromValibot = createClient({ url, channels: valibotChannels });
  const fromArktype = createClient({ url, channels: arktypeChannels });
  expectTypeOf(fromZod.subscribe('prices')).toEqualTypeOf<Subscription<Price>>();
  expectTypeOf(fromValibot.subscribe('prices')).toEqualTypeOf<Subscription<Price>>();
  expectTypeOf(fromArktype.subscribe('prices')).toEqualTypeOf<Subscription<Price>>();
  // @ts-expect-error a channel without a schema
  fromZod.subscribe('nope');
  // @ts-expect-error data of the wrong shape
  fromValibot.publish('prices', { symbol: 'A' });
  // @ts-expect-error data of the wrong shape
  fromArktype.publish('prices', { symbol: 'A', price: '1' });
  expectTypeOf(fromZod.publish('prices', { symbol: 'A', price: 1 })).toEqualTypeOf<
    Promise<PublishResult>
  >();
  fromZod.subscribe('ticks').on('event', (e) => expectTypeOf(e.data.at).toEqualTypeOf<Date>());
  // A publish takes the schema's input: the string the wire carries, not the Date.
  fromZod.publish('ticks', { at: '2026-12-06T00:00:00Z' });
  expectTypeOf<ChannelsOf<typeof zodChannels>['ticks']>().toEqualTypeOf<{ at: Date }>();
}
void typed;

let net: ReturnType<typeof fakeSseFetch>;
let close: (() => void) | undefined;

function make<S extends Record<string, StandardSchemaV1>>(
  channels: S,
  validate?: 'always' | 'off',
) {
  net = fakeSseFetch();
  const client = createClient({
    url: 'http://127.0.0.1:1/tw',
    fetch: net.fetch,
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    environment: fakeEnvironment().env,
    retryDelay: () => 100,
    channels,
    ...(validate ? { validate } : {}),
  });
  close = () => client.close();
  return client;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => {
  close?.();
  vi.useRealTimers();
});

describe.each([
  ['zod', zodChannels],
  ['valibot', valibotChannels],
  ['arktype', arktypeChannels],
] as const)('a client with %s schemas', (_, channels) => {
  it('should deliver valid events and turn invalid ones into invalid_event errors, not data', async () => {
    const client = make(channels);
    const sub = client.subscribe('prices');
    const events: unknown[] = [];
    const errors: Array<{ code: string; channel?: string; message: string }> = [];
    sub.on('event', (e) => events.push(e.data));
    sub.on('error', ({ error }) => errors.push(error));
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('prices'));
    net.last().push(event('prices', 'e-1', { symbol: 'A', price: 1 }));
    net.last().push(event('prices', 'e-2', { symbol: 'B', price: 'two' }));
    net.last().push(event('prices', 'e-3', { symbol: 'C', price: 3 }));
    await tick();
    expect(events).toEqual([
      { symbol: 'A', price: 1 },
      { symbol: 'C', price: 3 },
    ]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'invalid_event', channel: 'prices' });
    expect(errors[0]?.message).toMatch(/^invalid_event on 'prices': price: /);
    const snapshot = sub.getSnapshot();
    expect(snapshot).toMatchObject({ received: 2, lastEventId: 'e-3', status: 'live' });
    expect(snapshot.lastEvent?.data).toEqual({ symbol: 'C', price: 3 });
    // The snapshot is the same object until something changes.
    expect(sub.getSnapshot()).toBe(snapshot);
  });

  it('should refuse to publish data that does not match, sending nothing', async () => {
    const client = make(channels);
    await expect(
      client.publish('prices', { symbol: 'A', price: 'one' } as never),
    ).rejects.toMatchObject({
      name: 'PublishError',
      code: 'invalid_event',
      channel: 'prices',
    });
    expect(net.posts).toHaveLength(0);
  });
});

describe('schema checks', () => {
  it('should hand listeners the schema output, and publish the input as given', async () => {
    const client = make(zodChannels);
    const sub = client.subscribe('ticks');
    const seen: ChannelEvent<{ at: Date }>[] = [];
    sub.on('event', (e) => seen.push(e));
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('ticks'));
    net.last().push(event('ticks', 'e-1', { at: '2026-12-06T00:00:00Z' }));
    await tick();
    expect(seen[0]?.data.at).toBeInstanceOf(Date);
    expect(seen[0]?.data.at.toISOString()).toBe('2026-12-06T00:00:00.000Z');
  });

  it('should check each event once however many handles listen', async () => {
    const validate = vi.fn((value: unknown) => ({ value }));
    const schema: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'test', validate } };
    const client = make({ feed: schema });
    const a = client.subscribe('feed');
    const b = client.subscribe('feed');
    const got: unknown[] = [];
    a.on('event', (e) => got.push(['a', e.data]));
    b.on('event', (e) => got.push(['b', e.data]));
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('feed'));
    net.last().push(event('feed', 'e-1', 1));
    await tick();
    expect(got).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(validate).toHaveBeenCalledTimes(1);
  });

  it('should only type the client with validate: off', async () => {
    const client = make(zodChannels, 'off');
    const sub = client.subscribe('prices');
    const events: unknown[] = [];
    sub.on('event', (e) => events.push(e.data));
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('prices'));
    net.last().push(event('prices', 'e-1', { price: 'not checked' }));
    await tick();
    expect(events).toEqual([{ price: 'not checked' }]);
  });

  it('should refuse an asynchronous schema with an error that says so', async () => {
    const schema: StandardSchemaV1 = {
      '~standard': { version: 1, vendor: 'test', validate: async (value) => ({ value }) },
    };
    const client = make({ feed: schema });
    const sub = client.subscribe('feed');
    const errors: string[] = [];
    sub.on('error', ({ error }) => errors.push(error.message));
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('feed'));
    net.last().push(event('feed', 'e-1', 1));
    await tick();
    expect(errors[0]).toMatch(
      /schema validates asynchronously; give this channel a synchronous schema/,
    );
  });

  it('should leave channels without a schema unchecked', async () => {
    const client = make(zodChannels);
    const untyped = client as unknown as { subscribe(channel: string): Subscription };
    const sub = untyped.subscribe('other');
    const events: unknown[] = [];
    sub.on('event', (e) => events.push(e.data));
    await tick();
    net.last().push(welcome);
    net.last().push(subscribed('other'));
    net.last().push(event('other', 'e-1', 'anything'));
    await tick();
    expect(events).toEqual(['anything']);
  });
});
