/**
 * `ferry bench blockdev|fs`: runs every job on every target in one invocation — the backend straight
 * (local), the same backend behind a ferry server over loopback UDP (remote), and fio on a bare folder
 * — job by job, so the three see the same machine conditions and each figure reads as a ratio. Then
 * the load curve (random reads over rising queue depths) and, for filesystems, the transfer modes.
 *
 * Ctrl-C (the signal) ends the current run at once; what was measured so far is kept and the report
 * is marked interrupted. Everything started here (server, fio, temp folders) is released in finally.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FerryServer, openClient } from '../../src/index.js';
import { startResourceMeter } from '../lib/resources.js';
import { formatNumber, formatRate } from '../lib/table.js';
import { COPY_SOURCE_NAME, copyLocal, copyRemote, makeSourceFile } from './copies.js';
import { layOut, runDataJob, type JobMeasure, type LiveCounters } from './engine.js';
import { fioBaseDir, fioVersion, runFio, runFioMeta } from './fio.js';
import { CURVE_DEPTHS, CURVE_JOB, type Job, type MetaJob } from './jobs.js';
import { cleanUpMeta, newMetaState, runMetaJob, type MetaState } from './meta.js';
import type { StorageBenchOptions } from './options.js';
import { startProgress, type ProgressSink } from './progress.js';
import {
  STORAGE_REPORT_SCHEMA,
  type CopyResult,
  type JobResult,
  type LoadCurve,
  type StorageBenchReport,
  type TargetName,
} from './report-types.js';
import { computeRatios, notRunResult, okResult } from './results.js';
import {
  openIoTarget,
  openLocalStore,
  dialOptions,
  openRemoteStore,
  startLocalServer,
  type IoTarget,
  type Store,
} from './targets.js';

/** Each load-curve step runs this share of --runtime (at least CURVE_MIN_STEP_MS). */
const CURVE_STEP_SHARE = 1 / 3;
const CURVE_MIN_STEP_MS = 100;
/** What a run creates in its folder (targets.ts, copies), removed from a --path folder afterwards. */
const DATA_PATHS = ['local.img', 'remote.img', 'local-fs', 'remote-fs', 'impaired', COPY_SOURCE_NAME];

export interface StorageBenchIo {
  /** One line per finished run, and notices (stderr). */
  say(line: string): void;
  progress: ProgressSink;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
}

interface LiveTarget {
  name: Exclude<TargetName, 'fio'>;
  store: Store;
  io: IoTarget | null;
  /** The data was laid out once (it stays on the server across sessions). */
  laidOut: boolean;
  meta: MetaState;
  /** Opens a fresh session (remote only), after a run failed because its session ended. */
  reopen?: () => Promise<Store>;
}

/** What the run opened, released in reverse order whatever happens. */
class Resources {
  server: FerryServer | null = null;
  targets: LiveTarget[] = [];
  dir: string | null = null;
  ownsDir = false;
  /** fio's metadata folder, shared by its create, stat and delete phases. */
  fioMetaDir: string | null = null;

  async close(): Promise<void> {
    for (const t of this.targets) {
      if (t.store.kind === 'fs') await cleanUpMeta(t.store.fs, t.meta).catch(() => undefined);
      await t.io?.close().catch(() => undefined);
      await t.store.close().catch(() => undefined);
    }
    await this.server?.close().catch(() => undefined);
    if (this.fioMetaDir) await rm(this.fioMetaDir, { recursive: true, force: true });
    if (this.dir && this.ownsDir) await rm(this.dir, { recursive: true, force: true });
    else if (this.dir) {
      // The user's folder (--path): remove only what this run made in it.
      for (const p of DATA_PATHS) await rm(path.join(this.dir, p), { recursive: true, force: true });
    }
  }
}

