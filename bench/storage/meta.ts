/**
 * Metadata jobs of the filesystem benchmark: create (create + one small write + close), stat and
 * delete of many small files, `iodepth` at a time, measured in files per second.
 *
 * Each phase stops at `metaFiles` files or at the runtime, whichever comes first; stat and delete
 * work on the files create made. Files a timed phase did not reach are removed afterwards, untimed,
 * so a run leaves nothing behind.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FlatFs } from '../../src/index.js';
import { LatencyHistogram } from '../lib/latency.js';
import type { JobMeasure, LiveCounters } from './engine.js';
import type { MetaOp } from './jobs.js';

/** Bytes written into each small file. */
export const META_FILE_BYTES = 4096;
const META_PREFIX = 'ferry-bench-meta-';
const YIELD_EVERY_MS = 10;

export interface MetaState {
  /** Files made by the create phase and not yet deleted. */
  created: number;
  deletedUpTo: number;
}

export interface MetaSettings {
  files: number;
  iodepth: number;
  runtimeMs: number;
  signal: AbortSignal;
  live?: LiveCounters;
}

function nameOf(i: number): string {
  return META_PREFIX + i;
}

export function newMetaState(): MetaState {
  return { created: 0, deletedUpTo: 0 };
}

async function doOp(fs: FlatFs, op: MetaOp, i: number, data: Uint8Array): Promise<void> {
  if (op === 'create') {
    const h = await fs.create(nameOf(i));
    await fs.write(h, 0, data);
    await fs.closeFile(h);
  } else if (op === 'stat') await fs.stat(nameOf(i));
  else await fs.unlink(nameOf(i));
}

export async function runMetaJob(
  fs: FlatFs,
  op: MetaOp,
  state: MetaState,
  s: MetaSettings,
): Promise<JobMeasure> {
  const hist = new LatencyHistogram();
  const data = Buffer.alloc(META_FILE_BYTES, 0x5a);
  const first = op === 'create' ? state.created : state.deletedUpTo;
  const last = op === 'create' ? s.files : state.created;
  let next = first;
  let done = 0;
  const start = performance.now();
  const end = start + s.runtimeMs;
  const lane = async (): Promise<void> => {
    let yieldAtMs = performance.now() + YIELD_EVERY_MS;
    while (next < last && !s.signal.aborted) {
      let t0 = performance.now();
      if (t0 >= end) return;
      if (t0 >= yieldAtMs) {
        // A memory backend answers as microtasks: give timers and signals their turn.
        await yieldToLoop();
        t0 = performance.now();
        yieldAtMs = t0 + YIELD_EVERY_MS;
        if (s.signal.aborted) return;
      }
      // Another lane may have taken the last file while this one gave way.
      if (next >= last) return;
      const i = next++;
      await doOp(fs, op, i, data);
      hist.recordNs((performance.now() - t0) * 1e6);
      done++;
      if (op === 'create') state.created = Math.max(state.created, i + 1);
      if (s.live) s.live.ops++;
    }
  };
  await Promise.all(Array.from({ length: s.iodepth }, lane));
  const elapsedMs = performance.now() - start;
  if (op === 'delete') state.deletedUpTo = next;
  const measured = { bytes: 0, ops: done, hist };
  const idle = { bytes: 0, ops: 0, hist: new LatencyHistogram() };
  return op === 'stat'
    ? { read: measured, write: idle, elapsedMs }
    : { read: idle, write: measured, elapsedMs };
}

/** Removes the small files no timed delete reached. */
export async function cleanUpMeta(fs: FlatFs, state: MetaState): Promise<void> {
  for (let i = state.deletedUpTo; i < state.created; i++) await fs.unlink(nameOf(i)).catch(() => undefined);
  state.deletedUpTo = state.created;
}
