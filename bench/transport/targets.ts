/**
 * The issue's target table (issue 6), computed from the runs of one invocation: each target is a
 * ratio between two runs measured minutes apart on the same machine, never an absolute figure. A
 * target whose runs are missing (not planned, failed, skipped) says which run it needed.
 */
import { MiB } from '../../src/index.js';
import type { ImplName } from './links/link.js';
import type { RunResult } from './results.js';
import type { WorkloadName } from './scenario.js';

/** uftp's loopback figure in shared BASELINES.md (`-R -1 -C none -b 8800`); not measured by this run. */
export const UFTP_BASELINE_BYTES_PER_SEC = 596e6;
const RSS_LIMIT_BYTES = 150 * MiB;

export interface TargetCheck {
  target: string;
  /** The measured ratio (or value), null when a run it needs is missing. */
  measured: number | null;
  /** `>= 1.5`, `<= 1.5`, ... */
  goal: string;
  met: boolean | null;
  /** How the figure was obtained, or what was missing. */
  detail: string;
}

type Pick = {
  workload: WorkloadName;
  impl: ImplName;
  size?: number;
  variant?: string;
  lossProbability?: number;
};

function find(runs: readonly RunResult[], p: Pick): RunResult | undefined {
  return runs.find(
    (r) =>
      r.status === 'ok' &&
      r.workload === p.workload &&
      r.impl === p.impl &&
      (p.size === undefined || r.size_bytes === p.size) &&
      (p.variant === undefined || r.variant === p.variant) &&
      (p.lossProbability === undefined || r.loss?.probability === p.lossProbability),
  );
}

/**
 * The message size a bulk target reads for `workload`: the bulk size when the run has it, else the
 * largest size run (with several --size values, the first run found may be the 64-byte one).
 */
function bulkSize(runs: readonly RunResult[], workload: WorkloadName, bulk: number): number | undefined {
  const sizes = runs
    .filter((r) => r.status === 'ok' && r.workload === workload && r.impl === 'ferry')
    .map((r) => r.size_bytes);
  if (sizes.length === 0) return undefined;
  return sizes.includes(bulk) ? bulk : Math.max(...sizes);
}

function describe(p: Pick): string {
  return `${p.workload} ${p.impl}${p.size !== undefined ? ` ${p.size} B` : ''}${p.variant ? ` ${p.variant}` : ''}${
    p.lossProbability !== undefined ? ` loss=${p.lossProbability * 100}%` : ''
  }`;
}

function ratio(
  runs: readonly RunResult[],
  target: string,
  goal: { op: '>=' | '<='; value: number },
  num: Pick,
  den: Pick,
  value: (r: RunResult) => number,
  unit: string,
): TargetCheck {
  const a = find(runs, num);
  const b = find(runs, den);
  const goalText = `${goal.op} ${goal.value}`;
  if (!a || !b) {
    const missing = [!a ? describe(num) : null, !b ? describe(den) : null].filter(Boolean).join(' and ');
    return { target, measured: null, goal: goalText, met: null, detail: `not measured: needs ${missing}` };
  }
  const m = value(b) > 0 ? value(a) / value(b) : 0;
  return {
    target,
    measured: m,
    goal: goalText,
    met: goal.op === '>=' ? m >= goal.value : m <= goal.value,
    detail: `${describe(num)} ${fmt(value(a))} ${unit} / ${describe(den)} ${fmt(value(b))} ${unit}`,
  };
}

const fmt = (n: number): string =>
  Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
const goodput = (r: RunResult): number => r.payload_bytes_per_s / 1e6;
const msgRate = (r: RunResult): number => r.msgs_per_s;
const rttP50Us = (r: RunResult): number => (r.latency.round_trip?.percentile['50.000000'] ?? 0) / 1000;

export function checkTargets(runs: readonly RunResult[]): TargetCheck[] {
  const bulk = 1 * MiB;
  const lossSize = bulkSize(runs, 'loss', bulk);
  return [
    ratio(
      runs,
      'bulk 1 MiB messages, default packets: ferry / udx-native goodput',
      { op: '>=', value: 1.5 },
      { workload: 'oneway', impl: 'ferry', size: bulk },
      { workload: 'oneway', impl: 'udx', size: bulk },
      goodput,
      'MB/s',
    ),
    uftp(runs, bulk),
    ratio(
      runs,
      'bulk under 1 % loss, 10 ms delay: / lossless goodput',
      { op: '>=', value: 0.9 },
      { workload: 'loss', impl: 'ferry', size: lossSize, lossProbability: 0.01 },
      { workload: 'loss', impl: 'ferry', size: lossSize, lossProbability: 0 },
      goodput,
      'MB/s',
    ),
    ratio(
      runs,
      'bulk under 5 % loss, 10 ms delay: / lossless goodput',
      { op: '>=', value: 0.75 },
      { workload: 'loss', impl: 'ferry', size: lossSize, lossProbability: 0.05 },
      { workload: 'loss', impl: 'ferry', size: lossSize, lossProbability: 0 },
      goodput,
      'MB/s',
    ),
    ratio(
      runs,
      '64 B messages one way: ferry / raw dgram message rate',
      { op: '>=', value: 5 },
      { workload: 'oneway', impl: 'ferry', size: 64 },
      { workload: 'oneway', impl: 'dgram', size: 64 },
      msgRate,
      'msg/s',
    ),
    ratio(
      runs,
      '64 B request-response p50: ferry / raw dgram ping-pong',
      { op: '<=', value: 1.5 },
      { workload: 'rr', impl: 'ferry', size: 64, variant: 'depth=1' },
      { workload: 'rr', impl: 'dgram', size: 64, variant: 'depth=1' },
      rttP50Us,
      'µs',
    ),
    n1Aggregate(runs, bulk),
    n1Fairness(runs, bulk),
    peakRss(runs, bulk),
  ];
}

