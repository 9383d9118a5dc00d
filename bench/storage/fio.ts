/**
 * The fio baseline: the same data job (jobs.ts) run by fio on a bare folder of the same kind of
 * storage (the temp folder for file/dir backends, RAM-backed /dev/shm for memory backends), so every
 * ferry figure reads as a ratio to what the machine does without ferry.
 *
 * fio runs in a child process (ended by its pid on Ctrl-C), with its working files and its *.state
 * files in a temp folder it is started in (never the caller's folder), removed afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LatencySummary } from '../lib/latency.js';
import type { DataJob, MetaOp } from './jobs.js';
import type { FioEngine } from './options.js';
import type { DirectionStats, JobResult } from './report-types.js';

/** fio is given this much longer than the job's runtime before it is killed. */
const FIO_GRACE_MS = 60_000;

export interface FioRun {
  job: DataJob;
  engine: FioEngine;
  iodepth: number;
  numjobs: number;
  regionBytes: number;
  runtimeMs: number;
  /** RAM-backed folder (memory backends) or the ordinary temp folder. */
  memory: boolean;
  signal: AbortSignal;
}

/** The fio binary's version line, or null when fio is not installed. */
export function fioVersion(): string | null {
  const r = spawnSync('fio', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** RAM-backed /dev/shm for memory backends (where it exists), else the temp folder. */
export function fioBaseDir(memory: boolean): string {
  return memory && existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
}

export function fioArgs(run: FioRun, dir: string): string[] {
  const j = run.job;
  const args = [
    `--name=${j.name}`,
    `--directory=${dir}`,
    `--rw=${j.pattern}`,
    `--bs=${j.bs}`,
    `--size=${run.regionBytes}`,
    `--numjobs=${run.numjobs}`,
    `--iodepth=${run.iodepth}`,
    `--ioengine=${run.engine}`,
    `--runtime=${Math.max(1, Math.round(run.runtimeMs))}ms`,
    '--time_based',
    '--group_reporting',
    '--randrepeat=0',
    '--output-format=json',
  ];
  if (j.pattern === 'randrw') args.push(`--rwmixread=${j.rwmixread}`);
  return args;
}

interface FioDirection {
  io_bytes: number;
  bw_bytes: number;
  iops: number;
  total_ios: number;
  runtime: number;
  clat_ns: { min: number; max: number; mean: number; N?: number; percentile?: Record<string, number> };
}

interface FioJson {
  jobs: { read: FioDirection; write: FioDirection; usr_cpu: number; sys_cpu: number; elapsed?: number }[];
}

function latencyOf(d: FioDirection): LatencySummary {
  const p = d.clat_ns.percentile ?? {};
  const at = (k: string): number => p[k] ?? 0;
  return {
    count: d.total_ios,
    min_ns: d.total_ios ? d.clat_ns.min : 0,
    mean_ns: d.total_ios ? d.clat_ns.mean : 0,
    max_ns: d.total_ios ? d.clat_ns.max : 0,
    percentile: {
      '50.000000': at('50.000000'),
      '90.000000': at('90.000000'),
      '99.000000': at('99.000000'),
      '99.900000': at('99.900000'),
    },
  };
}

function directionOf(d: FioDirection): DirectionStats {
  return {
    io_bytes: d.io_bytes,
    bw_bytes: d.bw_bytes,
    iops: d.iops,
    total_ios: d.total_ios,
    runtime: d.runtime,
    clat_ns: latencyOf(d),
  };
}

/** Reads fio's JSON (it may print notices before it) into a JobResult. */
export function parseFioJson(
  text: string,
  run: { job: { name: string; bs: number }; iodepth: number; numjobs: number },
): JobResult {
  const start = text.indexOf('{');
  if (start < 0) throw new Error('fio printed no JSON');
  const parsed = JSON.parse(text.slice(start)) as FioJson;
  const job = parsed.jobs[0];
  if (!job) throw new Error('fio reported no job');
  const read = directionOf(job.read);
  const write = directionOf(job.write);
  const runtime = Math.max(read.runtime, write.runtime);
  const ioBytes = read.io_bytes + write.io_bytes;
  const ops = read.total_ios + write.total_ios;
  const seconds = runtime / 1000;
  // One latency for the job: the busier direction's (fio keeps the two apart).
  const clat = read.total_ios >= write.total_ios ? read.clat_ns : write.clat_ns;
  return {
    job: run.job.name,
    target: 'fio',
    status: 'ok',
    bs: run.job.bs,
    iodepth: run.iodepth,
    numjobs: run.numjobs,
    bw_bytes: seconds > 0 ? ioBytes / seconds : 0,
    iops: seconds > 0 ? ops / seconds : 0,
    io_bytes: ioBytes,
    runtime,
    clat_ns: clat,
    read,
    write,
    // fio reports CPU as a share of the run time, per job.
    cpu_user_s: (job.usr_cpu / 100) * seconds * run.numjobs,
    cpu_sys_s: (job.sys_cpu / 100) * seconds * run.numjobs,
    peak_rss_bytes: null,
  };
}

/** Runs fio once for the job; rejects with fio's own words when it fails. */
export async function runFio(run: FioRun): Promise<JobResult> {
  const dir = await mkdtemp(path.join(fioBaseDir(run.memory), 'ferry-bench-fio-'));
  try {
    const text = await spawnFio(fioArgs(run, dir), dir, run.runtimeMs + FIO_GRACE_MS, run.signal);
    return parseFioJson(text, run);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs fio with `args` in `cwd`, ended by its pid after `timeoutMs` or on abort; resolves to its stdout. */
export function spawnFio(
  args: string[],
  cwd: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('fio', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const stop = (): void => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    };
    const timer = setTimeout(stop, timeoutMs);
    signal.addEventListener('abort', stop, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      if (code === 0) resolve(out);
      else
        reject(new Error(`fio exited with ${code}: ${(err || out).trim().split('\n').slice(-2).join(' ')}`));
    });
  });
}

/** fio's file engines: create (with one 4 KiB write), stat and delete of many small files. */
const META_ENGINES: Record<MetaOp, { engine: string; rw: string }> = {
  create: { engine: 'filecreate', rw: 'write' },
  stat: { engine: 'filestat', rw: 'read' },
  delete: { engine: 'filedelete', rw: 'read' },
};

const FIO_META_NAME = 'ferry-meta';

export interface FioMetaRun {
  name: string;
  op: MetaOp;
  files: number;
  iodepth: number;
  /** The folder the three phases share (made by the caller, removed after delete). */
  dir: string;
  signal: AbortSignal;
}

export function fioMetaArgs(run: FioMetaRun): string[] {
  const m = META_ENGINES[run.op];
  return [
    // One fio job name for the three phases: fio names the files after it (NAME.0.N).
    `--name=${FIO_META_NAME}`,
    `--directory=${run.dir}`,
    `--ioengine=${m.engine}`,
    `--rw=${m.rw}`,
    `--nrfiles=${run.files}`,
    '--filesize=4k',
    '--bs=4k',
    '--openfiles=1',
    ...(run.op === 'create' ? ['--create_on_open=1'] : []),
    '--output-format=json',
  ];
}

/** A metadata phase with fio's file engines; counted in files, like ferry's metadata jobs. */
export async function runFioMeta(run: FioMetaRun): Promise<JobResult> {
  const text = await spawnFio(fioMetaArgs(run), run.dir, FIO_GRACE_MS, run.signal);
  const r = parseFioJson(text, { job: { name: run.name, bs: 0 }, iodepth: run.iodepth, numjobs: 1 });
  // Files, not bytes: the same shape as ferry's own metadata results.
  for (const d of [r.read, r.write]) {
    d.io_bytes = 0;
    d.bw_bytes = 0;
  }
  return { ...r, io_bytes: 0, bw_bytes: 0, files_per_s: r.iops };
}
