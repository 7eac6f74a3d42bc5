import { act, renderHook } from '@testing-library/react';
import type { ChannelEvent } from '@tidewire/core';
import { type ReactNode, StrictMode } from 'react';
import { hydrateRoot } from 'react-dom/client';
import { renderToString } from 'react-dom/server';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { fakeClient } from '../../../testing/fake-client';
import {
  createTidewireHooks,
  type SubscriptionState,
  TidewireProvider,
  useConnectionState,
  usePublish,
  useSubscription,
  useTidewireClient,
} from '../src/index';

function setup(strict = false) {
  const fake = fakeClient();
  const wrapper = ({ children }: { children: ReactNode }) => {
    const tree = <TidewireProvider client={fake.client}>{children}</TidewireProvider>;
    return strict ? <StrictMode>{tree}</StrictMode> : tree;
  };
  return { ...fake, wrapper };
}

function View() {
  const s = useSubscription('a', { keep: 3 });
  const c = useConnectionState();
  return (
    <p>
      {s.status}/{s.events.length}/{c.websocket.status}
    </p>
  );
}

describe('useTidewireClient', () => {
  it('should throw a clear error outside a provider', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => renderHook(() => useTidewireClient())).toThrow(/TidewireProvider/);
  });
});

describe('useSubscription', () => {
  it('should return the core snapshot, the same object until it changes', () => {
    const { wrapper, handles } = setup();
    const seen: SubscriptionState[] = [];
    renderHook(
      () => {
        const s = useSubscription('prices');
        seen.push(s);
        return s;
      },
      { wrapper },
    );
    expect(handles).toHaveLength(1);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ channel: 'prices', status: 'connecting', transport: 'sse' });
    const renders = seen.length;
    act(() => handles[0]!.set({ status: 'live' }));
    expect(seen.length).toBe(renders + 1);
    expect(seen.at(-1)).toMatchObject({ status: 'live', events: [] });
    let e: ChannelEvent | undefined;
    act(() => {
      e = handles[0]!.deliver({ p: 1 });
    });
    expect(seen.at(-1)!.lastEvent).toBe(e);
    expect(seen.at(-1)!.lastEventId).toBe(e?.id);
  });

  it('should pass transport, since and duplex to the client', () => {
    const { wrapper, handles } = setup();
    renderHook(() => useSubscription('a', { transport: 'websocket', since: 'x-1', duplex: true }), {
      wrapper,
    });
    expect(handles[0]!.options).toEqual({ transport: 'websocket', since: 'x-1', duplex: true });
  });

  it('should hold one handle under StrictMode and release it on unmount', () => {
    const { wrapper, handles, open } = setup(true);
    const { result, unmount } = renderHook(() => useSubscription('a'), { wrapper });
    expect(open()).toHaveLength(1);
    act(() => open()[0]!.set({ status: 'live' }));
    expect(result.current.status).toBe('live');
    unmount();
    expect(open()).toHaveLength(0);
    expect(handles.every((h) => h.listeners.change.size === 0)).toBe(true);
  });

  it('should not resubscribe when a new inline onEvent is given, and call the latest one', () => {
    const { wrapper, handles } = setup();
    const calls: string[] = [];
    const { rerender } = renderHook(
      ({ tag }) => useSubscription('a', { onEvent: (e) => calls.push(`${tag}:${e.data}`) }),
      { wrapper, initialProps: { tag: 'first' } },
    );
    rerender({ tag: 'second' });
    expect(handles).toHaveLength(1);
    act(() => {
      handles[0]!.deliver('x');
    });
    expect(calls).toEqual(['second:x']);
  });

  it('should move the subscription when the channel changes', () => {
    const { wrapper, handles, open } = setup();
    const { result, rerender } = renderHook(({ ch }) => useSubscription(ch), {
      wrapper,
      initialProps: { ch: 'a' },
    });
    rerender({ ch: 'b' });
    expect(open().map((h) => h.channel)).toEqual(['b']);
    expect(result.current.channel).toBe('b');
    act(() => {
      handles[0]!.deliver('late');
    });
    expect(result.current.lastEvent).toBeUndefined();
  });

  it('should keep the last N events in a new array only when it changes', () => {
    const { wrapper, handles } = setup();
    const { result } = renderHook(() => useSubscription<number>('a', { keep: 2 }), { wrapper });
    const h = handles[0]!;
    act(() => {
      h.deliver(1);
      h.deliver(2);
      h.deliver(3);
    });
    expect(result.current.events.map((e) => e.data)).toEqual([2, 3]);
    const events = result.current.events;
    act(() => h.set({ status: 'live' }));
    expect(result.current.status).toBe('live');
    expect(result.current.events).toBe(events);
  });

  it('should keep the last N of events that arrive together, with one render for them', () => {
    const { wrapper, handles } = setup();
    let renders = 0;
    const { result } = renderHook(
      () => {
        renders++;
        return useSubscription<number>('a', { keep: 2 });
      },
      { wrapper },
    );
    const h = handles[0]!;
    const before = renders;
    // More than twice `keep` before a read: the oldest are let go while they wait.
    act(() => {
      h.burst([1, 2, 3, 4, 5, 6, 7]);
    });
    expect(renders - before).toBe(1);
    expect(result.current.events.map((e) => e.data)).toEqual([6, 7]);
    act(() => {
      h.burst([8]);
    });
    expect(result.current.events.map((e) => e.data)).toEqual([7, 8]);
  });

  it('should re-render only when the select result changes', () => {
    const { wrapper, handles } = setup();
    let renders = 0;
    const { result } = renderHook(
      () => {
        renders++;
        return useSubscription<number, boolean>('a', {
          select: (s) => (s.lastEvent?.data ?? 0) > 10,
        });
      },
      { wrapper },
    );
    const before = renders;
    act(() => {
      for (let i = 0; i < 10; i++) handles[0]!.deliver(i);
    });
    expect(renders).toBe(before);
    expect(result.current).toBe(false);
    act(() => {
      handles[0]!.deliver(11);
    });
    expect(result.current).toBe(true);
    expect(renders).toBe(before + 1);
  });

  it('should stay idle without subscribing while disabled, then start when enabled', () => {
    const { wrapper, handles } = setup();
    const { result, rerender } = renderHook(
      ({ enabled }) => useSubscription('a', { enabled, since: 's-1' }),
      { wrapper, initialProps: { enabled: false } },
    );
    expect(handles).toHaveLength(0);
    expect(result.current).toMatchObject({ status: 'idle', transport: undefined });
    expect(result.current.lastEventId).toBe('s-1');
    rerender({ enabled: true });
    expect(handles).toHaveLength(1);
    expect(result.current.status).toBe('connecting');
    rerender({ enabled: false });
    expect(handles[0]!.closed).toBe(true);
    expect(result.current.status).toBe('idle');
  });

  it('should render the idle state on the server without subscribing', () => {
    const { client, handles } = fakeClient();
    const html = renderToString(
      <TidewireProvider client={client}>
        <View />
      </TidewireProvider>,
    );
    expect(html).toBe('<p>idle<!-- -->/<!-- -->0<!-- -->/<!-- -->idle</p>');
    expect(handles).toHaveLength(0);
  });
  it('should hydrate server HTML from the idle state without a mismatch, then subscribe', async () => {
    const { client, handles } = fakeClient();
    const tree = (
      <TidewireProvider client={client}>
        <View />
      </TidewireProvider>
    );
    const container = document.createElement('div');
    container.innerHTML = renderToString(tree);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const recoverable = vi.fn();
    let root: ReturnType<typeof hydrateRoot> | undefined;
    await act(async () => {
      root = hydrateRoot(container, tree, { onRecoverableError: recoverable });
    });
    expect(recoverable).not.toHaveBeenCalled();
    expect(errors).not.toHaveBeenCalled();
    expect(handles).toHaveLength(1);
    expect(container.textContent).toBe('connecting/0/idle');
    act(() => root?.unmount());
    expect(handles[0]!.closed).toBe(true);
  });
});