function uftp(runs: readonly RunResult[], bulk: number): TargetCheck {
  const target = 'bulk at the largest loopback packet size: ferry / uftp (BASELINES.md figure)';
  const size = bulkSize(runs, 'jumbo', bulk);
  const r = find(runs, { workload: 'jumbo', impl: 'ferry', size });
  if (!r)
    return { target, measured: null, goal: '>= 1', met: null, detail: 'not measured: needs jumbo ferry' };
  const m = r.payload_bytes_per_s / UFTP_BASELINE_BYTES_PER_SEC;
  return {
    target,
    measured: m,
    goal: '>= 1',
    met: m >= 1,
    detail: `jumbo ferry ${r.size_bytes} B at ${r.packet_size_bytes} B packets ${fmt(goodput(r))} MB/s / uftp ${UFTP_BASELINE_BYTES_PER_SEC / 1e6} MB/s (BASELINES.md, not this run)`,
  };
}

function n1Aggregate(runs: readonly RunResult[], bulk: number): TargetCheck {
  const size = bulkSize(runs, 'n1', bulk) ?? bulk;
  return ratio(
    runs,
    'n senders to 1 receiver: ferry aggregate / ferry 1-to-1 goodput',
    { op: '>=', value: 0.9 },
    { workload: 'n1', impl: 'ferry', size },
    { workload: 'oneway', impl: 'ferry', size },
    goodput,
    'MB/s',
  );
}

function n1Fairness(runs: readonly RunResult[], bulk: number): TargetCheck {
  const target = 'n senders to 1 receiver: smallest / largest sender share (ferry)';
  const r = find(runs, { workload: 'n1', impl: 'ferry', size: bulkSize(runs, 'n1', bulk) });
  if (!r || !r.per_sender)
    return { target, measured: null, goal: '>= 0.5', met: null, detail: 'not measured: needs n1 ferry' };
  const m = r.per_sender.min_over_max;
  return {
    target,
    measured: m,
    goal: '>= 0.5',
    met: m >= 0.5,
    detail: `messages per sender: ${r.per_sender.messages.join(', ')}`,
  };
}

/**
 * The memory target reads the fixed-amount run (`--bytes`) that streamed the most when there is one,
 * else a short bulk run (and says that it was short).
 */
function peakRss(runs: readonly RunResult[], bulk: number): TargetCheck {
  const target = 'peak RSS while streaming bulk (ferry), largest side, MiB';
  const oneway = runs.filter((x) => x.status === 'ok' && x.workload === 'oneway' && x.impl === 'ferry');
  const fixed = oneway
    .filter((x) => (x.stream_bytes ?? null) !== null)
    .sort((a, b) => b.payload_bytes_received - a.payload_bytes_received)[0];
  const r = fixed ?? oneway.find((x) => x.size_bytes === bulk) ?? oneway[0];
  if (!r)
    return {
      target,
      measured: null,
      goal: `<= ${RSS_LIMIT_BYTES / MiB}`,
      met: null,
      detail: 'not measured: needs oneway ferry',
    };
  const peak = Math.max(...r.processes.map((p) => p.peak_rss_bytes));
  const side = (receiving: boolean): string =>
    fmt(
      Math.max(
        0,
        ...r.processes.filter((p) => (p.role === 'sink') === receiving).map((p) => p.peak_rss_bytes),
      ) / MiB,
    );
  const streamed = `${fmt(r.payload_bytes_received / 2 ** 30)} GiB streamed in ${fmt(r.elapsed_s)} s`;
  const asked = r.stream_bytes ?? null;
  const amount =
    asked !== null
      ? `--bytes ${fmt(asked / 2 ** 30)} GiB: ${streamed}`
      : `${streamed} (short run; --bytes 10GiB measures the issue's figure)`;
  return {
    target,
    measured: peak / MiB,
    goal: `<= ${RSS_LIMIT_BYTES / MiB}`,
    met: peak <= RSS_LIMIT_BYTES,
    detail: `oneway ferry ${r.size_bytes} B, ${amount}; receiver ${side(true)} MiB, sender ${side(false)} MiB`,
  };
}
