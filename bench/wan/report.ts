/**
 * The report of `ferry bench wan` (schema `ferry.bench.wan/1`, documented in docs/benchmarks.md):
 * per path, each tool's seconds, MB/s and share of the line rate, and ferry's ratios to rsync and
 * to TCP. Pure: the maths and the text table, unit-tested without root.
 *
 * Share of line rate: payload bytes per second over the bottleneck's rate (rate_mbit / 8 MB/s).
 * The bottleneck carries IP packets, so headers cost a few percent: 100 % is out of reach
 * (TCP with timestamps over a 1500-byte MTU carries at most 1448/1500 = 96.5 %).
 * Ratios are throughput ratios: ferry MB/s over the other tool's, above 1 means ferry was faster.
 */
import { formatTable, type Cell } from '../lib/table.js';
import type { DirectionCounters, EmulatorCounters } from './emulator.js';
import { lineRateBytesPerSec, type ToolName, type WanBenchOptions, type WanPath } from './options.js';
import type { CopyOutcome } from './tools.js';

export const WAN_REPORT_SCHEMA = 'ferry.bench.wan/1';

export interface ToolResult {
  tool: ToolName;
  status: CopyOutcome['status'];
  seconds: number | null;
  bytes_per_s: number | null;
  /** bytes_per_s over the line rate (0..1). */
  line_share: number | null;
  identical: boolean | null;
  detail: Record<string, unknown>;
  error?: string;
}

export interface PathResult {
  path: WanPath;
  line_rate_bytes_per_s: number;
  /** TCP congestion control in the namespaces (BBR here). */
  tcp_congestion_control: string | null;
  timeout_s: number;
  tools: ToolResult[];
  /** ferry's throughput over rsync's and over TCP's (null when either did not finish). */
  ratio_ferry_rsync: number | null;
  ratio_ferry_tcp: number | null;
  emulator: EmulatorCounters | null;
  /** Why the whole path could not run (namespaces, emulator), if so. */
  error?: string;
}

export interface WanBenchReport {
  schema: typeof WAN_REPORT_SCHEMA;
  started_at: string;
  finished_at: string;
  host: { node: string; platform: string; cpus: number; cpu_model: string; loadavg: number[] };
  options: WanBenchOptions;
  interrupted: boolean;
  paths: PathResult[];
}

export function toolResult(o: CopyOutcome, sizeBytes: number, p: WanPath): ToolResult {
  const ok = o.status === 'ok' && o.seconds !== null && o.seconds > 0;
  const rate = ok ? sizeBytes / o.seconds! : null;
  return {
    tool: o.tool,
    status: o.status,
    seconds: ok ? round(o.seconds!, 3) : null,
    bytes_per_s: rate === null ? null : Math.round(rate),
    line_share: rate === null ? null : round(rate / lineRateBytesPerSec(p), 4),
    identical: o.identical,
    detail: o.detail,
    ...(o.error !== undefined ? { error: o.error } : {}),
  };
}

/** a's throughput over b's; null unless both finished. */
export function ratio(tools: readonly ToolResult[], a: ToolName, b: ToolName): number | null {
  const x = tools.find((t) => t.tool === a)?.bytes_per_s ?? null;
  const y = tools.find((t) => t.tool === b)?.bytes_per_s ?? null;
  return x === null || y === null || y === 0 ? null : round(x / y, 3);
}

export function describePath(p: WanPath): string {
  const rate = p.rateMbit >= 1000 ? `${p.rateMbit / 1000} Gbit/s` : `${p.rateMbit} Mbit/s`;
  const parts = [rate, `${fmt(2 * p.delayMs)} ms RTT`];
  if (p.loss > 0) parts.push(`${fmt(p.loss * 100)} % loss each way`);
  if (p.jitterMs > 0) parts.push(`jitter ${fmt(p.jitterMs)} ms`);
  parts.push(`MTU ${p.mtu}`, `queue ${Math.round(p.queueBytes / 1024)} KiB`);
  return parts.join(', ');
}