export async function runStorageBench(
  o: StorageBenchOptions,
  io: StorageBenchIo,
): Promise<StorageBenchReport> {
  const started = new Date();
  const res = new Resources();
  const unavailable: StorageBenchReport['unavailable'] = {};
  const results: JobResult[] = [];
  const curves: LoadCurve[] = [];
  const copies: CopyResult[] = [];
  try {
    res.dir = o.path ?? (await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-')));
    res.ownsDir = o.path === null;
    res.targets.push({
      name: 'local',
      store: await openLocalStore(o, res.dir),
      io: null,
      laidOut: false,
      meta: newMetaState(),
    });
    await openRemote(o, res, unavailable);
    checkFio(o, unavailable);
    for (const job of o.jobs) {
      if (io.signal.aborted) break;
      for (const t of res.targets) {
        if (io.signal.aborted) break;
        results.push(await runOnTarget(o, job, t, io));
      }
      if (unavailable.remote !== undefined)
        results.push(notRunResult(shapeOf(o, job, 'remote'), 'skipped', unavailable.remote));
      if (io.signal.aborted) break;
      results.push(await runOnFio(o, job, res, unavailable, io));
    }
    if (o.curve && !io.signal.aborted) await runCurves(o, res.targets, io, curves);
    if (o.copies && !io.signal.aborted) await runCopies(o, res, unavailable, io, copies);
  } finally {
    await res.close();
  }
  return {
    schema: STORAGE_REPORT_SCHEMA,
    kind: o.kind,
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
    host: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? 'unknown',
    },
    options: {
      backend: o.backend,
      remote: o.remote?.text ?? null,
      size_bytes: o.sizeBytes,
      runtime_ms: o.runtimeMs,
      iodepth: o.iodepth,
      numjobs: o.numjobs,
      jobs: o.jobs.map((j) => j.name),
      fio_engine: o.fioEngine,
    },
    unavailable,
    interrupted: io.signal.aborted,
    results,
    ratios: computeRatios(results),
    curves,
    copies,
  };
}

