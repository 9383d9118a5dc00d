/**
 * Transfer modes side by side: the same file copied into the server with offset writes (blocks in
 * any order, many in flight) and with an append sequence (numbered, applied in order), each on a
 * clean path and under the impairment layer (loss on both ends' received packets), beside a plain
 * copy of the file into the local backend as the baseline.
 */
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { fileSource, type FerryClient, type FlatFs } from '../../src/index.js';
import { startResourceMeter } from '../lib/resources.js';
import type { CopyResult } from './report-types.js';

const COPY_CHUNK_BYTES = 1024 * 1024;
export const COPY_NAME = 'ferry-bench-copy';
/** The local file every copy reads, in the run's folder. */
export const COPY_SOURCE_NAME = 'ferry-bench-copy-source';

/** Writes `sizeBytes` of random data to `file` (the source of every copy). */
export async function makeSourceFile(file: string, sizeBytes: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    const chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    for (let off = 0; off < sizeBytes; off += chunk.length) {
      randomFillSync(chunk);
      const len = Math.min(chunk.length, sizeBytes - off);
      await fh.write(chunk, 0, len, off);
    }
  } finally {
    await fh.close();
  }
}

function failedCopy(mode: CopyResult['mode'], impair: string | null, err: unknown): CopyResult {
  return {
    mode,
    impair,
    status: 'failed',
    reason: err instanceof Error ? err.message : String(err),
    bytes: 0,
    seconds: 0,
    bw_bytes: 0,
    retransmits: 0,
    cpu_user_s: 0,
    cpu_sys_s: 0,
    peak_rss_bytes: 0,
  };
}

/** The baseline: the source copied into the local backend in 1 MiB writes, then fsynced. */
export async function copyLocal(
  fs: FlatFs,
  file: string,
  sizeBytes: number,
  signal: AbortSignal,
): Promise<CopyResult> {
  const meter = startResourceMeter();
  const t0 = performance.now();
  try {
    const src = await open(file, 'r');
    const h = await fs.create(COPY_NAME, { sizeBytes });
    try {
      const chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
      for (let off = 0; off < sizeBytes && !signal.aborted; off += chunk.length) {
        const { bytesRead } = await src.read(chunk, 0, Math.min(chunk.length, sizeBytes - off), off);
        await fs.write(h, off, chunk.subarray(0, bytesRead));
      }
      await fs.fsync(h);
    } finally {
      await fs.closeFile(h);
      await src.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    await fs.unlink(COPY_NAME);
    const u = meter.read();
    return {
      mode: 'local',
      impair: null,
      status: 'ok',
      bytes: sizeBytes,
      seconds,
      bw_bytes: sizeBytes / seconds,
      retransmits: 0,
      ...u,
    };
  } catch (err) {
    return failedCopy('local', null, err);
  }
}

/** One copy through the transfer engine; the copied file is removed afterwards. */
export async function copyRemote(
  client: FerryClient,
  mode: 'offset' | 'append',
  impair: string | null,
  file: string,
  signal: AbortSignal,
): Promise<CopyResult> {
  const meter = startResourceMeter();
  try {
    const source = await fileSource(file);
    try {
      const stats =
        mode === 'offset'
          ? await client.upload(source, COPY_NAME, { signal })
          : await client.uploadAppend({ source }, COPY_NAME, { signal });
      await client.unlink(COPY_NAME).catch(() => undefined);
      const u = meter.read();
      return {
        mode,
        impair,
        status: 'ok',
        bytes: stats.bytesMoved,
        seconds: stats.seconds,
        bw_bytes: stats.bytesMoved / stats.seconds,
        retransmits: stats.retransmits,
        ...u,
      };
    } finally {
      await source.close();
    }
  } catch (err) {
    return failedCopy(mode, impair, err);
  }
}
