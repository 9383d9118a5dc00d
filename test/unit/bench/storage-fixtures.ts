/** A small valid `ferry.bench.storage/1` report for unit tests of the schema, compare and render. */
import type { JobResult, StorageBenchReport } from '../../../bench/storage/index.js';

export function jobResult(
  job: string,
  target: 'local' | 'remote' | 'fio',
  bwBytes: number,
  p99Ns: number,
): JobResult {
  const runtime = 1000;
  const bs = 4096;
  const ops = Math.round(bwBytes / bs);
  const lat = {
    count: ops,
    min_ns: 1000,
    mean_ns: p99Ns / 2,
    max_ns: p99Ns * 2,
    percentile: {
      '50.000000': p99Ns / 4,
      '90.000000': p99Ns / 2,
      '99.000000': p99Ns,
      '99.900000': p99Ns * 1.5,
    },
  };
  const dir = { io_bytes: ops * bs, bw_bytes: ops * bs, iops: ops, total_ios: ops, runtime, clat_ns: lat };
  const none = {
    io_bytes: 0,
    bw_bytes: 0,
    iops: 0,
    total_ios: 0,
    runtime: 0,
    clat_ns: {
      ...lat,
      count: 0,
      percentile: { '50.000000': 0, '90.000000': 0, '99.000000': 0, '99.900000': 0 },
    },
  };
  return {
    job,
    target,
    status: 'ok',
    bs,
    iodepth: 16,
    numjobs: 1,
    bw_bytes: ops * bs,
    iops: ops,
    io_bytes: ops * bs,
    runtime,
    clat_ns: lat,
    read: dir,
    write: none,
    cpu_user_s: 0.5,
    cpu_sys_s: 0.2,
    peak_rss_bytes: target === 'fio' ? null : 100e6,
  };
}

export function sampleReport(overrides: Partial<StorageBenchReport> = {}): StorageBenchReport {
  return {
    schema: 'ferry.bench.storage/1',
    kind: 'blockdev',
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:01:00.000Z',
    host: { node: 'v20', platform: 'linux', cpus: 2, cpu_model: 'test' },
    options: {
      backend: 'memory',
      remote: null,
      size_bytes: 8 << 20,
      runtime_ms: 1000,
      iodepth: 16,
      numjobs: 1,
      jobs: ['randread-4k'],
      fio_engine: 'psync',
    },
    unavailable: {},
    interrupted: false,
    results: [
      jobResult('randread-4k', 'local', 400e6, 20_000),
      jobResult('randread-4k', 'remote', 40e6, 200_000),
      jobResult('randread-4k', 'fio', 800e6, 5_000),
    ],
    ratios: [{ job: 'randread-4k', remote_to_local: 0.1, local_to_fio: 0.5, remote_to_fio: 0.05 }],
    curves: [
      {
        target: 'local',
        job: 'randread-4k',
        points: [{ iodepth: 1, iops: 1000, bw_bytes: 4096000, p50_ns: 900, p99_ns: 2000 }],
      },
    ],
    copies: [],
    ...overrides,
  };
}