function shapeOf(
  o: StorageBenchOptions,
  job: Job,
  target: TargetName,
): { job: Job; target: TargetName; iodepth: number; numjobs: number } {
  return { job, target, iodepth: o.iodepth, numjobs: job.kind === 'meta' ? 1 : o.numjobs };
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Connects to --remote, or starts a server here; when neither works the remote column says why. */
async function openRemote(
  o: StorageBenchOptions,
  res: Resources,
  unavailable: StorageBenchReport['unavailable'],
): Promise<void> {
  try {
    let host: string;
    let port: number;
    if (o.remote) {
      host = o.remote.host;
      port = o.remote.port;
    } else {
      res.server = await startLocalServer(o, res.dir!);
      host = res.server.address.host;
      port = res.server.address.port;
    }
    const dial = { secret: o.remote ? o.secret : null, encrypt: o.encrypt };
    const reopen = (): Promise<Store> =>
      openRemoteStore(o.kind, host, port, o.remote?.name ?? null, null, dial);
    res.targets.push({
      name: 'remote',
      store: await reopen(),
      io: null,
      laidOut: false,
      meta: newMetaState(),
      reopen,
    });
  } catch (err) {
    unavailable.remote = `cannot reach the ferry server: ${reasonOf(err)}`;
  }
}

function checkFio(o: StorageBenchOptions, unavailable: StorageBenchReport['unavailable']): void {
  if (!o.fio) unavailable.fio = 'turned off with --no-fio';
  else if (fioVersion() === null) unavailable.fio = 'fio is not installed (apt-get install fio)';
}

function label(job: Job, target: TargetName): string {
  return `${job.name} ${target}`;
}

function summaryLine(r: JobResult): string {
  if (r.status !== 'ok') return `${label({ name: r.job } as Job, r.target)}: ${r.status}: ${r.reason ?? ''}`;
  const p99 = r.clat_ns.percentile['99.000000'] / 1000;
  const rate = r.bs > 0 ? formatRate(r.bw_bytes) : `${formatNumber(r.iops)} files/s`;
  return `${r.job} ${r.target}: ${rate}, ${formatNumber(r.iops)} IOPS, p99 ${formatNumber(p99)} us`;
}

async function ioTargetOf(o: StorageBenchOptions, t: LiveTarget, signal: AbortSignal): Promise<IoTarget> {
  if (t.io) return t.io;
  const regionBytes = Math.floor(o.sizeBytes / o.numjobs);
  t.io = await openIoTarget(t.store, o.numjobs, regionBytes);
  if (!t.laidOut) await layOut(t.io, signal);
  t.laidOut = true;
  return t.io;
}

async function measure(
  job: Job,
  target: TargetName,
  io: StorageBenchIo,
  run: (live: LiveCounters) => Promise<JobMeasure>,
): Promise<{ m: JobMeasure; usage: ReturnType<ReturnType<typeof startResourceMeter>['read']> }> {
  const live: LiveCounters = { bytes: 0, ops: 0 };
  const meter = startResourceMeter();
  const line = startProgress(io.progress, label(job, target), live);
  try {
    const m = await run(live);
    return { m, usage: meter.read() };
  } finally {
    line.stop();
  }
}

async function runOnTarget(
  o: StorageBenchOptions,
  job: Job,
  t: LiveTarget,
  io: StorageBenchIo,
): Promise<JobResult> {
  const shape = shapeOf(o, job, t.name);
  let result: JobResult;
  try {
    if (job.kind === 'data') {
      const target = await ioTargetOf(o, t, io.signal);
      const { m, usage } = await measure(job, t.name, io, (live) =>
        runDataJob(target, job, { iodepth: o.iodepth, runtimeMs: o.runtimeMs, signal: io.signal, live }),
      );
      result = okResult(shape, m, usage);
    } else result = await runMeta(o, job, t, io, shape);
  } catch (err) {
    result = notRunResult(shape, 'failed', reasonOf(err));
    await renewSession(t, io);
  }
  io.say(summaryLine(result));
  return result;
}

/**
 * After a remote run failed, the session may be gone (the failure is reported as it is): open a
 * fresh one so the later jobs still measure the server instead of failing one after the other.
 */
async function renewSession(t: LiveTarget, io: StorageBenchIo): Promise<void> {
  if (!t.reopen) return;
  await t.io?.close().catch(() => undefined);
  await t.store.close().catch(() => undefined);
  t.io = null;
  try {
    t.store = await t.reopen();
    io.say(`${t.name}: opened a new session after the failure`);
  } catch (err) {
    io.say(`${t.name}: cannot open a new session: ${reasonOf(err)}`);
  }
}

async function runMeta(
  o: StorageBenchOptions,
  job: MetaJob,
  t: LiveTarget,
  io: StorageBenchIo,
  shape: ReturnType<typeof shapeOf>,
): Promise<JobResult> {
  if (t.store.kind !== 'fs') return notRunResult(shape, 'skipped', 'metadata jobs need a filesystem');
  const fs = t.store.fs;
  const { m, usage } = await measure(job, t.name, io, (live) =>
    runMetaJob(fs, job.op, t.meta, {
      files: o.metaFiles,
      iodepth: o.iodepth,
      runtimeMs: o.runtimeMs,
      signal: io.signal,
      live,
    }),
  );
  return okResult(shape, m, usage);
}

async function runOnFio(
  o: StorageBenchOptions,
  job: Job,
  res: Resources,
  unavailable: StorageBenchReport['unavailable'],
  io: StorageBenchIo,
): Promise<JobResult> {
  const shape = shapeOf(o, job, 'fio');
  if (unavailable.fio !== undefined) return notRunResult(shape, 'skipped', unavailable.fio);
  if (job.kind !== 'data') return runMetaOnFio(o, job, res, io);
  const line = startProgress(io.progress, label(job, 'fio'), { bytes: 0, ops: 0 });
  let result: JobResult;
  try {
    result = await runFio({
      job,
      engine: o.fioEngine,
      iodepth: o.iodepth,
      numjobs: o.numjobs,
      regionBytes: Math.floor(o.sizeBytes / o.numjobs),
      runtimeMs: o.runtimeMs,
      memory: o.backend === 'memory',
      signal: io.signal,
    });
  } catch (err) {
    result = notRunResult(shape, 'failed', reasonOf(err));
  } finally {
    line.stop();
  }
  io.say(summaryLine(result));
  return result;
}

/** The load curve: the random-read job on each target at rising queue depths. */
async function runCurves(
  o: StorageBenchOptions,
  targets: LiveTarget[],
  io: StorageBenchIo,
  curves: LoadCurve[],
): Promise<void> {
  const stepMs = Math.max(CURVE_MIN_STEP_MS, o.runtimeMs * CURVE_STEP_SHARE);
  for (const t of targets) {
    const curve: LoadCurve = { target: t.name, job: CURVE_JOB.name, points: [] };
    curves.push(curve);
    // A step that fails on a remote target gets one retry on a fresh session (reported on stderr).
    let retried = false;
    for (let i = 0; i < CURVE_DEPTHS.length && !io.signal.aborted; i++) {
      const depth = CURVE_DEPTHS[i]!;
      try {
        curve.points.push(await curveStep(o, t, depth, stepMs, io));
      } catch (err) {
        io.say(`load curve ${t.name} at iodepth ${depth}: failed: ${reasonOf(err)}`);
        if (!t.reopen || retried) break;
        retried = true;
        await renewSession(t, io);
        i--;
      }
    }
    io.say(
      `load curve ${t.name}: ${curve.points.map((p) => `qd${p.iodepth} ${formatNumber(p.iops)}`).join(', ')} IOPS`,
    );
  }
}

async function curveStep(
  o: StorageBenchOptions,
  t: LiveTarget,
  depth: number,
  stepMs: number,
  io: StorageBenchIo,
): Promise<LoadCurve['points'][number]> {
  const target = await ioTargetOf(o, t, io.signal);
  const { m } = await measure(CURVE_JOB, t.name, io, (live) =>
    runDataJob(target, CURVE_JOB, { iodepth: depth, runtimeMs: stepMs, signal: io.signal, live }),
  );
  const seconds = m.elapsedMs / 1000;
  return {
    iodepth: depth,
    iops: m.read.ops / seconds,
    bw_bytes: m.read.bytes / seconds,
    p50_ns: m.read.hist.percentileNs(50),
    p99_ns: m.read.hist.percentileNs(99),
  };
}

/** Offset and append copies, clean and impaired, beside a plain local copy. */
async function runCopies(
  o: StorageBenchOptions,
  res: Resources,
  unavailable: StorageBenchReport['unavailable'],
  io: StorageBenchIo,
  copies: CopyResult[],
): Promise<void> {
  const local = res.targets.find((t) => t.name === 'local');
  if (!local || local.store.kind !== 'fs') return;
  const src = path.join(res.dir!, COPY_SOURCE_NAME);
  await makeSourceFile(src, o.copyBytes);
  try {
    copies.push(await copyLocal(local.store.fs, src, o.copyBytes, io.signal));
    sayCopy(io, copies[copies.length - 1]!);
    for (const impair of [null, o.impair]) {
      for (const mode of ['offset', 'append'] as const) {
        if (io.signal.aborted) return;
        if (unavailable.remote !== undefined) {
          copies.push({ ...skippedCopy(mode, impair), reason: unavailable.remote });
          continue;
        }
        copies.push(await oneRemoteCopy(o, res, mode, impair, src, io.signal));
        sayCopy(io, copies[copies.length - 1]!);
      }
    }
  } finally {
    await rm(src, { force: true });
  }
}

function skippedCopy(mode: CopyResult['mode'], impair: string | null): CopyResult {
  return {
    mode,
    impair,
    status: 'skipped',
    bytes: 0,
    seconds: 0,
    bw_bytes: 0,
    retransmits: 0,
    cpu_user_s: 0,
    cpu_sys_s: 0,
    peak_rss_bytes: 0,
  };
}

function sayCopy(io: StorageBenchIo, c: CopyResult): void {
  const what = `copy ${c.mode}${c.impair ? ` (${c.impair})` : ''}`;
  io.say(
    c.status === 'ok'
      ? `${what}: ${formatRate(c.bw_bytes)}, ${c.retransmits} retransmits`
      : `${what}: ${c.status}: ${c.reason ?? ''}`,
  );
}

/**
 * One remote copy on a fresh session. Impaired runs impair what both ends receive: with our own
 * server, a second server is started with the impairment; with --remote only this end is impaired.
 */
async function oneRemoteCopy(
  o: StorageBenchOptions,
  res: Resources,
  mode: 'offset' | 'append',
  impair: string | null,
  src: string,
  signal: AbortSignal,
): Promise<CopyResult> {
  let server: FerryServer | null = null;
  try {
    let host = o.remote?.host ?? res.server!.address.host;
    let port = o.remote?.port ?? res.server!.address.port;
    if (impair !== null && !o.remote) {
      server = await startLocalServer(o, path.join(res.dir!, 'impaired'), impair);
      host = server.address.host;
      port = server.address.port;
    }
    const client = await openClient({
      host,
      port,
      impair,
      ...dialOptions({ secret: o.remote ? o.secret : null, encrypt: o.encrypt }),
    });
    try {
      return await copyRemote(client, mode, impair, src, signal);
    } finally {
      await client.close();
    }
  } catch (err) {
    return { ...skippedCopy(mode, impair), status: 'failed', reason: reasonOf(err) };
  } finally {
    await server?.close();
  }
}

/** fio's file engines in a folder of the same kind as the backend, kept from create to delete. */
async function runMetaOnFio(
  o: StorageBenchOptions,
  job: MetaJob,
  res: Resources,
  io: StorageBenchIo,
): Promise<JobResult> {
  const shape = shapeOf(o, job, 'fio');
  const line = startProgress(io.progress, label(job, 'fio'), { bytes: 0, ops: 0 });
  let result: JobResult;
  try {
    if (job.op === 'create' || res.fioMetaDir === null) {
      if (res.fioMetaDir) await rm(res.fioMetaDir, { recursive: true, force: true });
      res.fioMetaDir = await mkdtemp(path.join(fioBaseDir(o.backend === 'memory'), 'ferry-bench-fio-meta-'));
    }
    result = await runFioMeta({
      name: job.name,
      op: job.op,
      files: o.metaFiles,
      iodepth: o.iodepth,
      dir: res.fioMetaDir,
      signal: io.signal,
    });
    result = { ...result, iodepth: shape.iodepth, numjobs: shape.numjobs };
  } catch (err) {
    result = notRunResult(shape, 'failed', reasonOf(err));
  } finally {
    line.stop();
  }
  if (job.op === 'delete' && res.fioMetaDir) {
    await rm(res.fioMetaDir, { recursive: true, force: true });
    res.fioMetaDir = null;
  }
  io.say(summaryLine(result));
  return result;
}
