// @vitest-environment happy-dom
import type { Client, Transport } from '@tidewire/core';
import { mount } from '@vue/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { createSSRApp, defineComponent, h, type PropType, ref } from 'vue';
import { renderToString } from 'vue/server-renderer';
import {
  cleanup,
  connect,
  pendingTimers,
  sleep,
  startServer,
  type TestServer,
  until,
} from '../../../testing/binding-server';
import { AuthError } from '../../server/src/index';
import { type SubscriptionState, TidewirePlugin, useSubscription } from '../src/index';

const mounted: { unmount(): void }[] = [];
afterEach(async () => {
  for (const w of mounted.splice(0)) w.unmount();
  await cleanup();
});

/** Every state a component saw, per test id. */
const seen = new Map<string, SubscriptionState[]>();
const last = (id: string) => seen.get(id)?.at(-1);

const Feed = defineComponent({
  props: {
    id: { type: String, required: true },
    channel: { type: String, default: 'feed' },
    transport: { type: String as PropType<Transport>, default: undefined },
    since: { type: String, default: undefined },
  },
  setup(props) {
    const { state, status, events } = useSubscription(() => props.channel, {
      ...(props.transport ? { transport: props.transport } : {}),
      ...(props.since ? { since: props.since } : {}),
      keep: 100,
    });
    return () => {
      const list = seen.get(props.id) ?? [];
      if (list.at(-1) !== state.value) list.push(state.value);
      seen.set(props.id, list);
      return h('p', `${status.value}:${events.value.map((e) => String(e.data)).join(',')}`);
    };
  },
});

/** Mounts `render` with the plugin; its reactive inputs drive the test. */
function mountApp(client: Client, render: () => ReturnType<typeof h>) {
  const wrapper = mount(defineComponent({ setup: () => render }), {
    global: { plugins: [[TidewirePlugin, { client }]] },
  });
  mounted.push(wrapper);
  return wrapper;
}

const total = async (s: TestServer) => {
  const { connections, subscriptions } = await s.tw.stats();
  return { connections: connections.sse + connections.websocket, subscriptions };
};

describe.each<Transport>(['sse', 'websocket'])('useSubscription over %s', (transport) => {
  it('should share one connection and one server subscription between two components, and keep the survivor receiving', async () => {
    seen.clear();
    const server = await startServer();
    const client = connect(server.url);
    const both = ref(true);
    const wrapper = mountApp(client, () =>
      h('div', [
        h(Feed, { id: 'a', transport }),
        both.value ? h(Feed, { id: 'b', transport }) : null,
      ]),
    );
    await until(() => last('a')?.status === 'live' && last('b')?.status === 'live');
    expect(await total(server)).toEqual({ connections: 1, subscriptions: 1 });
    both.value = false;
    await sleep(150); // past the client's closeDelay (50 ms)
    expect(wrapper.findAll('p')).toHaveLength(1);
    expect(await total(server)).toEqual({ connections: 1, subscriptions: 1 });
    server.tw.publish('feed', 'after');
    await until(() => wrapper.text() === 'live:after');
    expect(last('a')?.transport).toBe(transport);
  });

  it('should move the subscription when the channel changes, without leaking the old one', async () => {
    seen.clear();
    const server = await startServer();
    const client = connect(server.url);
    const channel = ref('one');
    mountApp(client, () => h(Feed, { id: 'x', channel: channel.value, transport }));
    await until(() => last('x')?.status === 'live');
    channel.value = 'two';
    await until(() => last('x')?.channel === 'two' && last('x')?.status === 'live');
    await until(async () => {
      const { connections, subscriptions } = await total(server);
      return connections === 1 && subscriptions === 1;
    }, 2000);
    await sleep(150);
    const { channels, subscriptions } = await server.tw.stats();
    expect(subscriptions).toBe(1);
    expect(channels.two?.subscribers).toBe(1);
    expect(channels.one?.subscribers ?? 0).toBe(0);
    server.tw.publish('one', 'stale');
    server.tw.publish('two', 'fresh');
    await until(() => last('x')?.lastEvent?.data === 'fresh');
    expect(last('x')?.events.map((e) => e.data)).toEqual(['fresh']);
  });

  it('should show reconnecting, then resume without loss after the server drops every connection', async () => {
    seen.clear();
    const server = await startServer();
    const client = connect(server.url);
    mountApp(client, () => h(Feed, { id: 'r', transport }));
    await until(() => last('r')?.status === 'live');
    const ids = [(await server.tw.publish('feed', 1)).id];
    await until(() => last('r')?.received === 1);
    server.tw.disconnectAll();
    ids.push((await server.tw.publish('feed', 2)).id, (await server.tw.publish('feed', 3)).id);
    await until(() => last('r')?.received === 3 && last('r')?.status === 'live');
    const statuses = seen.get('r')!.map((s) => s.status);
    expect(statuses.slice(statuses.indexOf('live'))).toContain('reconnecting');
    expect(last('r')?.events.map((e) => e.id)).toEqual(ids);
    expect(last('r')).toMatchObject({ reconnects: 1, duplicates: 0, lastEventId: ids[2] });
    expect(seen.get('r')!.find((s) => s.status === 'reconnecting')?.error).toBeDefined();
  });

  it('should count a gap when resuming from a position the server no longer has', async () => {
    seen.clear();
    const server = await startServer();
    server.tw.publish('feed', 'kept');
    const client = connect(server.url);
    mountApp(client, () => h(Feed, { id: 'g', transport, since: 'old-epoch-7' }));
    await until(() => last('g')?.status === 'live' && last('g')?.received === 1);
    expect(last('g')).toMatchObject({ gaps: 1 });
    expect(last('g')?.events.map((e) => e.data)).toEqual(['kept']);
  });
});

