/**
 * ferry's own fio-like engine: runs one data job against an IoTarget for a fixed time, with
 * `numjobs` independent regions and `iodepth` requests in flight per region, and records per
 * direction the bytes, operations and completion latencies.
 *
 * Why not fio itself: fio cannot reach a BlockDevice or FlatFs inside a Node process (nor a ferry
 * server without a kernel mount); this engine runs the identical job shapes (jobs.ts) so the fio
 * baseline on the bare file beside it reads as a ratio. Buffers are allocated once per slot, offsets
 * come from a small seeded generator: the loop itself allocates nothing per operation.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { LatencyHistogram } from '../lib/latency.js';
import type { DataJob } from './jobs.js';
import type { IoTarget } from './targets.js';

/** Layout writes are this large, with this many in flight. */
const LAYOUT_CHUNK_BYTES = 1024 * 1024;
const LAYOUT_DEPTH = 4;
/**
 * A memory backend completes requests as microtasks: a lane that never waits for real I/O would hold
 * the event loop for the whole job (no progress line, no Ctrl-C). Lanes give way at least this often.
 */
const YIELD_EVERY_MS = 10;

/** Live counters a progress line reads while the job runs. */
export interface LiveCounters {
  bytes: number;
  ops: number;
}

export interface DirectionMeasure {
  bytes: number;
  ops: number;
  hist: LatencyHistogram;
}

export interface JobMeasure {
  read: DirectionMeasure;
  write: DirectionMeasure;
  elapsedMs: number;
}

export interface RunSettings {
  iodepth: number;
  runtimeMs: number;
  signal: AbortSignal;
  live?: LiveCounters;
  seed?: number;
}

/** xorshift32: deterministic per slot, no allocation. */
function nextRandom(state: Uint32Array): number {
  let x = state[0]!;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  state[0] = x;
  return (x >>> 0) / 4294967296;
}

function emptyMeasure(): JobMeasure {
  return {
    read: { bytes: 0, ops: 0, hist: new LatencyHistogram() },
    write: { bytes: 0, ops: 0, hist: new LatencyHistogram() },
    elapsedMs: 0,
  };
}

/** Writes every region once, so reads meet data and not holes (fio's "laying out" step). */
export async function layOut(target: IoTarget, signal: AbortSignal): Promise<void> {
  const chunk = Buffer.allocUnsafe(Math.min(LAYOUT_CHUNK_BYTES, target.regionBytes));
  randomFillSync(chunk);
  for (let r = 0; r < target.regions; r++) {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < target.regionBytes && !signal.aborted) {
        const offset = next;
        next += chunk.length;
        const len = Math.min(chunk.length, target.regionBytes - offset);
        await target.write(r, offset, len === chunk.length ? chunk : chunk.subarray(0, len));
        await yieldToLoop();
      }
    };
    await Promise.all(Array.from({ length: LAYOUT_DEPTH }, lane));
  }
}

/** Runs `job` for `runtimeMs` (or until the signal), returning what it measured. */
export async function runDataJob(target: IoTarget, job: DataJob, s: RunSettings): Promise<JobMeasure> {
  const m = emptyMeasure();
  const blocks = Math.floor(target.regionBytes / job.bs);
  if (blocks < 1)
    throw new Error(`job ${job.name}: region of ${target.regionBytes} bytes is smaller than bs ${job.bs}`);
  const startMs = performance.now();
  const endMs = startMs + s.runtimeMs;
  const lanes: Promise<void>[] = [];
  for (let r = 0; r < target.regions; r++) {
    const cursor = { block: 0 };
    for (let d = 0; d < s.iodepth; d++) {
      const seed = ((s.seed ?? 0x9e3779b9) ^ (r * 7919 + d * 104729 + 1)) >>> 0 || 1;
      lanes.push(lane(target, job, r, blocks, cursor, seed, endMs, s, m));
    }
  }
  await Promise.all(lanes);
  m.elapsedMs = performance.now() - startMs;
  return m;
}

async function lane(
  target: IoTarget,
  job: DataJob,
  region: number,
  blocks: number,
  cursor: { block: number },
  seed: number,
  endMs: number,
  s: RunSettings,
  m: JobMeasure,
): Promise<void> {
  const buf = Buffer.allocUnsafe(job.bs);
  randomFillSync(buf);
  const rng = new Uint32Array([seed]);
  const sequential = job.pattern === 'read' || job.pattern === 'write';
  let yieldAtMs = performance.now() + YIELD_EVERY_MS;
  while (!s.signal.aborted) {
    let t0 = performance.now();
    if (t0 >= endMs) return;
    if (t0 >= yieldAtMs) {
      await yieldToLoop();
      t0 = performance.now();
      yieldAtMs = t0 + YIELD_EVERY_MS;
      if (s.signal.aborted) return;
    }
    let block: number;
    if (sequential) {
      block = cursor.block;
      cursor.block = (cursor.block + 1) % blocks;
    } else block = Math.floor(nextRandom(rng) * blocks);
    const isRead = job.rwmixread >= 100 || (job.rwmixread > 0 && nextRandom(rng) * 100 < job.rwmixread);
    const offset = block * job.bs;
    if (isRead) await target.readInto(region, offset, buf);
    else await target.write(region, offset, buf);
    const latNs = (performance.now() - t0) * 1e6;
    const dir = isRead ? m.read : m.write;
    dir.bytes += job.bs;
    dir.ops++;
    dir.hist.recordNs(latNs);
    if (s.live) {
      s.live.bytes += job.bs;
      s.live.ops++;
    }
  }
}
