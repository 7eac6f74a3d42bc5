import type { ChannelEvent } from '@tidewire/core';
import { mount } from '@vue/test-utils';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { createApp, defineComponent, effectScope, h, nextTick, ref, watch } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { fakeClient } from '../../../testing/fake-client';
import {
  createTidewireComposables,
  provideTidewire,
  TidewirePlugin,
  useConnectionState,
  usePublish,
  useSubscription,
  useTidewireClient,
} from '../src/index';

/** Mounts `setup` in a component with the plugin installed; returns what setup returned. */
function withSetup<R>(setup: () => R, fake = fakeClient()) {
  let result!: R;
  const Comp = defineComponent({
    setup() {
      result = setup();
      return () => null;
    },
  });
  const wrapper = mount(Comp, { global: { plugins: [[TidewirePlugin, { client: fake.client }]] } });
  return { ...fake, result, wrapper };
}

/** Runs `fn` in the app's injection context, in an effect scope we control. */
function inScope<R>(fn: () => R, fake = fakeClient()) {
  const app = createApp({ render: () => null });
  app.use(TidewirePlugin, { client: fake.client });
  const scope = effectScope();
  const result = app.runWithContext(() => scope.run(fn)) as R;
  return { ...fake, result, scope };
}

describe('useTidewireClient', () => {
  it('should throw outside setup()', () => {
    expect(() => useTidewireClient()).toThrow(/inside setup\(\)/);
  });

  it('should throw when nothing was provided', () => {
    const app = createApp({ render: () => null });
    expect(() => app.runWithContext(() => useTidewireClient())).toThrow(/TidewirePlugin/);
  });

  it('should take the client from provideTidewire in an ancestor', () => {
    const { client } = fakeClient();
    let got: unknown;
    const Child = defineComponent({
      setup() {
        got = useTidewireClient();
        return () => null;
      },
    });
    const Parent = defineComponent({
      setup() {
        provideTidewire(client);
        return () => h(Child);
      },
    });
    mount(Parent);
    expect(got).toBe(client);
  });
});

describe('useSubscription', () => {
  it('should expose the core snapshot through readonly shallow refs', async () => {
    const { result, handles } = withSetup(() => useSubscription('prices'));
    expect(handles).toHaveLength(1);
    expect(result.status.value).toBe('connecting');
    expect(result.state.value).toEqual({ ...handles[0]!.getSnapshot(), events: [] });
    handles[0]!.set({ status: 'live' });
    expect(result.status.value).toBe('live');
    const e = handles[0]!.deliver({ p: 1 });
    expect(result.lastEvent.value).toBe(e);
    expect(result.lastEventId.value).toBe(e.id);
    expect(result.transport.value).toBe('sse');
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    (result.status as { value: unknown }).value = 'closed';
    expect(result.status.value).toBe('live');
  });

  it('should pass transport, since and duplex to the client', () => {
    const { handles } = withSetup(() =>
      useSubscription('a', { transport: 'websocket', since: 'x-1', duplex: true }),
    );
    expect(handles[0]!.options).toMatchObject({
      transport: 'websocket',
      since: 'x-1',
      duplex: true,
    });
  });

  it('should trigger a field only when its value changes', async () => {
    const { result, handles } = withSetup(() => useSubscription('a'));
    const statuses: string[] = [];
    const scope = effectScope();
    scope.run(() => watch(result.status, (s) => statuses.push(s), { flush: 'sync' }));
    for (let i = 0; i < 20; i++) handles[0]!.deliver(i);
    handles[0]!.set({ status: 'live' });
    expect(statuses).toEqual(['live']);
    scope.stop();
  });

  it('should move the subscription when the channel ref changes and ignore the old one', async () => {
    const channel = ref('one');
    const onEvent = vi.fn();
    const { result, handles, open } = withSetup(() => useSubscription(channel, { onEvent }));
    channel.value = 'two';
    await nextTick();
    expect(open().map((h) => h.channel)).toEqual(['two']);
    expect(result.state.value.channel).toBe('two');
    const old = handles[0]!;
    expect(old.listeners.event.size + old.listeners.change.size).toBe(0);
    old.deliver('late');
    expect(onEvent).not.toHaveBeenCalled();
    expect(result.lastEvent.value).toBeUndefined();
    handles[1]!.deliver('fresh');
    expect(onEvent).toHaveBeenCalledTimes(1);
  });

  it('should accept a getter for the channel', async () => {
    const id = ref(1);
    const { open } = withSetup(() => useSubscription(() => `room/${id.value}`));
    id.value = 2;
    await nextTick();
    expect(open().map((h) => h.channel)).toEqual(['room/2']);
  });

  it('should stay idle while disabled and follow an enabled ref', async () => {
    const enabled = ref(false);
    const { result, handles } = withSetup(() => useSubscription('a', { enabled, since: 's-1' }));
    expect(handles).toHaveLength(0);
    expect(result.status.value).toBe('idle');
    expect(result.lastEventId.value).toBe('s-1');
    enabled.value = true;
    await nextTick();
    expect(handles).toHaveLength(1);
    expect(result.status.value).toBe('connecting');
    enabled.value = false;
    await nextTick();
    expect(handles[0]!.closed).toBe(true);
    expect(result.status.value).toBe('idle');
  });

  it('should keep the last N events and select without triggering per event', () => {
    const { result, handles } = withSetup(() =>
      useSubscription<number, boolean>('a', {
        keep: 2,
        select: (s) => (s.lastEvent?.data ?? 0) > 10,
      }),
    );
    const seen: boolean[] = [];
    const scope = effectScope();
    scope.run(() => watch(result.selected, (v) => seen.push(v), { flush: 'sync' }));
    for (let i = 0; i < 10; i++) handles[0]!.deliver(i);
    expect(seen).toEqual([]);
    handles[0]!.deliver(11);
    expect(seen).toEqual([true]);
    expect(result.events.value.map((e) => e.data)).toEqual([9, 11]);
    const events = result.events.value;
    handles[0]!.set({ status: 'live' });
    expect(result.events.value).toBe(events);
    scope.stop();
  });

  it('should unsubscribe when its scope or component is disposed', () => {
    const a = inScope(() => useSubscription('a'));
    expect(a.open()).toHaveLength(1);
    a.scope.stop();
    expect(a.open()).toHaveLength(0);
    const b = withSetup(() => useSubscription('b'));
    b.wrapper.unmount();
    expect(b.open()).toHaveLength(0);
  });

  it('should warn in development when called outside an effect scope', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const fake = fakeClient();
    const app = createApp({ render: () => null }).use(TidewirePlugin, { client: fake.client });
    app.runWithContext(() => useSubscription('a'));
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/outside an effect scope/));
  });

  it('should render the idle state with the server renderer and subscribe to nothing', async () => {
    const fake = fakeClient();
    const App = defineComponent({
      setup() {
        const { status, events } = useSubscription('a', { keep: 3 });
        const conn = useConnectionState();
        return () => h('p', `${status.value}/${events.value.length}/${conn.value.sse.status}`);
      },
    });
    const app = createApp(App).use(TidewirePlugin, { client: fake.client });
    expect(await renderToString(app)).toBe('<p>idle/0/idle</p>');
    expect(fake.handles).toHaveLength(0);
    expect(fake.stateListeners.size).toBe(0);
  });
});

