import { createClient } from '@tidewire/core';
import { act, createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApp, h } from 'vue';
import { mountDevtools } from '../src/index';
import { TidewireDevtools as ReactDevtools } from '../src/react';
import { TidewireDevtools as VueDevtools } from '../src/vue';
import { at, event, fakeClient, liveChannel } from './helpers';

const host = () => document.querySelector('tidewire-devtools');
const shadow = () => host()?.shadowRoot ?? undefined;
const $ = <T extends Element = HTMLElement>(selector: string) =>
  shadow()?.querySelector<T>(selector) ?? undefined;
const $$ = (selector: string) => [...(shadow()?.querySelectorAll<HTMLElement>(selector) ?? [])];
const click = (selector: string) => $(selector)?.click();

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe('mountDevtools', () => {
  it('should mount collapsed in a shadow root with an adopted stylesheet and no inline style', () => {
    const { client } = fakeClient();
    const unmount = mountDevtools(client);
    expect(host()?.parentElement).toBe(document.body);
    expect(shadow()?.adoptedStyleSheets).toHaveLength(1);
    expect($('.toggle')?.hidden).toBe(false);
    expect($('.panel')?.hidden).toBe(true);
    click('.toggle');
    expect($('.panel')?.hidden).toBe(false);
    expect($$('[style]')).toEqual([]);
    expect($$('style')).toEqual([]);
    unmount();
  });

  it('should leave no element and no listener behind', () => {
    const fake = fakeClient();
    const unmount = mountDevtools(fake.client, { open: true });
    expect(fake.listening()).toBe(3);
    unmount();
    unmount();
    expect(fake.listening()).toBe(0);
    expect(host()).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('should show connections, channels, the log and the timeline from the records', () => {
    const fake = fakeClient();
    const unmount = mountDevtools(fake.client, { open: true });
    for (const r of liveChannel('chat', 'websocket')) fake.record(r);
    fake.record(event('chat', 'e1', { text: 'hi', sentAt: 0 }, { transport: 'websocket' }));
    fake.record(
      at({ type: 'fallback', transport: 'websocket', reason: 'network', until: Date.now() + 9e3 }),
    );
    vi.advanceTimersByTime(200);
    expect($('[data-transport="websocket"]')?.getAttribute('data-status')).toBe('open');
    expect($('[data-avoided]')?.textContent).toContain('(network)');
    expect($('.bar .tag')?.textContent).toBe('development build');
    click('[data-tab="channels"]');
    expect($('[data-channel="chat"]')?.getAttribute('data-status')).toBe('live');
    click('[data-tab="events"]');
    expect($$('.ev').map((e) => e.getAttribute('data-id'))).toEqual(['e1']);
    expect($('.ev .preview')?.textContent).toBe('{"text":"hi","sentAt":0}');
    click('[data-tab="timeline"]');
    expect($('[data-kind="fallback"]')?.textContent).toContain('WebSocket avoided (network)');
    unmount();
  });

  it('should filter, pause, clear and export the event log', async () => {
    const fake = fakeClient();
    const unmount = mountDevtools(fake.client, { open: true });
    for (const r of [...liveChannel('a'), ...liveChannel('b')]) fake.record(r);
    fake.record(event('a', '1'));
    fake.record(event('b', '2', {}, { type: 'note' }));
    click('[data-tab="events"]');
    const select = $<HTMLSelectElement>('[data-filter="channel"]')!;
    expect([...select.options].map((o) => o.value)).toEqual(['', 'a', 'b']);
    select.value = 'b';
    select.dispatchEvent(new Event('change'));
    expect($$('.ev').map((e) => e.getAttribute('data-id'))).toEqual(['2']);

    click('[data-do="pause"]');
    fake.record(event('b', '3'));
    vi.advanceTimersByTime(200);
    expect($$('.ev')).toHaveLength(1);
    expect($('[data-do="pause"]')?.getAttribute('aria-pressed')).toBe('true');
    expect($('[data-events-status]')?.textContent).toContain('Paused: 1 new since');
    click('[data-do="pause"]');
    expect($$('.ev').map((e) => e.getAttribute('data-id'))).toEqual(['3', '2']);

    let saved: Blob | undefined;
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      saved = blob as Blob;
      return 'blob:x';
    });
    const revoke = vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => {});
    click('[data-do="export"]');
    const exported = JSON.parse(await saved!.text());
    expect(exported.events.map((e: { id: string }) => e.id)).toEqual(['2', '3']);
    expect(exported.filter).toEqual({ channel: 'b' });

    click('[data-do="clear"]');
    expect($$('.ev')).toEqual([]);
    unmount();
    expect(revoke).toHaveBeenCalledWith('blob:x');
  });

  it('should say what needs the development build when the client is a production build', () => {
    const fake = fakeClient();
    const unmount = mountDevtools(fake.client, { open: true });
    fake.stateOnly('sse', { status: 'connecting', attempt: 0 });
    vi.advanceTimersByTime(200);
    expect($('.bar .tag')?.textContent).toBe('production build');
    expect($('[data-transport="sse"]')?.getAttribute('data-status')).toBe('connecting');
    click('[data-tab="events"]');
    expect($('[data-notice="production"]')?.textContent).toContain('tidewire.development.js');
    unmount();
  });

  it("should show the tab's role only when the client reports one", () => {
    const fake = fakeClient();
    const unmount = mountDevtools(fake.client, { open: true });
    const role = () => $$('.bar .tag')[1];
    expect(role()?.hidden).toBe(true);
    fake.setLeader(true);
    fake.stateOnly('sse', { status: 'open' });
    vi.advanceTimersByTime(200);
    expect(role()?.hidden).toBe(false);
    expect(role()?.textContent).toBe('leader tab');
    unmount();
  });

  it('should never put the token in what it shows or exports', async () => {
    vi.useRealTimers();
    const client = createClient({
      url: 'https://example.test/tidewire',
      getToken: () => 'secret-token-value',
      fetch: () => new Promise<Response>(() => {}),
    });
    const unmount = mountDevtools(client, { open: true });
    client.subscribe('prices');
    await vi.waitFor(() => expect($('[data-section="tokens"] li')).toBeDefined());
    let saved: Blob | undefined;
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      saved = blob as Blob;
      return 'blob:y';
    });
    vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => {});
    click('[data-do="export"]');
    click('[data-tab="events"]');
    click('[data-do="export"]');
    const text = await saved!.text();
    expect(JSON.parse(text).tokens).toEqual([
      { at: expect.any(Number), reason: 'connect', attempt: 0 },
    ]);
    expect(text).not.toContain('secret-token-value');
    expect(shadow()?.innerHTML).not.toContain('secret-token-value');
    unmount();
    client.close();
  });
});

describe('the React and Vue components', () => {
  it('should mount the panel with the React component and remove it on unmount', async () => {
    vi.useRealTimers();
    const fake = fakeClient();
    const container = document.createElement('div');
    document.body.append(container);
    const root = createRoot(container);
    (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
    await act(async () => root.render(createElement(ReactDevtools, { client: fake.client })));
    expect(host()).not.toBeNull();
    expect(fake.listening()).toBe(3);
    await act(async () => root.unmount());
    expect(host()).toBeNull();
    expect(fake.listening()).toBe(0);
  });

  it('should mount the panel with the Vue component and remove it on unmount', () => {
    const fake = fakeClient();
    const container = document.createElement('div');
    document.body.append(container);
    const app = createApp({ render: () => h(VueDevtools, { client: fake.client, open: true }) });
    app.mount(container);
    expect($('.panel')?.hidden).toBe(false);
    expect(fake.listening()).toBe(3);
    app.unmount();
    expect(host()).toBeNull();
    expect(fake.listening()).toBe(0);
  });
});
