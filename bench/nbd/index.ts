/**
 * `ferry bench nbd`: a remote disk over ferry (`ferry serve` + `ferry nbd ferry://...`) against
 * `nbdkit memory` over TCP, the same fio jobs (`--ioengine=nbd`) on both in one invocation, printed
 * as ratios (issue 15's targets: ferry at least half of nbdkit). Each job runs on ferry, then on
 * nbdkit, `--rounds` times (A B A B on a noisy machine); the figure per target is the median.
 *
 * Before the timed jobs each device is written once end to end, so reads meet data. With `--verify`
 * (default) fio also writes random 4 KiB blocks over ferry with crc32c checksums and reads them back
 * (`--verify=crc32c`): a correctness row, not a speed one.
 *
 * A missing tool does not fail the run: without nbdkit the ferry figures are printed and the nbdkit
 * column says which package to install; without fio nothing can be measured and the report says so.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FerryError, MiB, GiB, parseBytes, parseDurationMs } from '../../src/index.js';
import { formatNumber, formatTable } from '../lib/table.js';
import { parseFioJson, spawnFio } from '../storage/fio.js';
import { hasTool, startFerry, startNbdkit, type NbdTarget, type TargetName } from './targets.js';

/** Bounds on the options: a typo must not eat the machine. */
export const NBD_BENCH_LIMITS = {
  MIN_SIZE_BYTES: 16 * MiB,
  MAX_SIZE_BYTES: 16 * GiB,
  MIN_RUNTIME_MS: 200,
  MAX_RUNTIME_MS: 600_000,
  MAX_IODEPTH: 256,
  MAX_ROUNDS: 20,
  /** The verify job covers at most this much of the device. */
  MAX_VERIFY_BYTES: 256 * MiB,
} as const;

/** fio is given this much longer than a job's runtime before it is stopped. */
const FIO_GRACE_MS = 120_000;

export interface NbdJob {
  name: string;
  rw: 'write' | 'read' | 'randread' | 'randwrite';
  bs: number;
  /** What the row shows: MiB/s for large blocks, IOPS for small ones. */
  unit: 'MiB/s' | 'IOPS';
}

export const NBD_JOBS: readonly NbdJob[] = [
  { name: 'seqwrite-1m', rw: 'write', bs: MiB, unit: 'MiB/s' },
  { name: 'seqread-1m', rw: 'read', bs: MiB, unit: 'MiB/s' },
  { name: 'randread-4k', rw: 'randread', bs: 4096, unit: 'IOPS' },
  { name: 'randwrite-4k', rw: 'randwrite', bs: 4096, unit: 'IOPS' },
];

export interface NbdBenchOptions {
  sizeBytes: number;
  runtimeMs: number;
  iodepth: number;
  rounds: number;
  jobs: NbdJob[];
  verify: boolean;
}

export interface RawNbdOptions {
  size?: string;
  runtime?: string;
  iodepth?: string | number;
  rounds?: string | number;
  only?: string;
  verify?: boolean;
  smoke?: boolean;
}

function bad(message: string): never {
  throw new FerryError('INVALID_ARGUMENT', message);
}

function intIn(
  name: string,
  raw: string | number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) bad(`--${name} ${raw}: give an integer ${min}..${max}`);
  return v;
}

/** Checks the command line's strings once; INVALID_ARGUMENT names the accepted range. */
export function parseNbdBenchOptions(raw: RawNbdOptions): NbdBenchOptions {
  const L = NBD_BENCH_LIMITS;
  const smoke = raw.smoke === true;
  const sizeBytes = raw.size === undefined ? (smoke ? 16 * MiB : 256 * MiB) : parseBytes(raw.size);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < L.MIN_SIZE_BYTES || sizeBytes > L.MAX_SIZE_BYTES)
    bad(`--size ${raw.size}: give ${L.MIN_SIZE_BYTES / MiB} MiB..${L.MAX_SIZE_BYTES / GiB} GiB, e.g. 256MiB`);
  const runtimeText = raw.runtime;
  const runtimeMs =
    runtimeText === undefined
      ? smoke
        ? 500
        : 4000
      : /^\s*\d+(\.\d+)?\s*$/.test(runtimeText)
        ? Number(runtimeText) * 1000
        : parseDurationMs(runtimeText);
  if (!Number.isFinite(runtimeMs) || runtimeMs < L.MIN_RUNTIME_MS || runtimeMs > L.MAX_RUNTIME_MS)
    bad(
      `--runtime ${runtimeText}: give seconds (e.g. 4) or a duration (500ms), ${L.MIN_RUNTIME_MS} ms..${L.MAX_RUNTIME_MS / 1000} s`,
    );
  let jobs = [...NBD_JOBS];
  if (raw.only !== undefined) {
    const names = raw.only
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const n of names)
      if (!NBD_JOBS.some((j) => j.name === n))
        bad(`--only ${n}: unknown job; the jobs are ${NBD_JOBS.map((j) => j.name).join(', ')}`);
    jobs = NBD_JOBS.filter((j) => names.includes(j.name));
  }
  return {
    sizeBytes,
    runtimeMs,
    iodepth: intIn('iodepth', raw.iodepth, 16, 1, L.MAX_IODEPTH),
    rounds: intIn('rounds', raw.rounds, 1, 1, L.MAX_ROUNDS),
    jobs,
    verify: raw.verify !== false,
  };
}

