/**
 * The text form of a storage benchmark report: one row per job with local, remote and fio side by
 * side and the ratios, then latency and resources per run, the load curve and the copies.
 */
import { formatBytes, formatNumber, formatTable, type Cell } from '../lib/table.js';
import type { JobResult, StorageBenchReport, TargetName } from './report-types.js';

const TARGETS: readonly TargetName[] = ['local', 'remote', 'fio'];

function mbps(r: JobResult | undefined): Cell {
  if (!r || r.status !== 'ok') return '-';
  return r.bs > 0 ? r.bw_bytes / 1e6 : '-';
}

function iops(r: JobResult | undefined): Cell {
  return r && r.status === 'ok' ? r.iops : '-';
}

function us(ns: number): number {
  return ns / 1000;
}

function ratio(x: number | null): Cell {
  return x === null ? '-' : `${x.toFixed(2)}x`;
}

function mainTable(rep: StorageBenchReport): string {
  const headers = [
    'job',
    'local MB/s',
    'local IOPS',
    'remote MB/s',
    'remote IOPS',
    'remote/local',
    'fio MB/s',
    'fio IOPS',
    'local/fio',
    'remote/fio',
  ];
  const rows = rep.ratios.map((q) => {
    const of = (t: TargetName): JobResult | undefined =>
      rep.results.find((r) => r.job === q.job && r.target === t);
    return [
      q.job,
      mbps(of('local')),
      iops(of('local')),
      mbps(of('remote')),
      iops(of('remote')),
      ratio(q.remote_to_local),
      mbps(of('fio')),
      iops(of('fio')),
      ratio(q.local_to_fio),
      ratio(q.remote_to_fio),
    ];
  });
  return formatTable(headers, rows);
}

function latencyTable(rep: StorageBenchReport): string {
  const rows: Cell[][] = [];
  for (const r of rep.results) {
    if (r.status !== 'ok') continue;
    const p = r.clat_ns.percentile;
    rows.push([
      r.job,
      r.target,
      us(p['50.000000']),
      us(p['99.000000']),
      us(p['99.900000']),
      r.cpu_user_s + r.cpu_sys_s,
      r.peak_rss_bytes === null ? '-' : formatBytes(r.peak_rss_bytes),
    ]);
  }
  return formatTable(['job', 'target', 'p50 us', 'p99 us', 'p99.9 us', 'CPU s', 'peak RSS'], rows);
}

function curveTable(rep: StorageBenchReport): string {
  const rows: Cell[][] = [];
  for (const c of rep.curves)
    for (const p of c.points) rows.push([c.target, String(p.iodepth), p.iops, us(p.p50_ns), us(p.p99_ns)]);
  return formatTable(['target', 'iodepth', 'IOPS', 'p50 us', 'p99 us'], rows);
}

function copyTable(rep: StorageBenchReport): string {
  const local = rep.copies.find((c) => c.mode === 'local' && c.status === 'ok');
  const rows = rep.copies.map((c): Cell[] => [
    c.mode,
    c.impair ?? 'clean',
    c.status === 'ok' ? c.bw_bytes / 1e6 : c.status,
    c.status === 'ok' ? c.seconds : '-',
    c.status === 'ok' ? c.retransmits : '-',
    c.status === 'ok' && local ? ratio(c.bw_bytes / local.bw_bytes) : '-',
  ]);
  return formatTable(['copy', 'path', 'MB/s', 'seconds', 'retransmits', 'vs local'], rows);
}

export function renderStorageReport(rep: StorageBenchReport): string {
  const o = rep.options;
  const parts = [
    `ferry bench ${rep.kind} --backend ${o.backend}${o.remote ? ` --remote ${o.remote}` : ''}: size ${formatBytes(o.size_bytes)}, runtime ${formatNumber(o.runtime_ms / 1000)} s, iodepth ${o.iodepth}, jobs ${o.numjobs}, fio ${o.fio_engine}`,
    '',
    mainTable(rep),
    '',
    latencyTable(rep),
  ];
  if (rep.curves.length > 0) parts.push('', `load curve (${rep.curves[0]!.job}):`, curveTable(rep));
  if (rep.copies.length > 0) parts.push('', 'transfer modes:', copyTable(rep));
  for (const t of TARGETS) {
    const why = rep.unavailable[t];
    if (why !== undefined) parts.push('', `${t}: not measured: ${why}`);
  }
  for (const r of rep.results)
    if (r.status === 'failed') parts.push(`${r.job} ${r.target}: failed: ${r.reason ?? ''}`);
  if (rep.interrupted) parts.push('', 'interrupted: the figures above are what was measured before Ctrl-C');
  return parts.join('\n') + '\n';
}
