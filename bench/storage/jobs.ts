/**
 * The fio-style jobs of the storage benchmarks, declared once so ferry's own engine and the fio
 * baseline run exactly the same workload (same names, block sizes, mix) and the figures compare.
 */

export type Pattern = 'read' | 'write' | 'randread' | 'randwrite' | 'randrw';

export interface DataJob {
  kind: 'data';
  name: string;
  /** fio's `rw=`. */
  pattern: Pattern;
  /** Operation size in bytes (fio's `bs=`). */
  bs: number;
  /** Share of reads in a mixed job, percent (fio's `rwmixread=`). */
  rwmixread: number;
}

export type MetaOp = 'create' | 'stat' | 'delete';

export interface MetaJob {
  kind: 'meta';
  name: string;
  op: MetaOp;
}

export type Job = DataJob | MetaJob;

const KiB = 1024;
const MiB = 1024 * KiB;

/** In run order: the sequential write lays the data out before anything reads it. */
export const DATA_JOBS: readonly DataJob[] = [
  { kind: 'data', name: 'seqwrite-1m', pattern: 'write', bs: MiB, rwmixread: 0 },
  { kind: 'data', name: 'seqread-1m', pattern: 'read', bs: MiB, rwmixread: 100 },
  { kind: 'data', name: 'randwrite-4k', pattern: 'randwrite', bs: 4 * KiB, rwmixread: 0 },
  { kind: 'data', name: 'randread-4k', pattern: 'randread', bs: 4 * KiB, rwmixread: 100 },
  { kind: 'data', name: 'randrw-16k', pattern: 'randrw', bs: 16 * KiB, rwmixread: 70 },
];

/** Filesystem only, in this order (stat and delete work on the files create made). */
export const META_JOBS: readonly MetaJob[] = [
  { kind: 'meta', name: 'meta-create', op: 'create' },
  { kind: 'meta', name: 'meta-stat', op: 'stat' },
  { kind: 'meta', name: 'meta-delete', op: 'delete' },
];

/** The job the load curve sweeps over queue depths. */
export const CURVE_JOB: DataJob = DATA_JOBS[3]!;
/** Queue depths of the load curve. */
export const CURVE_DEPTHS: readonly number[] = [1, 2, 4, 8, 16, 32];

export function jobsFor(kind: 'blockdev' | 'fs'): readonly Job[] {
  return kind === 'fs' ? [...DATA_JOBS, ...META_JOBS] : DATA_JOBS;
}
