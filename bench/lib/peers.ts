/**
 * Pieces the copy benchmarks share (bench/cp-vs-rsync.ts, bench/wan, ferry bench tree): a random
 * source file, a file's SHA-256, a free loopback port, starting a peer process (an rsync daemon among
 * them) and stopping it by pid, and timing a command from spawn to exit.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** How long a child that prints a readiness line may take to print it. */
const CHILD_READY_TIMEOUT_MS = 30_000;

/** A TCP/UDP port free on 127.0.0.1 now (the kernel's pick). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a child; resolves once `ready` matches its stderr (within CHILD_READY_TIMEOUT_MS), or after
 * `settleMs` when there is no pattern. Rejects when it exits first.
 */
export function startChild(
  cmd: string,
  args: string[],
  ready: RegExp | null,
  opts: { settleMs?: number; cwd?: string } = {},
): Promise<ChildProcess> {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => (ready ? reject(new Error(`${cmd} did not start: ${err}`)) : resolve(child)),
      ready ? CHILD_READY_TIMEOUT_MS : (opts.settleMs ?? 1000),
    );
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (ready?.test(err)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stdout!.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code}: ${err}`));
    });
  });
}

/** Runs a command to its end; its wall time from spawn to exit, and its stdout. */
export async function timed(
  cmd: string,
  args: string[],
  opts: { cwd?: string; maxBuffer?: number } = {},
): Promise<{ seconds: number; stdout: string }> {
  const start = performance.now();
  const r = await run(cmd, args, {
    maxBuffer: opts.maxBuffer ?? 64 * 1024 * 1024,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  return { seconds: (performance.now() - start) / 1000, stdout: r.stdout };
}

/**
 * An rsync daemon on 127.0.0.1 serving `root` read-write as module `mod` (uid/gid root: see
 * NOTES.md), its config written into `dir`. Stop it with stopChild.
 */
export async function startRsyncDaemon(
  dir: string,
  root: string,
): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const conf = join(dir, 'rsyncd.conf');
  await writeFile(conf, `uid = root\ngid = root\nuse chroot = no\n[mod]\npath = ${root}\nread only = no\n`);
  const child = await startChild(
    'rsync',
    ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'],
    null,
    { settleMs: 1000 },
  );
  return { child, port };
}

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
