/**
 * `ferry bench compare OLD.json NEW.json`: per-metric ratios between two storage benchmark reports,
 * with regressions (a metric worse by more than the threshold) marked, so CI can keep a report of
 * main and fail a change that slows something down.
 *
 * Higher is better for bandwidth and IOPS, lower for latency percentiles. Rows are matched by job and
 * target (and copies by mode and impairment); rows missing on either side or not `ok` are listed as
 * not compared rather than guessed at.
 */
import { FerryError } from '../src/index.js';
import { formatTable, type Cell } from './lib/table.js';
import {
  STORAGE_REPORT_SCHEMA,
  validateStorageReport,
  type JobResult,
  type StorageBenchReport,
} from './storage/index.js';

export const DEFAULT_THRESHOLD = 0.1;

export interface MetricComparison {
  /** `job target` or `copy MODE [impaired]`. */
  key: string;
  metric: string;
  better: 'higher' | 'lower';
  old: number;
  new: number;
  /** new / old. */
  ratio: number;
  regression: boolean;
  improvement: boolean;
}

export interface Comparison {
  threshold: number;
  rows: MetricComparison[];
  /** Keys present in only one report, or not ok in one. */
  notCompared: string[];
  regressions: number;
}

/** Parses and checks one report file's text; bad input names the file and the first problems. */
export function readReport(text: string, label: string): StorageBenchReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `${label} is not JSON (${(err as Error).message}): give a report written by ferry bench blockdev|fs --json`,
    );
  }
  const schema = (value as { schema?: unknown } | null)?.schema;
  if (schema !== STORAGE_REPORT_SCHEMA)
    throw new FerryError(
      'INVALID_ARGUMENT',
      `${label} is not a ${STORAGE_REPORT_SCHEMA} report ($.schema is ${JSON.stringify(schema)}): give a report written by ferry bench blockdev|fs --json`,
    );
  const problems = validateStorageReport(value);
  if (problems.length > 0)
    throw new FerryError(
      'INVALID_ARGUMENT',
      `${label} is not a ferry.bench.storage/1 report: ${problems.slice(0, 3).join('; ')}`,
    );
  return value as StorageBenchReport;
}

const METRICS: readonly { name: string; better: 'higher' | 'lower'; of(r: JobResult): number }[] = [
  { name: 'bw_bytes', better: 'higher', of: (r) => r.bw_bytes },
  { name: 'iops', better: 'higher', of: (r) => r.iops },
  { name: 'clat p50', better: 'lower', of: (r) => r.clat_ns.percentile['50.000000'] },
  { name: 'clat p99', better: 'lower', of: (r) => r.clat_ns.percentile['99.000000'] },
  { name: 'clat p99.9', better: 'lower', of: (r) => r.clat_ns.percentile['99.900000'] },
];

function compareOne(
  key: string,
  metric: string,
  better: 'higher' | 'lower',
  a: number,
  b: number,
  threshold: number,
): MetricComparison | null {
  if (!(a > 0) || !(b >= 0)) return null;
  const ratio = b / a;
  const worse = better === 'higher' ? ratio < 1 - threshold : ratio > 1 + threshold;
  const improved = better === 'higher' ? ratio > 1 + threshold : ratio < 1 - threshold;
  return { key, metric, better, old: a, new: b, ratio, regression: worse, improvement: improved };
}

export function compareReports(
  a: StorageBenchReport,
  b: StorageBenchReport,
  threshold = DEFAULT_THRESHOLD,
): Comparison {
  if (!(threshold > 0 && threshold < 10))
    throw new FerryError(
      'INVALID_ARGUMENT',
      `--threshold must be a share above 0 (0.1 = 10 %), got ${threshold}`,
    );
  if (a.kind !== b.kind)
    throw new FerryError(
      'INVALID_ARGUMENT',
      `cannot compare a ${a.kind} report with a ${b.kind} report: give two runs of the same benchmark`,
    );
  const rows: MetricComparison[] = [];
  const notCompared: string[] = [];
  const keyOf = (r: JobResult): string => `${r.job} ${r.target}`;
  const keys = [...new Set([...a.results, ...b.results].map(keyOf))];
  for (const key of keys) {
    const ra = a.results.find((r) => keyOf(r) === key && r.status === 'ok');
    const rb = b.results.find((r) => keyOf(r) === key && r.status === 'ok');
    if (!ra || !rb) {
      notCompared.push(key);
      continue;
    }
    for (const m of METRICS) {
      const c = compareOne(key, m.name, m.better, m.of(ra), m.of(rb), threshold);
      if (c) rows.push(c);
    }
  }
  const copyKey = (c: StorageBenchReport['copies'][number]): string =>
    `copy ${c.mode}${c.impair ? ' impaired' : ''}`;
  for (const ca of a.copies) {
    const cb = b.copies.find((c) => copyKey(c) === copyKey(ca));
    if (!cb || ca.status !== 'ok' || cb.status !== 'ok') {
      notCompared.push(copyKey(ca));
      continue;
    }
    const c = compareOne(copyKey(ca), 'bw_bytes', 'higher', ca.bw_bytes, cb.bw_bytes, threshold);
    if (c) rows.push(c);
  }
  return { threshold, rows, notCompared, regressions: rows.filter((r) => r.regression).length };
}

function show(metric: string, v: number): Cell {
  if (metric === 'bw_bytes') return `${(v / 1e6).toFixed(1)} MB/s`;
  if (metric.startsWith('clat')) return `${(v / 1000).toFixed(1)} us`;
  return v;
}

/** The comparison as a table; with `color`, regressions in red and improvements in green. */
export function renderComparison(c: Comparison, color: boolean): string {
  const paint = (text: string, code: number): string => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const rows = c.rows.map((r): Cell[] => [
    r.key,
    r.metric,
    show(r.metric, r.old),
    show(r.metric, r.new),
    `${r.ratio.toFixed(2)}x`,
    r.regression ? paint('REGRESSION', 31) : r.improvement ? paint('better', 32) : '',
  ]);
  const lines = [
    formatTable(
      ['job', 'metric', 'old', 'new', 'new/old', `(threshold ${Math.round(c.threshold * 100)} %)`],
      rows,
    ),
  ];
  if (c.notCompared.length > 0)
    lines.push('', `not compared (missing or not ok in one report): ${c.notCompared.join(', ')}`);
  lines.push(
    '',
    c.regressions > 0
      ? paint(`${c.regressions} regression(s) beyond ${Math.round(c.threshold * 100)} %`, 31)
      : 'no regression beyond the threshold',
  );
  return lines.join('\n') + '\n';
}
