/**
 * The options of `ferry bench blockdev|fs`: parsed from the command line's strings once, checked
 * against named bounds, with defaults for a full run and for a smoke run (seconds, for CI). Bad values
 * are INVALID_ARGUMENT errors that name the accepted range (the CLI turns them into exit code 2).
 */
import { FerryError, GiB, MiB, parseBytes, parseDurationMs, parseRemote } from '../../src/index.js';
import { jobsFor, type Job } from './jobs.js';
import type { BenchKind } from './report-types.js';

/** Bounds on every option: a benchmark must not be able to eat the machine by a typo. */
export const STORAGE_BENCH_LIMITS = {
  MAX_SIZE_BYTES: 64 * GiB,
  MIN_SIZE_BYTES: 1 * MiB,
  MAX_IODEPTH: 256,
  MAX_NUMJOBS: 64,
  MAX_RUNTIME_MS: 3_600_000,
  MIN_RUNTIME_MS: 50,
  MAX_META_FILES: 1_000_000,
  MAX_COPY_BYTES: 64 * GiB,
} as const;

export const FIO_ENGINES = ['psync', 'libaio'] as const;
export type FioEngine = (typeof FIO_ENGINES)[number];

export interface StorageBenchOptions {
  kind: BenchKind;
  backend: string;
  /** A server to measure (`ferry://HOST:PORT[/DEV]`), or null: start one in-process on loopback. */
  remote: { host: string; port: number; name: string | null; text: string } | null;
  /** Where file/dir backends keep their data (default: a fresh temp folder, removed afterwards). */
  path: string | null;
  sizeBytes: number;
  runtimeMs: number;
  iodepth: number;
  numjobs: number;
  jobs: Job[];
  metaFiles: number;
  fio: boolean;
  fioEngine: FioEngine;
  curve: boolean;
  copies: boolean;
  copyBytes: number;
  impair: string;
  smoke: boolean;
  /** The secret to dial --remote with (the command line finds it), null: none. Never reported. */
  secret: string | null;
  /** Seal packets (false: `--no-encrypt`, loopback benchmarks only). */
  encrypt: boolean;
}

/** What the command line hands over: strings as typed, or absent. */
export interface RawStorageOptions {
  backend?: string;
  remote?: string;
  path?: string;
  size?: string;
  runtime?: string;
  iodepth?: string | number;
  jobs?: string | number;
  job?: string;
  files?: string | number;
  fio?: boolean;
  fioEngine?: string;
  curve?: boolean;
  copies?: boolean;
  copySize?: string;
  impair?: string;
  smoke?: boolean;
  secret?: string;
  encrypt?: boolean;
}

const BACKENDS: Record<BenchKind, readonly string[]> = {
  blockdev: ['memory', 'file'],
  fs: ['memory', 'dir'],
};

function bad(message: string): never {
  throw new FerryError('INVALID_ARGUMENT', message);
}

function intIn(
  label: string,
  raw: string | number | undefined,
  dflt: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return dflt;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    bad(`--${label} must be a whole number in ${min}..${max}, got "${raw}"`);
  return n;
}

function bytesIn(label: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = parseBytes(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    bad(`--${label} must be a size like 64MiB or 1GiB between ${min} and ${max} bytes, got "${raw}"`);
  return n;
}

/** fio's runtime is in seconds: a bare number means seconds here too; `500ms` and `2s` also work. */
function runtimeMs(raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) * 1000 : parseDurationMs(raw);
  const { MIN_RUNTIME_MS: lo, MAX_RUNTIME_MS: hi } = STORAGE_BENCH_LIMITS;
  if (!Number.isFinite(ms) || ms < lo || ms > hi)
    bad(
      `--runtime must be seconds (5, 0.5) or a duration (500ms, 2s) between ${lo} ms and ${hi / 1000} s, got "${raw}"`,
    );
  return ms;
}

function pickJobs(kind: BenchKind, raw: string | undefined): Job[] {
  const all = jobsFor(kind);
  if (raw === undefined || raw.trim() === '') return [...all];
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of names) {
    if (!all.some((j) => j.name === n))
      bad(`unknown job "${n}": choose from ${all.map((j) => j.name).join(', ')}`);
  }
  return all.filter((j) => names.includes(j.name));
}

function parseRemoteOption(kind: BenchKind, raw: string | undefined): StorageBenchOptions['remote'] {
  if (raw === undefined) return null;
  const ref = parseRemote(raw);
  if (kind === 'blockdev' && ref.name === null)
    bad(`--remote for a block device names the device: ferry://HOST:PORT/DEVICE, got "${raw}"`);
  return { host: ref.host, port: ref.port, name: ref.name, text: raw };
}

export function parseStorageOptions(kind: BenchKind, raw: RawStorageOptions): StorageBenchOptions {
  const L = STORAGE_BENCH_LIMITS;
  const smoke = raw.smoke === true;
  const backend = raw.backend ?? 'memory';
  if (!BACKENDS[kind].includes(backend))
    bad(`--backend for ${kind} must be ${BACKENDS[kind].join(' or ')}, got "${backend}"`);
  const fioEngine = (raw.fioEngine ?? 'psync') as FioEngine;
  if (!FIO_ENGINES.includes(fioEngine))
    bad(`--fio-engine must be ${FIO_ENGINES.join(' or ')}, got "${raw.fioEngine}"`);
  return {
    kind,
    backend,
    remote: parseRemoteOption(kind, raw.remote),
    path: raw.path ?? null,
    sizeBytes: bytesIn('size', raw.size, smoke ? 8 * MiB : 256 * MiB, L.MIN_SIZE_BYTES, L.MAX_SIZE_BYTES),
    runtimeMs: runtimeMs(raw.runtime, smoke ? 300 : 5000),
    iodepth: intIn('iodepth', raw.iodepth, 16, 1, L.MAX_IODEPTH),
    numjobs: intIn('jobs', raw.jobs, 1, 1, L.MAX_NUMJOBS),
    jobs: pickJobs(kind, raw.job),
    metaFiles: intIn('files', raw.files, smoke ? 200 : 5000, 1, L.MAX_META_FILES),
    fio: raw.fio !== false,
    fioEngine,
    curve: raw.curve !== false,
    copies: kind === 'fs' && raw.copies !== false,
    copyBytes: bytesIn('copy-size', raw.copySize, smoke ? 4 * MiB : 128 * MiB, 1, L.MAX_COPY_BYTES),
    impair: raw.impair ?? 'loss=0.01,seed=7',
    smoke,
    secret: raw.secret ?? null,
    encrypt: raw.encrypt !== false,
  };
}