describe('useSubscription with token refresh', () => {
  const expiring = () =>
    startServer({
      authenticate: async (token) => {
        const expiresAt = Number(token?.split(':')[1]);
        if (!(expiresAt > Date.now())) throw new AuthError('token_expired');
        return { principal: 'u', expiresAt };
      },
      // A refresh 800 ms before expiry: the client answers one at most every second.
      tokenRefreshLeadMs: 800,
    });

  it('should stay live over WebSocket while the token is refreshed in-band', async () => {
    seen.clear();
    const server = await expiring();
    const reasons: string[] = [];
    const client = connect(server.url, {
      getToken: ({ reason }) => {
        reasons.push(reason);
        return `t:${Date.now() + 2000}`;
      },
    });
    mountApp(client, () => h(Feed, { id: 'w', transport: 'websocket' }));
    await until(() => last('w')?.status === 'live');
    await until(() => reasons.includes('refresh'));
    await sleep(1000); // past the first token's expiry
    server.tw.publish('feed', 'still here');
    await until(() => last('w')?.lastEvent?.data === 'still here');
    const statuses = seen.get('w')!.map((s) => s.status);
    expect(statuses.slice(statuses.indexOf('live'))).not.toContain('reconnecting');
    expect(last('w')?.reconnects).toBe(0);
  });

  it('should show the expiry and the resumed stream over SSE', async () => {
    seen.clear();
    const server = await expiring();
    let issued = 0;
    const client = connect(server.url, {
      getToken: () => `t${++issued}:${Date.now() + 300}`,
    });
    mountApp(client, () => h(Feed, { id: 's', transport: 'sse' }));
    await until(() => last('s')?.status === 'live');
    const first = (await server.tw.publish('feed', 'before')).id;
    await until(() => (last('s')?.reconnects ?? 0) >= 1 && last('s')?.status === 'live');
    const second = (await server.tw.publish('feed', 'after')).id;
    await until(() => last('s')?.lastEventId === second);
    expect(issued).toBeGreaterThan(1);
    expect(seen.get('s')!.some((s) => s.error?.code === 'token_expired')).toBe(true);
    expect(last('s')?.events.map((e) => e.id)).toEqual([first, second]);
  });
});

describe('useSubscription rendering', () => {
  it('should not re-render per event with select and onEvent under a high event rate', async () => {
    const server = await startServer();
    const client = connect(server.url);
    let renders = 0;
    let events = 0;
    const Ticker = defineComponent({
      setup() {
        const { selected } = useSubscription('ticks', {
          onEvent: () => events++,
          select: (s) => `${s.status}:${Math.floor(s.received / 100)}`,
        });
        return () => {
          renders++;
          return h('p', selected.value);
        };
      },
    });
    const wrapper = mountApp(client, () => h(Ticker));
    await until(() => wrapper.text() === 'live:0');
    const before = renders;
    for (let i = 0; i < 500; i++) server.tw.publish('ticks', i);
    await until(() => events === 500);
    await until(() => wrapper.text() === 'live:5');
    expect(renders - before).toBeLessThanOrEqual(5);
  });

  it('should render the idle state with @vue/server-renderer and open no connection', async () => {
    const server = await startServer();
    const client = connect(server.url);
    const app = createSSRApp({ render: () => h(Feed, { id: 'ssr' }) });
    app.use(TidewirePlugin, { client });
    expect(await renderToString(app)).toBe('<p>idle:</p>');
    await sleep(100);
    expect((await server.tw.stats()).connections).toEqual({ sse: 0, websocket: 0 });
    expect(client.getState()).toEqual({ sse: { status: 'idle' }, websocket: { status: 'idle' } });
    expect(pendingTimers(client)).toBe(0);
  });

  it('should leave no socket, subscription or timer after app unmount, and nothing after client.close()', async () => {
    seen.clear();
    const server = await startServer();
    const client = connect(server.url);
    const wrapper = mountApp(client, () =>
      h('div', [
        h(Feed, { id: 'u1', transport: 'sse', channel: 'a' }),
        h(Feed, { id: 'u2', transport: 'websocket', channel: 'b' }),
      ]),
    );
    await until(() => last('u1')?.status === 'live' && last('u2')?.status === 'live');
    wrapper.unmount();
    mounted.length = 0;
    await until(async () => (await total(server)).connections === 0, 2000);
    expect(await total(server)).toEqual({ connections: 0, subscriptions: 0 });
    expect(client.getState()).toEqual({ sse: { status: 'idle' }, websocket: { status: 'idle' } });
    await until(() => pendingTimers(client) === 0, 1000);
    client.close();
    expect(pendingTimers(client)).toBe(0);
    await sleep(100);
    expect(await total(server)).toEqual({ connections: 0, subscriptions: 0 });
  });
});
