// Small helpers shared by every benchmark: statistics, formatting, tables.

/** The median of a list of numbers: the middle one, or the mean of the middle two (NaN when empty). */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The p-th percentile (0–100) by nearest rank on a sorted copy. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export const kb = (bytes) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(2)} KB` : '–');
export const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
export const ratio = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '–');
export const ms = (n, digits = 2) => (Number.isFinite(n) ? `${n.toFixed(digits)} ms` : '–');

/**
 * Prints rows as an aligned text table.
 * @param {string} title
 * @param {string[]} columns
 * @param {unknown[][]} rows cells already formatted as strings
 */
export function printTable(title, columns, rows) {
  const cells = [columns, ...rows].map((r) => r.map((c) => String(c ?? '')));
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])));
  console.log(`\n${title}`);
  console.log(line(cells[0]).join('  '));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r).join('  '));
}

/** The same rows as a Markdown table, for pasting into BENCHMARKS.md. */
export function markdownTable(columns, rows) {
  const out = [
    `| ${columns.join(' | ')} |`,
    `|${columns.map((_, i) => (i ? '---:' : '---')).join('|')}|`,
  ];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}
