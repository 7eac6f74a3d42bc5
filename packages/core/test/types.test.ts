import { describe, expectTypeOf, it } from 'vitest';
import type {
  ChannelEvent,
  Client,
  ConnectionState,
  PublishResult,
  Subscription,
  SubscriptionSnapshot,
} from '../src/index';
import { createClient } from '../src/index';

type Price = { symbol: string; price: number };
type Msg = { text: string };

/** Never called: the assertions are checked by the typechecker. */
function typed(client: Client<{ prices: Price; chat: Msg }>, untyped: Client) {
  const sub = client.subscribe('prices');
  expectTypeOf(sub).toEqualTypeOf<Subscription<Price>>();
  sub.on('event', (e) => {
    expectTypeOf(e).toEqualTypeOf<ChannelEvent<Price>>();
    expectTypeOf(e.data.price).toBeNumber();
  });
  expectTypeOf(sub.getSnapshot()).toEqualTypeOf<SubscriptionSnapshot<Price>>();
  expectTypeOf(sub.getSnapshot().lastEvent).toEqualTypeOf<ChannelEvent<Price> | undefined>();
  expectTypeOf(client.publish('chat', { text: 'hi' })).toEqualTypeOf<Promise<PublishResult>>();
  // @ts-expect-error a channel outside the map
  client.subscribe('nope');
  // @ts-expect-error a payload of the wrong type
  client.publish('chat', { price: 1 });
  expectTypeOf(sub.on('gap', () => {})).toEqualTypeOf<() => void>();
  expectTypeOf(untyped.subscribe('anything')).toEqualTypeOf<Subscription<unknown>>();
}

/** A channel map declared as an interface, as many codebases do: no index signature. */
interface Channels {
  prices: Price;
  chat: Msg;
}

/** Never called: an interface map types the client like a type alias does. */
function declaredAsInterface(client: Client<Channels>) {
  expectTypeOf(client.subscribe('prices')).toEqualTypeOf<Subscription<Price>>();
  // @ts-expect-error a channel outside the map
  client.subscribe('nope');
  // @ts-expect-error a payload of the wrong type
  client.publish('chat', { price: 1 });
  const created = createClient<Channels>({ url: '/tidewire' });
  expectTypeOf(created).toEqualTypeOf<Client<Channels>>();
}

function narrowed(state: ConnectionState) {
  if (state.status === 'waiting') expectTypeOf(state.delay).toBeNumber();
  if (state.status === 'failed') expectTypeOf(state.error.code).toBeString();
  // @ts-expect-error only waiting states have a delay
  if (state.status === 'open') void state.delay;
}

describe('types', () => {
  it('should type event data, publish payloads and snapshots from the channel map', () => {
    expectTypeOf(typed).toBeFunction();
  });

  it('should accept a channel map declared as an interface', () => {
    expectTypeOf(declaredAsInterface).toBeFunction();
  });

  it('should narrow connection states by status', () => {
    expectTypeOf(narrowed).parameter(0).toEqualTypeOf<ConnectionState>();
  });
});
