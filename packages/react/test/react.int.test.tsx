// @vitest-environment happy-dom
import { act, render, cleanup as unmountAll } from '@testing-library/react';
import type { Client, Transport } from '@tidewire/core';
import { StrictMode } from 'react';
import { renderToString } from 'react-dom/server';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
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
import { type SubscriptionState, TidewireProvider, useSubscription } from '../src/index';

// Events arrive from real sockets, outside act(): let React schedule them as in an app.
beforeAll(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
});
afterEach(async () => {
  unmountAll();
  await cleanup();
});

/** Every state a component rendered, per test id. */
const seen = new Map<string, SubscriptionState[]>();
const last = (id: string) => seen.get(id)?.at(-1);

function Feed(props: { id: string; channel?: string; transport?: Transport; since?: string }) {
  const { id, channel = 'feed', ...options } = props;
  const s = useSubscription(channel, { ...options, keep: 100 });
  const list = seen.get(id) ?? [];
  if (list.at(-1) !== s) list.push(s);
  seen.set(id, list);
  return (
    <p>
      {s.status}:{s.events.map((e) => String(e.data)).join(',')}
    </p>
  );
}

function mount(client: Client, children: React.ReactNode) {
  const tree = (c: React.ReactNode) => (
    <StrictMode>
      <TidewireProvider client={client}>{c}</TidewireProvider>
    </StrictMode>
  );
  const view = render(tree(children));
  return { ...view, update: (c: React.ReactNode) => view.rerender(tree(c)) };
}

const total = async (s: TestServer) => {
  const { connections, subscriptions } = await s.tw.stats();
  return { connections: connections.sse + connections.websocket, subscriptions };
};

describe.each<Transport>(['sse', 'websocket'])('useSubscription over %s', (transport) => {
  it('should share one connection and one server subscription between StrictMode components, and keep the survivor receiving', async () => {
    seen.clear();
    const server = await startServer();
    const client = connect(server.url);
    const view = mount(
      client,
      <>
        <Feed id="a" transport={transport} />
        <Feed id="b" transport={transport} />
      </>,
    );
    await until(() => last('a')?.status === 'live' && last('b')?.status === 'live');
    expect(await total(server)).toEqual({ connections: 1, subscriptions: 1 });
    view.update(<Feed id="a" transport={transport} />);
    await sleep(150); // past the client's closeDelay (50 ms)
    expect(await total(server)).toEqual({ connections: 1, subscriptions: 1 });
    server.tw.publish('feed', 'after');
    await until(() => last('a')?.lastEvent?.data === 'after');
    expect(view.container.textContent).toBe('live:after');
    expect(last('a')?.transport).toBe(transport);
  });

  it('should move the subscription when the channel prop changes, without leaking the old one', async () => {
    seen.clear();
    const server = await startServer();
    const client = connect(server.url);
    const view = mount(client, <Feed id="x" channel="one" transport={transport} />);
    await until(() => last('x')?.status === 'live');
    view.update(<Feed id="x" channel="two" transport={transport} />);
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
    mount(client, <Feed id="r" transport={transport} />);
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
    mount(client, <Feed id="g" transport={transport} since="old-epoch-7" />);
    expect(seen.get('g')![0]).toMatchObject({ status: 'idle', lastEventId: 'old-epoch-7' });
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
    mount(client, <Feed id="w" transport="websocket" />);
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
    mount(client, <Feed id="s" transport="sse" />);
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

/** Renders a coarse bucket of the event count: one render per hundred events at most. */
function Ticker(props: { onRender: () => void; onEvent: () => void }) {
  props.onRender();
  const bucket = useSubscription('ticks', {
    onEvent: props.onEvent,
    select: (s) => `${s.status}:${Math.floor(s.received / 100)}`,
  });
  return <p>{bucket}</p>;
}

describe('useSubscription rendering', () => {
  it('should not re-render per event with select and onEvent under a high event rate', async () => {
    const server = await startServer();
    const client = connect(server.url);
    let renders = 0;
    let events = 0;
    const view = mount(client, <Ticker onRender={() => renders++} onEvent={() => events++} />);
    await until(() => view.container.textContent === 'live:0');
    const before = renders;
    for (let i = 0; i < 500; i++) server.tw.publish('ticks', i);
    await until(() => events === 500);
    await until(() => view.container.textContent === 'live:5');
    // One render per change of the selected value (at most 5, StrictMode doubles them).
    expect(renders - before).toBeLessThanOrEqual(10);
  });

  it('should render the idle state with react-dom/server and open no connection', async () => {
    const server = await startServer();
    const client = connect(server.url);
    const html = renderToString(
      <TidewireProvider client={client}>
        <Feed id="ssr" />
      </TidewireProvider>,
    );
    expect(html).toBe('<p>idle<!-- -->:</p>');
    await sleep(100);
    expect((await server.tw.stats()).connections).toEqual({ sse: 0, websocket: 0 });
    expect(client.getState()).toEqual({ sse: { status: 'idle' }, websocket: { status: 'idle' } });
  });

  it('should leave no socket, subscription or timer after unmount, and nothing after client.close()', async () => {
    seen.clear();
    const server = await startServer();
    const client = connect(server.url);
    const view = mount(
      client,
      <>
        <Feed id="u1" transport="sse" channel="a" />
        <Feed id="u2" transport="websocket" channel="b" />
      </>,
    );
    await until(() => last('u1')?.status === 'live' && last('u2')?.status === 'live');
    view.unmount();
    await until(async () => (await total(server)).connections === 0, 2000);
    expect(await total(server)).toEqual({ connections: 0, subscriptions: 0 });
    expect(client.getState()).toEqual({ sse: { status: 'idle' }, websocket: { status: 'idle' } });
    await until(() => pendingTimers(client) === 0, 1000);
    act(() => client.close());
    expect(pendingTimers(client)).toBe(0);
    await sleep(100);
    expect(await total(server)).toEqual({ connections: 0, subscriptions: 0 });
  });
});
