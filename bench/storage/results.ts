/**
 * Turns what a run measured into the report's JobResult (fio's field names and units), and builds
 * the rows of runs that were skipped or failed, so every (job, target) pair has exactly one row that
 * says what happened.
 */
import { LatencyHistogram, type LatencySummary } from '../lib/latency.js';
import type { ResourceUsage } from '../lib/resources.js';
import type { DirectionMeasure, JobMeasure } from './engine.js';
import type { Job } from './jobs.js';
import type { DirectionStats, JobResult, JobRatio, RunStatus, TargetName } from './report-types.js';

export interface RunShape {
  job: Job;
  target: TargetName;
  iodepth: number;
  numjobs: number;
}

export function emptyLatency(): LatencySummary {
  return new LatencyHistogram().summary();
}

function direction(d: DirectionMeasure, runtimeMs: number): DirectionStats {
  const seconds = runtimeMs / 1000;
  return {
    io_bytes: d.bytes,
    bw_bytes: seconds > 0 ? d.bytes / seconds : 0,
    iops: seconds > 0 ? d.ops / seconds : 0,
    total_ios: d.ops,
    runtime: runtimeMs,
    clat_ns: d.hist.summary(),
  };
}

function emptyDirection(): DirectionStats {
  return { io_bytes: 0, bw_bytes: 0, iops: 0, total_ios: 0, runtime: 0, clat_ns: emptyLatency() };
}

function bsOf(job: Job): number {
  return job.kind === 'data' ? job.bs : 0;
}

export function okResult(shape: RunShape, m: JobMeasure, usage: ResourceUsage): JobResult {
  const runtime = m.elapsedMs;
  const both = new LatencyHistogram();
  both.merge(m.read.hist);
  both.merge(m.write.hist);
  const ioBytes = m.read.bytes + m.write.bytes;
  const ops = m.read.ops + m.write.ops;
  const seconds = runtime / 1000;
  const r: JobResult = {
    job: shape.job.name,
    target: shape.target,
    status: 'ok',
    bs: bsOf(shape.job),
    iodepth: shape.iodepth,
    numjobs: shape.numjobs,
    bw_bytes: seconds > 0 ? ioBytes / seconds : 0,
    iops: seconds > 0 ? ops / seconds : 0,
    io_bytes: ioBytes,
    runtime,
    clat_ns: both.summary(),
    read: direction(m.read, runtime),
    write: direction(m.write, runtime),
    cpu_user_s: usage.cpu_user_s,
    cpu_sys_s: usage.cpu_sys_s,
    peak_rss_bytes: usage.peak_rss_bytes,
  };
  if (shape.job.kind === 'meta') r.files_per_s = r.iops;
  return r;
}

export function notRunResult(shape: RunShape, status: Exclude<RunStatus, 'ok'>, reason: string): JobResult {
  return {
    job: shape.job.name,
    target: shape.target,
    status,
    reason,
    bs: bsOf(shape.job),
    iodepth: shape.iodepth,
    numjobs: shape.numjobs,
    bw_bytes: 0,
    iops: 0,
    io_bytes: 0,
    runtime: 0,
    clat_ns: emptyLatency(),
    read: emptyDirection(),
    write: emptyDirection(),
    cpu_user_s: 0,
    cpu_sys_s: 0,
    peak_rss_bytes: null,
  };
}

/** The figure a ratio compares: bandwidth for data jobs, operations (files) per second for metadata. */
export function headline(r: JobResult): number {
  return r.bs > 0 ? r.bw_bytes : r.iops;
}

function ratio(a: JobResult | undefined, b: JobResult | undefined): number | null {
  if (!a || !b || a.status !== 'ok' || b.status !== 'ok') return null;
  const den = headline(b);
  return den > 0 ? headline(a) / den : null;
}

export function computeRatios(results: readonly JobResult[]): JobRatio[] {
  const names = [...new Set(results.map((r) => r.job))];
  return names.map((job) => {
    const of = (t: TargetName): JobResult | undefined => results.find((r) => r.job === job && r.target === t);
    return {
      job,
      remote_to_local: ratio(of('remote'), of('local')),
      local_to_fio: ratio(of('local'), of('fio')),
      remote_to_fio: ratio(of('remote'), of('fio')),
    };
  });
}
