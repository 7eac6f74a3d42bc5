/** Labels, formats and small view models the three pages share, so they look the same. */
import type { ChaosControl, ServerInfo } from './api';
import type { Row } from './ledger';

export interface MetricSample {
  cpu: number;
  memory: number;
  rps: number;
  p95: number;
  at: number;
}

export interface Notification {
  level: 'info' | 'success' | 'warning';
  title: string;
  body: string;
  at: number;
}

export interface ChatMessage {
  user: string;
  text: string;
  at: number;
}

/** The four tiles of the dashboard. */
export const metricTiles: ReadonlyArray<{
  key: 'cpu' | 'memory' | 'rps' | 'p95';
  label: string;
  unit: string;
  max: number;
}> = [
  { key: 'cpu', label: 'CPU', unit: '%', max: 100 },
  { key: 'memory', label: 'Memory', unit: '%', max: 100 },
  { key: 'rps', label: 'Requests', unit: '/s', max: 2600 },
  { key: 'p95', label: 'Latency p95', unit: 'ms', max: 900 },
];

/** How many samples a sparkline shows. */
export const SPARK_POINTS = 40;

/** The `points` of an SVG polyline in a 100 × 32 box. */
export function sparkline(values: readonly number[], max: number): string {
  if (values.length === 0) return '';
  const step = 100 / (SPARK_POINTS - 1);
  const offset = SPARK_POINTS - values.length;
  return values
    .map(
      (v, i) =>
        `${((offset + i) * step).toFixed(1)},${(31 - (Math.min(v, max) / max) * 30).toFixed(1)}`,
    )
    .join(' ');
}

export function formatMetric(value: number | undefined, unit: string): string {
  if (value === undefined) return '–';
  if (unit === '/s') return value.toLocaleString('en-US');
  return unit === '%' ? value.toFixed(1) : String(Math.round(value));
}

export function clock(at: number): string {
  return new Date(at).toLocaleTimeString('en-GB', { hour12: false });
}

/** The chaos controls to show: those the server lists, none before its first answer. */
export function chaosControls(server: ServerInfo | undefined): ChaosControl[] {
  return server?.controls ?? [];
}

/**
 * Why the built-in controls the server leaves out are missing, one line per reason, such as
 * "Drop connections, Stall streams: left out, as <reason>."; none when every one applies.
 */
export function chaosNotes(server: ServerInfo | undefined): string[] {
  const byReason = new Map<string, string[]>();
  for (const { label, reason } of server?.unavailable ?? []) {
    byReason.set(reason, [...(byReason.get(reason) ?? []), label]);
  }
  return [...byReason].map(([reason, labels]) => `${labels.join(', ')}: left out, as ${reason}.`);
}

/** The text and tone of a row's `received / published` and `lost` cells. */
export function countCells(row: Row): {
  counts: string;
  lost: string;
  tone: 'ok' | 'bad' | 'none';
} {
  const counts = `${row.received} / ${row.published ?? '–'}`;
  if (row.lost === undefined) return { counts, lost: '–', tone: 'none' };
  const bad = row.lost !== 0 || row.duplicates > 0;
  return { counts, lost: String(row.lost), tone: bad ? 'bad' : 'ok' };
}

export const transportLabel = (t: Row['transport']): string =>
  t === 'websocket' ? 'WebSocket' : t === 'sse' ? 'SSE' : '–';

/** The same, short, for the inspector's narrow column. */
export const transportTag = (t: Row['transport']): string =>
  t === 'websocket' ? 'WS' : t === 'sse' ? 'SSE' : '–';

/** The end of an id, for a narrow column (the whole id is in the tooltip). */
export function shortId(id: string | undefined): string {
  if (id === undefined) return '–';
  return id.length > 10 ? `…${id.slice(-8)}` : id;
}

/** The `data-*` attributes of an inspector row: what the browser tests read. */
export function rowData(row: Row): Record<string, string> {
  return {
    'data-channel': row.channel,
    'data-status': row.status,
    'data-transport': row.transport ?? '',
    'data-received': String(row.received),
    'data-published': row.published === undefined ? '' : String(row.published),
    'data-lost': row.lost === undefined ? '' : String(row.lost),
    'data-duplicates': String(row.duplicates),
    'data-dropped': String(row.dropped),
    'data-gaps': String(row.gaps),
    'data-gap-reason': row.gapReason ?? '',
    'data-moved': row.moved ?? '',
    'data-reconnects': String(row.reconnects),
  };
}

export const completionPrompts = [
  'How do SSE and WebSocket differ?',
  'What happens when my connection drops?',
];

/** The inspector's columns; those from `firstNumeric` on are right-aligned numbers. */
export const inspectorHeads = [
  'Channel',
  'State',
  'Recv / pub',
  'Lost',
  'Reconn.',
  'Gaps',
  'Dupes',
];
export const firstNumeric = 2;

/** The heading of the inspector's numeric column `i`: a narrow screen shows it in each cell. */
export const numericLabel = (i: number): string => inspectorHeads[firstNumeric + i] ?? '';

export const legend =
  'Recv / pub: events this page received vs. events the server published since the page subscribed. Lost and Dupes must stay 0.';
