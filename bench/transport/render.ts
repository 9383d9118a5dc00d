/**
 * The human form of a transport benchmark report: one table per workload and message size, with
 * each implementation's figures and their ratio to the baselines measured in the same run, then the
 * load curve, the loss matrix and the target table.
 */
import { formatNumber, formatTable, type Cell } from '../lib/table.js';
import type { ImplName } from './links/link.js';
import type { RunResult } from './results.js';
import type { TargetCheck } from './targets.js';
import type { TransportBenchReport } from './report.js';

const BASELINES: readonly ImplName[] = ['dgram', 'tcp', 'udx'];
const P50 = '50.000000';
const P99 = '99.000000';
const P999 = '99.900000';

export function renderTransportReport(rep: TransportBenchReport): string {
  const out: string[] = [
    `ferry bench transport — ${rep.host.cpus} × ${rep.host.cpu_model}, node ${rep.host.node}, loopback, ` +
      `${rep.options.durationMs / 1000} s per run, packet size ${rep.options.packetSizeBytes} B`,
  ];
  for (const [impl, why] of Object.entries(rep.unavailable)) out.push(`${impl}: not run: ${why}`);
  for (const group of groups(rep.runs)) out.push('', title(group[0]!), tableFor(group, rep.runs));
  out.push('', 'Targets (issue 6), ratios from this run', targetTable(rep.targets));
  if (rep.interrupted) out.push('', 'Interrupted: the figures above are what was measured before Ctrl-C.');
  return out.join('\n') + '\n';
}

/** Runs grouped by workload and size (and by variant for request-response), in run order. */
function groups(runs: readonly RunResult[]): RunResult[][] {
  const byKey = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = `${r.workload}/${r.size_bytes}/${r.workload === 'rr' ? r.variant : ''}`;
    const list = byKey.get(key) ?? [];
    list.push(r);
    byKey.set(key, list);
  }
  return [...byKey.values()];
}

const TITLES: Record<RunResult['workload'], string> = {
  oneway: 'one-way streaming',
  rr: 'request-response',
  bidi: 'bidirectional streaming',
  n1: 'n senders to 1 receiver',
  nn: 'n nodes each sending to all others',
  curve: 'load curve: delivery time against offered rate',
  jumbo: 'one-way bulk at the largest loopback packet size',
  loss: 'loss matrix (loss and delay on the way to the receiver: ferry by its impairment layer, udx through an impairment proxy)',
};

function title(r: RunResult): string {
  const extra =
    r.workload === 'rr'
      ? `, ${r.variant}`
      : r.workload === 'jumbo'
        ? `, ${r.packet_size_bytes} B packets`
        : '';
  return `${TITLES[r.workload]} — ${sizeText(r.size_bytes)} messages${extra}`;
}

function tableFor(group: readonly RunResult[], all: readonly RunResult[]): string {
  const w = group[0]!.workload;
  if (w === 'rr') return rrTable(group, all);
  if (w === 'curve') return curveTable(group);
  if (w === 'loss') return lossTable(group);
  return throughputTable(group, all);
}

function throughputTable(group: readonly RunResult[], all: readonly RunResult[]): string {
  const fair = group.some((r) => r.per_sender !== null);
  const headers = [
    'impl',
    'msg/s',
    'MB/s',
    'wire MB/s',
    'kpps',
    'p50 µs',
    'p99 µs',
    'p99.9 µs',
    'retx',
    'CPU s rx/tx',
    'RSS MiB rx/tx',
  ];
  if (fair) headers.push('min/max share');
  headers.push(...BASELINES.map((b) => `× ${b}`), 'note');
  const rows = group.map((r) => {
    const row: Cell[] = [
      r.impl,
      ...rateCells(r),
      ...latencyCells(r.latency.delivery.percentile, r),
      retx(r),
      cpu(r),
      rss(r),
    ];
    if (fair) row.push(r.per_sender ? r.per_sender.min_over_max : '-');
    row.push(...BASELINES.map((b) => versus(r, all, b, (x) => x.payload_bytes_per_s)), note(r));
    return row;
  });
  return formatTable(headers, rows);
}

function rrTable(group: readonly RunResult[], all: readonly RunResult[]): string {
  const headers = [
    'impl',
    'round trips/s',
    'rtt p50 µs',
    'rtt p99 µs',
    'rtt p99.9 µs',
    'timeouts',
    'retx',
    'CPU s rx/tx',
    'RSS MiB rx/tx',
  ];
  headers.push(...BASELINES.map((b) => `p50 × ${b}`), 'note');
  const rows = group.map((r) => {
    const p = r.latency.round_trip?.percentile;
    const row: Cell[] = [
      r.impl,
      ok(r) ? (r.round_trips_per_s ?? 0) : '-',
      ...latencyCells(p, r),
      count(r.rr_timeouts),
      retx(r),
      cpu(r),
      rss(r),
    ];
    row.push(
      ...BASELINES.map((b) => versus(r, all, b, (x) => x.latency.round_trip?.percentile[P50] ?? 0)),
      note(r),
    );
    return row;
  });
  return formatTable(headers, rows);
}