describe('useConnectionState', () => {
  it('should follow the client state and stop listening on unmount', () => {
    const { wrapper, setState, stateListeners } = setup();
    const { result, unmount } = renderHook(() => useConnectionState(), { wrapper });
    expect(result.current.websocket.status).toBe('idle');
    act(() => setState({ websocket: { status: 'connecting', attempt: 0 } }));
    expect(result.current.websocket).toEqual({ status: 'connecting', attempt: 0 });
    unmount();
    expect(stateListeners.size).toBe(0);
  });
});

describe('usePublish', () => {
  it('should return a stable function that publishes on its channel', async () => {
    const { wrapper, client } = setup();
    const { result, rerender } = renderHook(() => usePublish('chat'), { wrapper });
    const first = result.current;
    rerender();
    expect(result.current).toBe(first);
    await expect(result.current({ text: 'hi' }, { event: 'msg' })).resolves.toEqual({ id: 'p-1' });
    expect(client.publish).toHaveBeenCalledWith('chat', { text: 'hi' }, { event: 'msg' });
  });
});

describe('createTidewireHooks', () => {
  it('should type the hooks by the channel map', () => {
    type Channels = { prices: { price: number }; chat: { text: string } };
    const hooks = createTidewireHooks<Channels>();
    expect(hooks.useSubscription).toBe(useSubscription);
    expectTypeOf(hooks.useSubscription<'prices'>)
      .parameter(1)
      .exclude<undefined>()
      .toHaveProperty('onEvent')
      .toEqualTypeOf<((event: ChannelEvent<{ price: number }>) => void) | undefined>();
    expectTypeOf(hooks.usePublish<'chat'>)
      .returns.parameter(0)
      .toEqualTypeOf<{ text: string }>();
    // Never called: hooks run only inside components.
    const _unused = () => {
      // @ts-expect-error: not a channel of the map
      hooks.usePublish('nope');
    };
    expect(_unused).toBeTypeOf('function');
  });
});
