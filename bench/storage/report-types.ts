/**
 * The JSON report of `ferry bench blockdev` and `ferry bench fs` (schema `ferry.bench.storage/1`).
 *
 * Why its own file: the report is a contract with scripts and CI (`ferry bench compare` reads two of
 * them), so its shape is declared once here, described for machines in schema.json, and for people in
 * docs/benchmarks.md. Field names follow fio's JSON where they mean the same (`bw_bytes`, `iops`,
 * `io_bytes`, `runtime` in ms, `clat_ns.percentile["99.000000"]`), so fio users can read it at once.
 */
import type { LatencySummary } from '../lib/latency.js';

export const STORAGE_REPORT_SCHEMA = 'ferry.bench.storage/1';

/** Where a job ran: the backend straight (no ferry), the backend behind a ferry server, or fio. */
export type TargetName = 'local' | 'remote' | 'fio';
export type BenchKind = 'blockdev' | 'fs';
export type RunStatus = 'ok' | 'skipped' | 'failed';

/** One direction of a job, as fio reports it. */
export interface DirectionStats {
  /** Bytes moved. */
  io_bytes: number;
  /** Bytes per second over the job's runtime. */
  bw_bytes: number;
  iops: number;
  /** Completed operations. */
  total_ios: number;
  /** Milliseconds the job ran (fio's `runtime`). */
  runtime: number;
  /** Completion latency of one operation, submission to completion. */
  clat_ns: LatencySummary;
}

export interface JobResult {
  job: string;
  target: TargetName;
  status: RunStatus;
  /** Why the run was skipped or failed (absent when ok). */
  reason?: string;
  /** Operation size in bytes (0 for metadata jobs). */
  bs: number;
  iodepth: number;
  numjobs: number;
  /** Both directions together: bw_bytes = io_bytes / (runtime / 1000). */
  bw_bytes: number;
  iops: number;
  io_bytes: number;
  runtime: number;
  clat_ns: LatencySummary;
  read: DirectionStats;
  write: DirectionStats;
  /** Files per second (metadata jobs only). */
  files_per_s?: number;
  /** CPU seconds this process (or fio) spent during the job; remote runs include the in-process server. */
  cpu_user_s: number;
  cpu_sys_s: number;
  /** High-water mark of resident memory of the process at the end of the job; null when unknown (fio). */
  peak_rss_bytes: number | null;
}

/** One step of the load curve: the random-read job at one queue depth. */
export interface CurvePoint {
  iodepth: number;
  iops: number;
  bw_bytes: number;
  p50_ns: number;
  p99_ns: number;
}

export interface LoadCurve {
  target: TargetName;
  job: string;
  points: CurvePoint[];
}

/** One whole-file copy through the transfer engine (fs bench only). */
export interface CopyResult {
  /** `local` (a plain copy into the local backend), `offset` or `append`. */
  mode: 'local' | 'offset' | 'append';
  /** Impairment setting of the run (`key=value,...`), or null when clean. */
  impair: string | null;
  status: RunStatus;
  reason?: string;
  bytes: number;
  seconds: number;
  bw_bytes: number;
  retransmits: number;
  cpu_user_s: number;
  cpu_sys_s: number;
  peak_rss_bytes: number;
}

/** Per job: remote / local and local / fio bandwidth (null when either side is missing). */
export interface JobRatio {
  job: string;
  remote_to_local: number | null;
  local_to_fio: number | null;
  remote_to_fio: number | null;
}

export interface StorageBenchReport {
  schema: typeof STORAGE_REPORT_SCHEMA;
  kind: BenchKind;
  started_at: string;
  finished_at: string;
  host: { node: string; platform: string; cpus: number; cpu_model: string };
  options: {
    backend: string;
    remote: string | null;
    size_bytes: number;
    runtime_ms: number;
    iodepth: number;
    numjobs: number;
    jobs: string[];
    fio_engine: string;
  };
  /** Targets that could not run at all, with the reason (e.g. fio not installed). */
  unavailable: Partial<Record<TargetName, string>>;
  interrupted: boolean;
  results: JobResult[];
  ratios: JobRatio[];
  curves: LoadCurve[];
  copies: CopyResult[];
}