describe('useConnectionState', () => {
  it('should follow the client state and stop listening with its scope', () => {
    const { result, setState, stateListeners, scope } = inScope(() => useConnectionState());
    expect(result.value.websocket.status).toBe('idle');
    setState({ websocket: { status: 'open' } });
    expect(result.value.websocket).toEqual({ status: 'open' });
    scope.stop();
    expect(stateListeners.size).toBe(0);
  });
});

describe('usePublish', () => {
  it('should publish to its channel with the provided client', async () => {
    const { result, client } = withSetup(() => usePublish('chat'));
    await expect(result({ text: 'hi' }, { event: 'msg' })).resolves.toEqual({ id: 'p-1' });
    expect(client.publish).toHaveBeenCalledWith('chat', { text: 'hi' }, { event: 'msg' });
  });

  it('should publish to the current value of a ref channel', async () => {
    const channel = ref('room/1');
    const { result, client } = withSetup(() => usePublish(channel));
    await result('a');
    channel.value = 'room/2';
    await result('b');
    expect(client.publish).toHaveBeenNthCalledWith(1, 'room/1', 'a', undefined);
    expect(client.publish).toHaveBeenNthCalledWith(2, 'room/2', 'b', undefined);
  });
});

describe('createTidewireComposables', () => {
  it('should type the composables by the channel map', () => {
    type Channels = { prices: { price: number }; chat: { text: string } };
    const c = createTidewireComposables<Channels>();
    expect(c.useSubscription).toBe(useSubscription);
    expectTypeOf(c.useSubscription<'prices'>)
      .returns.toHaveProperty('lastEvent')
      .toEqualTypeOf<
        Readonly<import('vue').ShallowRef<ChannelEvent<{ price: number }> | undefined>>
      >();
    expectTypeOf(c.usePublish<'chat'>)
      .returns.parameter(0)
      .toEqualTypeOf<{ text: string }>();
    const _unused = () => {
      // @ts-expect-error: the payload of 'chat' is { text: string }
      c.usePublish('chat')({ price: 1 });
      // @ts-expect-error: 'nope' is not a channel
      c.usePublish('nope');
    };
    expect(_unused).toBeTypeOf('function');
  });
});
