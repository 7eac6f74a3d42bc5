/**
 * The playground server's own endpoints (not Tidewire's): tokens, demo work,
 * published counts and chaos controls. Shared by the three pages.
 */
import type { ClientOptions, exponentialBackoff } from '@tidewire/core';
import type { DevtoolsOptions } from '@tidewire/devtools';

/** What `/api/stats` answers. */
export interface ServerInfo {
  epoch: string;
  restarts: number;
  webSocketEnabled: boolean;
  paused: boolean;
  tokensIssued: number;
  heartbeatMs: number;
  connections: { sse: number; websocket: number };
  /** Per channel asked for: events accepted so far and the newest id. */
  channels: Record<string, { published: number; lastId: string | undefined }>;
  /** The latest chaos actions, from any tab, oldest first. */
  chaos: ChaosResult[];
  /** The chaos controls to show now, in order: the host's, then the built-in ones that apply. */
  controls: ChaosControl[];
  /** Built-in chaos controls that do not apply where the playground runs, and why. */
  unavailable: UnavailableControl[];
}

/** A started job or completion: the channel to follow and the position to follow it from. */
export interface Started {
  channel: string;
  since: string;
}

/**
 * Where a page starts following a channel, and how many events the server had
 * published up to that position (the page counts what it receives after it).
 */
export interface Start {
  since: string | undefined;
  baseline: number;
}

/** What every chaos control answers, and `/api/stats` lists. */
export interface ChaosResult {
  action: string;
  affected?: number;
  /** Increasing across the server's chaos actions. */
  id: number;
  at: number;
}

/**
 * A chaos control as the server lists it. Of two opposite controls (block and allow WebSocket,
 * pause and resume the publishers) the server lists the one that applies now.
 */
export interface ChaosControl {
  /** What `POST /api/chaos/<name>` takes. */
  name: string;
  label: string;
  /** What it does: the button's tooltip. */
  description: string;
  tone: 'danger' | 'warn' | 'neutral';
}

/** A built-in chaos control the server leaves out, and why. */
export interface UnavailableControl {
  name: string;
  label: string;
  reason: string;
}

/** Fetches `path`; a failure says the status and, when the server gave one, its reason. */
async function call(path: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(path, init);
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as { error?: unknown } | undefined;
    const reason = typeof body?.error === 'string' ? `: ${body.error}` : '';
    throw new Error(`${path}: HTTP ${response.status}${reason}`);
  }
  return response;
}

const postJson = (path: string, body?: unknown): Promise<Response> =>
  call(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });

export const api = {
  /** A fresh token from the playground's `/token` (what `getToken` calls). */
  async token(): Promise<string> {
    return (await call('/token', { method: 'POST' })).text();
  },
  async stats(channels: readonly string[]): Promise<ServerInfo> {
    const query = channels.map((c) => `channel=${encodeURIComponent(c)}`).join('&');
    return (await (await call(`/api/stats?${query}`)).json()) as ServerInfo;
  },
  /** Where to subscribe from to get `back` recent events of each channel first. */
  async start(back: Record<string, number>): Promise<Record<string, Start>> {
    const query = Object.entries(back)
      .map(([c, n]) => `${encodeURIComponent(c)}=${n}`)
      .join('&');
    return (await (await call(`/api/start?${query}`)).json()) as Record<string, Start>;
  },
  async startJob(): Promise<Started> {
    return (await (await postJson('/api/jobs')).json()) as Started;
  },
  async startCompletion(prompt: string): Promise<Started> {
    return (await (await postJson('/api/completions', { prompt })).json()) as Started;
  },
  /** Runs the chaos control `name`, as the server lists it. */
  async chaos(name: string): Promise<ChaosResult> {
    return (await (await postJson(`/api/chaos/${encodeURIComponent(name)}`)).json()) as ChaosResult;
  },
};

/**
 * The client options every page uses: the same-origin server and tokens from `/token`.
 * The rest is tuned for a demo where failures come seconds apart: backoff capped at 4 s
 * (default 30 s), connections count as stable after 2 s (default 5 s), and a blocked
 * transport is retried after 20 s (default 5 min), so recovery is always visible at once.
 * (`backoff` is passed in: the Vanilla page takes it from `window.Tidewire`.)
 */
export function clientOptions(backoff: typeof exponentialBackoff): ClientOptions {
  return {
    url: `${location.origin}/tidewire`,
    getToken: () => api.token(),
    retryDelay: backoff({ maxDelay: 4000 }),
    stableAfter: 2000,
    fallback: { after: 2, ttl: 20_000 },
  };
}

/**
 * The panel's options on every page: the demo's events carry their publish time in `data.at`
 * (ms), which the panel reads for each event's latency.
 */
export const devtoolsOptions: DevtoolsOptions = {
  sentAt: ({ data }) => {
    const at = (data as { at?: unknown } | null)?.at;
    return typeof at === 'number' ? at : undefined;
  },
};

/** The persistent channels and their labels in the inspector. */
export const channels = {
  metrics: 'Metrics',
  notifications: 'Notifications',
  chat: 'Chat',
} as const;

/** How many recent events each page loads first: a full sparkline, a feed, a chat history. */
export const recent: Record<keyof typeof channels, number> = {
  metrics: 39,
  notifications: 5,
  chat: 30,
};

/** A display name for this tab in the chat. */
export function guestName(): string {
  return `you-${Math.random().toString(36).slice(2, 6)}`;
}
