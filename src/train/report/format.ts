// Number and Markdown formatting shared by the run and experiment reports. One place decides how
// a Dice or a p-value is printed, so the tests can recompute the exact strings.

/** A Dice score (or any value in [0, 1]) with 3 decimals; '—' when undefined. */
export const fmtDice = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : '—');

/** "mean ± std" with 3 decimals ('—' for an undefined std, e.g. of one volume). */
export const fmtMeanStd = (mean: number, std: number): string => `${fmtDice(mean)} ± ${fmtDice(std)}`;

/** p-values: 4 decimals from 0.001 up, else 3 significant digits in exponent form; 'n/a' if undefined. */
export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  return p >= 0.001 ? p.toFixed(4) : p.toExponential(2);
}

/** Signed difference with 3 decimals: +0.012, −0.004 (ASCII minus, to stay greppable). */
export const fmtDelta = (d: number): string => (Number.isFinite(d) ? `${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(3)}` : '—');

/** Integer with thousands separators, independent of the locale: 1234567 → 1,234,567. */
export const fmtCount = (n: number): string => (Number.isFinite(n) ? Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '—');

/** Percentage with 2 decimals. */
export const fmtPercent = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} %` : '—');

/** Seconds as "12.3 s", "4 min 05 s" or "2 h 03 min". */
export function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '—';
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A general number for the config table: integers as they are, others with ≤ 6 significant digits. */
export function fmtNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v);
}

/** Text safe inside a Markdown table cell. */
export const mdCell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** A Markdown table; `align` per column: 'l' (default) or 'r'. Cells are used as given (escape first). */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[] = []): string {
  const sep = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(sep), ...rows.map(line)].join('\n') + '\n';
}

/** Flattens nested config objects into dotted keys (arrays and typed arrays stay one value). */
export function flattenConfig(obj: Record<string, unknown>, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) out.push(...flattenConfig(v as Record<string, unknown>, key));
    else if (typeof v === 'number') out.push([key, fmtNumber(v)]);
    else if (typeof v === 'string') out.push([key, v]);
    else if (v === undefined) continue;
    else out.push([key, JSON.stringify(ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v)]);
  }
  return out;
}

/** A file-name-safe version of a name. */
export const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'x';

/**
 * JSON with objects indented but arrays of numbers, strings and nulls on one line: a report's
 * overlay (thousands of values) stays compact and the rest readable. Parses like JSON.stringify's.
 */
export function prettyJson(value: unknown, indent = '', step = ' '): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (ArrayBuffer.isView(value)) value = Array.from(value as unknown as ArrayLike<number>);
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return prettyJson((value as { toJSON: () => unknown }).toJSON(), indent, step);
  const inner = indent + step;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return `[${value.map((v) => JSON.stringify(v) ?? 'null').join(',')}]`;
    return `[\n${value.map((v) => inner + prettyJson(v, inner, step)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined && typeof v !== 'function');
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${prettyJson(v, inner, step)}`).join(',\n')}\n${indent}}`;
}