function dropSummary(c: DirectionCounters): string {
  return `${c.packets_in} pkts, ${c.lost} lost, ${c.tail_drops} tail drops${c.overflow ? `, ${c.overflow} overflow` : ''}`;
}

export function renderWanReport(r: WanBenchReport): string {
  const out: string[] = [
    `ferry bench wan: ${mib(r.options.sizeBytes)} random file, one copy per tool and path; ratios are ferry's throughput over the other tool's (>1: ferry faster)`,
    '',
  ];
  for (const p of r.paths) {
    out.push(
      `${p.path.name}: ${describePath(p.path)}; line rate ${(p.line_rate_bytes_per_s / 1e6).toFixed(1)} MB/s; TCP ${p.tcp_congestion_control ?? '?'}`,
    );
    if (p.error !== undefined) {
      out.push(`  could not run: ${p.error}`, '');
      continue;
    }
    const rows: Cell[][] = p.tools.map((t) => [
      t.tool,
      t.status === 'ok' ? 'ok' : `${t.status}${t.error ? `: ${t.error.split('\n')[0]!.slice(0, 60)}` : ''}`,
      t.seconds ?? '-',
      t.bytes_per_s === null ? '-' : (t.bytes_per_s / 1e6).toFixed(1),
      t.line_share === null ? '-' : `${(t.line_share * 100).toFixed(1)} %`,
      detailText(t),
    ]);
    out.push(
      formatTable(['tool', 'status', 'seconds', 'MB/s', 'line share', 'notes'], rows)
        .split('\n')
        .map((l) => '  ' + l)
        .join('\n'),
    );
    out.push(`  ferry/rsync ${p.ratio_ferry_rsync ?? '-'}   ferry/tcp ${p.ratio_ferry_tcp ?? '-'}`);
    if (p.emulator) {
      const dev = p.emulator.device_tx_dropped;
      const devText =
        dev && (dev.a || dev.b)
          ? `; dropped at the TUN devices (emulator starved): a ${dev.a}, b ${dev.b}`
          : '';
      out.push(
        `  emulator a->b: ${dropSummary(p.emulator.a_to_b)} | b->a: ${dropSummary(p.emulator.b_to_a)}${devText}`,
      );
    }
    out.push('');
  }
  out.push(...summaryTable(r));
  if (r.interrupted) out.push('', 'interrupted: the figures above are what was measured before Ctrl-C');
  return out.join('\n') + '\n';
}

/** One line per path: MB/s and line share of each tool, then the ratios (the docs' table). */
export function summaryTable(r: WanBenchReport): string[] {
  const tools = r.options.tools;
  const cell = (p: PathResult, tool: ToolName): string => {
    const t = p.tools.find((x) => x.tool === tool);
    if (!t || t.bytes_per_s === null) return t ? t.status : '-';
    return `${(t.bytes_per_s / 1e6).toFixed(1)} (${Math.round((t.line_share ?? 0) * 100)} %)`;
  };
  const rows: Cell[][] = r.paths.map((p) => [
    p.path.name,
    (p.line_rate_bytes_per_s / 1e6).toFixed(1),
    ...tools.map((t) => cell(p, t)),
    p.ratio_ferry_rsync === null ? '-' : p.ratio_ferry_rsync.toFixed(2),
    p.ratio_ferry_tcp === null ? '-' : p.ratio_ferry_tcp.toFixed(2),
  ]);
  return formatTable(
    ['path', 'line MB/s', ...tools.map((t) => `${t} MB/s (share)`), 'ferry/rsync', 'ferry/tcp'],
    rows,
  ).split('\n');
}

/** ferry's own figures: its copy time (without process start) and retransmits. */
function detailText(t: ToolResult): string {
  const d = t.detail as { copy_seconds?: number; retransmits?: number };
  const parts: string[] = [];
  if (typeof d.copy_seconds === 'number') parts.push(`copy ${d.copy_seconds} s`);
  if (typeof d.retransmits === 'number') parts.push(`${d.retransmits} retransmits`);
  return parts.join(', ');
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function fmt(n: number): string {
  return String(round(n, 3));
}

function mib(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} B`;
}