export interface NbdJobResult {
  job: string;
  unit: NbdJob['unit'];
  /** One figure per round (MiB/s or IOPS), or null when the target was not measured. */
  ferry: number[] | null;
  nbdkit: number[] | null;
  /** median(ferry) / median(nbdkit), or null. */
  ratio: number | null;
  /** Why a target has no figure (a missing tool, a failed run). */
  notes: string[];
}

export interface NbdBenchReport {
  kind: 'nbd';
  size_bytes: number;
  runtime_ms: number;
  iodepth: number;
  rounds: number;
  jobs: NbdJobResult[];
  verify: { status: 'ok' | 'failed' | 'skipped'; detail: string } | null;
  notes: string[];
  interrupted: boolean;
}

export interface NbdBenchIo {
  say(line: string): void;
  signal: AbortSignal;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function fioJobArgs(
  uri: string,
  job: { rw: string; bs: number },
  o: NbdBenchOptions,
  timed: boolean,
): string[] {
  const args = [
    '--name=ferry-nbd-bench',
    '--ioengine=nbd',
    `--uri=${uri}`,
    `--rw=${job.rw}`,
    `--bs=${job.bs}`,
    `--iodepth=${o.iodepth}`,
    `--size=${o.sizeBytes}`,
    '--randrepeat=0',
    '--verify_state_save=0',
    '--output-format=json',
  ];
  if (timed) args.push(`--runtime=${Math.max(1, Math.round(o.runtimeMs))}ms`, '--time_based');
  return args;
}

/** Runs fio in a scratch folder (its state files land there); resolves to MiB/s or IOPS. */
async function fioFigure(
  dir: string,
  args: string[],
  job: { name: string; bs: number; unit: NbdJob['unit'] },
  o: NbdBenchOptions,
  signal: AbortSignal,
): Promise<number> {
  const text = await spawnFio(args, dir, o.runtimeMs + FIO_GRACE_MS, signal);
  const r = parseFioJson(text, { job, iodepth: o.iodepth, numjobs: 1 });
  return job.unit === 'MiB/s' ? r.bw_bytes / MiB : r.iops;
}

/** Starts one target, reporting (not throwing) why it could not start. */
async function start(
  name: TargetName,
  o: NbdBenchOptions,
  io: NbdBenchIo,
  notes: string[],
): Promise<NbdTarget | null> {
  try {
    const t = await (name === 'ferry' ? startFerry : startNbdkit)(o.sizeBytes, io.signal);
    io.say(`${name}: ${t.uri}`);
    return t;
  } catch (err) {
    notes.push(`${name} did not start: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

export async function runNbdBench(o: NbdBenchOptions, io: NbdBenchIo): Promise<NbdBenchReport> {
  const report: NbdBenchReport = {
    kind: 'nbd',
    size_bytes: o.sizeBytes,
    runtime_ms: o.runtimeMs,
    iodepth: o.iodepth,
    rounds: o.rounds,
    jobs: o.jobs.map((j) => ({
      job: j.name,
      unit: j.unit,
      ferry: null,
      nbdkit: null,
      ratio: null,
      notes: [],
    })),
    verify: null,
    notes: [],
    interrupted: false,
  };
  if (!hasTool('fio')) {
    report.notes.push('fio is not installed: apt-get install -y fio (nothing measured)');
    return report;
  }
  const withNbdkit = hasTool('nbdkit');
  if (!withNbdkit) report.notes.push('nbdkit is not installed: apt-get install -y nbdkit (no anchor column)');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-nbd-'));
  const targets: NbdTarget[] = [];
  try {
    const ferry = await start('ferry', o, io, report.notes);
    if (ferry) targets.push(ferry);
    const nbdkit = withNbdkit ? await start('nbdkit', o, io, report.notes) : null;
    if (nbdkit) targets.push(nbdkit);
    for (const t of targets) {
      if (io.signal.aborted) break;
      io.say(`${t.name}: writing the device once end to end`);
      const layout = { name: 'layout', bs: MiB, unit: 'MiB/s' as const };
      await fioFigure(dir, fioJobArgs(t.uri, { rw: 'write', bs: MiB }, o, false), layout, o, io.signal).catch(
        (err: unknown) => report.notes.push(`${t.name} layout failed: ${String(err)}`),
      );
    }
    await runJobs(o, io, dir, targets, report);
    if (ferry && o.verify && !io.signal.aborted) report.verify = await verifyOver(ferry, o, io, dir);
  } finally {
    for (const t of targets) await t.stop();
    await rm(dir, { recursive: true, force: true });
  }
  report.interrupted = io.signal.aborted;
  return report;
}

async function runJobs(
  o: NbdBenchOptions,
  io: NbdBenchIo,
  dir: string,
  targets: readonly NbdTarget[],
  report: NbdBenchReport,
): Promise<void> {
  for (let round = 0; round < o.rounds; round++) {
    for (const [i, job] of o.jobs.entries()) {
      const row = report.jobs[i]!;
      for (const t of targets) {
        if (io.signal.aborted) return;
        try {
          const v = await fioFigure(dir, fioJobArgs(t.uri, job, o, true), job, o, io.signal);
          (row[t.name] ??= []).push(v);
          io.say(`${job.name} ${t.name}: ${formatNumber(v)} ${job.unit}`);
        } catch (err) {
          row.notes.push(`${t.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (row.ferry && row.nbdkit) row.ratio = median(row.ferry) / median(row.nbdkit);
    }
  }
}

/** fio writes checksummed 4 KiB blocks over ferry at random offsets and reads them all back. */
async function verifyOver(
  ferry: NbdTarget,
  o: NbdBenchOptions,
  io: NbdBenchIo,
  dir: string,
): Promise<NonNullable<NbdBenchReport['verify']>> {
  const bytes = Math.min(o.sizeBytes, NBD_BENCH_LIMITS.MAX_VERIFY_BYTES);
  const args = [
    ...fioJobArgs(ferry.uri, { rw: 'randwrite', bs: 4096 }, { ...o, sizeBytes: bytes }, false),
    '--verify=crc32c',
    '--do_verify=1',
    '--verify_fatal=1',
  ];
  io.say(`verify: fio --verify=crc32c over ferry, ${formatNumber(bytes / MiB)} MiB of random 4 KiB writes`);
  try {
    const text = await spawnFio(args, dir, FIO_GRACE_MS * 4, io.signal);
    const r = parseFioJson(text, { job: { name: 'verify', bs: 4096 }, iodepth: o.iodepth, numjobs: 1 });
    return { status: 'ok', detail: `${r.write.total_ios} blocks written, all read back intact` };
  } catch (err) {
    return { status: 'failed', detail: err instanceof Error ? err.message : String(err) };
  }
}

function cell(xs: number[] | null): string {
  return xs ? formatNumber(median(xs)) : '-';
}

/** The text report: one row per job, the ratio last; then the verify row and the notes. */
export function renderNbdReport(r: NbdBenchReport): string {
  const head =
    `ferry bench nbd: fio --ioengine=nbd, iodepth ${r.iodepth}, ${formatNumber(r.runtime_ms / 1000)} s per job, ` +
    `device ${formatNumber(r.size_bytes / MiB)} MiB, ${r.rounds} round(s), median per target\n` +
    `ferry = ferry serve --blockdev memory + ferry nbd ferry://; nbdkit = nbdkit memory; both on loopback TCP\n\n`;
  const rows = r.jobs.map((j) => [
    j.job,
    j.unit,
    cell(j.ferry),
    cell(j.nbdkit),
    j.ratio === null ? '-' : `${j.ratio.toFixed(2)}x`,
  ]);
  const lines = [head + formatTable(['job', 'unit', 'ferry', 'nbdkit', 'ferry/nbdkit'], rows)];
  if (r.verify) lines.push(`\nverify (crc32c over ferry): ${r.verify.status}: ${r.verify.detail}`);
  const notes = [...r.notes, ...r.jobs.flatMap((j) => j.notes.map((n) => `${j.job}: ${n}`))];
  if (notes.length > 0) lines.push('\n' + notes.map((n) => `note: ${n}`).join('\n'));
  if (r.interrupted) lines.push('\ninterrupted: figures are from the jobs that finished');
  return lines.join('\n') + '\n';
}
