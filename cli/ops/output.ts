// How results are printed: a table for people, JSON lines or YAML for scripts.
import { stringify as toYaml } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';
export const outputFormats: readonly OutputFormat[] = ['table', 'json', 'yaml'];

/** A table by default on a terminal, JSON lines when piped (a script reading the output). */
export function defaultOutput(isTty: boolean): OutputFormat {
  return isTty ? 'table' : 'json';
}

export interface Column<T> {
  header: string;
  value(row: T): string | number | boolean | null | undefined;
}

/** Left-aligned columns two spaces apart, headers in capitals; empty cells stay blank. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => cellText(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n');
}

function cellText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  // One line per row, whatever a field holds.
  return String(value).replace(/\s+/g, ' ');
}

/** A single resource as `field: value` lines (nested values as compact JSON). */
export function formatRecord(record: Record<string, unknown>): string {
  const entries = Object.entries(record).filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries
    .map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join('\n');
}

/**
 * A list in the chosen format: JSON as one object per line (JSON lines, for `jq` and line-by-line
 * readers), YAML as one document per item.
 */
export function formatList<T>(items: readonly T[], format: OutputFormat, columns: readonly Column<T>[]): string {
  if (format === 'json') return items.map((item) => JSON.stringify(item)).join('\n');
  if (format === 'yaml') return items.map((item) => toYaml(item).trimEnd()).join('\n---\n');
  return formatTable(items, columns);
}

/** One resource in the chosen format; a table shows it as a one-row table when columns are given. */
export function formatOne<T extends object>(item: T, format: OutputFormat, columns?: readonly Column<T>[]): string {
  if (format === 'json') return JSON.stringify(item);
  if (format === 'yaml') return toYaml(item).trimEnd();
  return columns ? formatTable([item], columns) : formatRecord(item as Record<string, unknown>);
}

/** How long ago or how long: `850ms`, `12.3s`, `4m05s`, `2h03m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