function curveTable(group: readonly RunResult[]): string {
  const headers = [
    'impl',
    'offered msg/s',
    'delivered msg/s',
    'p50 µs',
    'p99 µs',
    'p99.9 µs',
    'CPU s rx/tx',
    'note',
  ];
  const rows = group.map((r): Cell[] => [
    r.impl,
    r.offered_rate_msgs_per_s ?? 0,
    ok(r) ? r.msgs_per_s : '-',
    ...latencyCells(r.latency.delivery.percentile, r),
    cpu(r),
    note(r),
  ]);
  return formatTable(headers, rows);
}

function lossTable(group: readonly RunResult[]): string {
  const lossless = (impl: ImplName): RunResult | undefined =>
    group.find((r) => r.impl === impl && r.loss?.probability === 0 && ok(r));
  const headers = [
    'impl',
    'loss',
    'delay ms',
    'MB/s',
    '× lossless',
    'p50 µs',
    'p99 µs',
    'p99.9 µs',
    'retx',
    'fast',
    'timeouts',
    'note',
  ];
  const rows = [...group]
    .sort((a, b) => a.impl.localeCompare(b.impl) || (a.loss?.probability ?? 0) - (b.loss?.probability ?? 0))
    .map((r): Cell[] => {
      const base = lossless(r.impl);
      return [
        r.impl,
        `${(r.loss?.probability ?? 0) * 100} %`,
        r.loss?.delay_ms ?? 0,
        ok(r) ? r.payload_bytes_per_s / 1e6 : '-',
        ok(r) && base && base.payload_bytes_per_s > 0
          ? r.payload_bytes_per_s / base.payload_bytes_per_s
          : '-',
        ...latencyCells(r.latency.delivery.percentile, r),
        retx(r),
        count(r.retransmits?.fast),
        count(r.retransmits?.timeouts),
        note(r),
      ];
    });
  return formatTable(headers, rows);
}

function targetTable(targets: readonly TargetCheck[]): string {
  const rows = targets.map((t): Cell[] => [
    t.target,
    t.measured === null ? '-' : formatNumber(t.measured),
    t.goal,
    t.met === null ? 'n/a' : t.met ? 'met' : 'NOT met',
    t.detail,
  ]);
  return formatTable(['target', 'measured', 'goal', 'status', 'how'], rows);
}

// --- cells -----------------------------------------------------------------------------------------

const ok = (r: RunResult): boolean => r.status === 'ok';

function rateCells(r: RunResult): Cell[] {
  if (!ok(r)) return ['-', '-', '-', '-'];
  return [
    r.msgs_per_s,
    r.payload_bytes_per_s / 1e6,
    r.wire_bytes_per_s === null ? '-' : r.wire_bytes_per_s / 1e6,
    r.packets_per_s === null ? '-' : r.packets_per_s / 1000,
  ];
}

function latencyCells(p: Record<string, number> | undefined, r: RunResult): Cell[] {
  if (!ok(r) || !p) return ['-', '-', '-'];
  return [p[P50]! / 1000, p[P99]! / 1000, p[P999]! / 1000];
}

function retx(r: RunResult): Cell {
  return r.retransmits ? count(r.retransmits.packets) : '-';
}

/** Counts print as whole numbers (formatNumber gives rates three significant digits). */
function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US');
}

/** CPU seconds of the receiving-only side (sink, server) and of the sending side. */
function cpu(r: RunResult): Cell {
  if (r.processes.length === 0) return '-';
  const rx = r.processes.filter(isReceiveOnly).reduce((a, p) => a + p.cpu_s, 0);
  const tx = r.processes.filter((p) => !isReceiveOnly(p)).reduce((a, p) => a + p.cpu_s, 0);
  return `${rx > 0 ? rx.toFixed(2) : '-'}/${tx.toFixed(2)}`;
}

/** Peak RSS of the receiving-only side and the largest of the sending side, MiB. */
function rss(r: RunResult): Cell {
  if (r.processes.length === 0) return '-';
  const rx = r.processes.filter(isReceiveOnly).map((p) => p.peak_rss_bytes);
  const tx = r.processes.filter((p) => !isReceiveOnly(p)).map((p) => p.peak_rss_bytes);
  const mib = (v: number[]): string => (v.length === 0 ? '-' : (Math.max(...v) / 2 ** 20).toFixed(1));
  return `${mib(rx)}/${mib(tx)}`;
}

function isReceiveOnly(p: { role: string }): boolean {
  return p.role === 'sink' || p.role === 'rr-server';
}

function versus(r: RunResult, all: readonly RunResult[], base: ImplName, f: (x: RunResult) => number): Cell {
  if (!ok(r) || r.impl === base) return '-';
  const b = all.find(
    (x) =>
      ok(x) &&
      x.impl === base &&
      x.workload === r.workload &&
      x.size_bytes === r.size_bytes &&
      x.variant === r.variant,
  );
  return b && f(b) > 0 ? f(r) / f(b) : '-';
}

function note(r: RunResult): string {
  if (r.status !== 'ok') return `${r.status}: ${r.reason ?? ''}`;
  const notes: string[] = [];
  if (r.impl === 'dgram' && r.messages_received < r.messages_sent) {
    notes.push(
      `${formatNumber((100 * (r.messages_sent - r.messages_received)) / Math.max(1, r.messages_sent))} % lost (no reliability)`,
    );
  }
  return notes.join('; ');
}

function sizeText(n: number): string {
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}
