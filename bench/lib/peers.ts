/**
 * Pieces the copy benchmarks share (bench/cp-vs-rsync.ts, bench/wan): a random source file, a file's
 * SHA-256, and stopping a peer process by pid.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

/** Writes `sizeBytes` of random data (no compression or delta can help any tool). */
export async function randomFile(path: string, sizeBytes: number): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
  try {
    for (let off = 0; off < sizeBytes; off += chunk.length) {
      const n = Math.min(chunk.length, sizeBytes - off);
      randomFillSync(chunk, 0, n);
      await fh.write(chunk, 0, n, off);
    }
  } finally {
    await fh.close();
  }
}

/** SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }), h);
  return h.digest('hex');
}

/** SIGTERM by pid, SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
