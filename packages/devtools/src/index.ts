/**
 * `@tidewire/devtools`: an in-page panel that shows what a Tidewire client is doing.
 * @module
 */
import type { Client } from '@tidewire/core';
import { createModel, type SentAt } from './model';
import { createPanel } from './panel';
import { css } from './styles';

export type {
  Avoided,
  Build,
  ChannelStatus,
  ChannelView,
  ConnectionView,
  DevtoolsExport,
  EventEntry,
  EventFilter,
  PlainState,
  SentAt,
  TimelineEntry,
  TimelineKind,
  TokenAsk,
} from './model';

/** What the panel reads of a client: any `Client` of `@tidewire/core`. */
export type DevtoolsClient = Pick<Client, 'on' | 'getState'>;

/** Options of {@link mountDevtools}. */
export interface DevtoolsOptions {
  /** Start expanded instead of as a small button. @default false */
  open?: boolean;
  /** The corner the panel sits in. @default 'bottom-right' */
  position?: 'bottom-right' | 'bottom-left';
  /** The element the panel's host element is appended to. @default document.body */
  container?: Element;
  /** Events the log keeps, newest first out (a ring buffer). @default 1000 */
  maxEvents?: number;
  /** Timeline entries kept. @default 500 */
  maxTimeline?: number;
  /**
   * Reads the server's time stamp from an event, in ms since the epoch, for its latency (arrival
   * minus the stamp; both clocks must agree).
   * @default `data.sentAt`, else `data.ts`: a number of ms, or an ISO 8601 string
   */
  sentAt?: SentAt;
  /**
   * A CSP nonce for the `<style>` element the panel falls back to where constructed stylesheets
   * are not supported (before Safari 16.4). Not needed anywhere else.
   * @default none
   */
  nonce?: string;
}

/**
 * Mounts the panel, collapsed to a small button, and returns what removes it: its element, its
 * listeners on the client and its timers.
 *
 * The development build of `@tidewire/core` (bundlers' `development` condition, Node,
 * `tidewire.development.js`) feeds every part of it; a production build shows connection
 * states and errors only, and says so.
 * @example
 * import { mountDevtools } from '@tidewire/devtools';
 * const unmount = mountDevtools(client);
 * // later
 * unmount();
 */
export function mountDevtools(client: DevtoolsClient, options: DevtoolsOptions = {}): () => void {
  if (typeof document === 'undefined') return () => {};
  const {
    open = false,
    position = 'bottom-right',
    container = document.body,
    maxEvents = 1000,
    maxTimeline = 500,
    sentAt,
    nonce,
  } = options;
  const model = createModel(client.getState(), {
    maxEvents,
    maxTimeline,
    ...(sentAt ? { sentAt } : {}),
  });
  const host = document.createElement('tidewire-devtools');
  host.setAttribute('data-position', position);
  const root = host.attachShadow({ mode: 'open' });
  adoptStyles(root, nonce);
  /** Exported files' object URLs, revoked a while after their download started. */
  const downloads = new Map<ReturnType<typeof setTimeout>, string>();

  const panel = createPanel(root, host, model, {
    open,
    role() {
      const { leader } = client.getState() as { leader?: unknown };
      if (typeof leader === 'string') return leader;
      return leader === true ? 'leader' : leader === false ? 'follower' : undefined;
    },
    save(json) {
      const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = `tidewire-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
      root.append(link);
      link.click();
      link.remove();
      const timer = setTimeout(() => {
        downloads.delete(timer);
        URL.revokeObjectURL(url);
      }, 10_000);
      downloads.set(timer, url);
    },
  });
  const offs = [
    model.subscribe(panel.update),
    client.on('inspect', model.record),
    client.on('state', (change) => {
      model.state(change);
      // The tab's role may have changed with it.
      panel.update();
    }),
    client.on('error', model.error),
  ];
  container.append(host);

  let mounted = true;
  return () => {
    if (!mounted) return;
    mounted = false;
    for (const off of offs) off();
    panel.dispose();
    for (const [timer, url] of downloads) {
      clearTimeout(timer);
      URL.revokeObjectURL(url);
    }
    host.remove();
  };
}

/** Constructed stylesheets pass `style-src 'self'`; a `<style>` element needs a nonce there. */
function adoptStyles(root: ShadowRoot, nonce: string | undefined) {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function') {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
      return;
    } catch {
      // No constructable stylesheets here: fall through.
    }
  }
  const style = document.createElement('style');
  if (nonce) style.nonce = nonce;
  style.textContent = css;
  root.append(style);
}
