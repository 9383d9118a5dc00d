/**
 * Real FUSE mounts for integration tests, served by a CHILD process (`ferry mount` or
 * fuse-serve.ts) and driven from the test's own process or from tools it starts (cat, cp, fio).
 *
 * Why: the process that serves a mount must never touch it (deadlock), so the ava worker never
 * serves. Every mount is torn down in t.teardown even when the test fails: the child is stopped by
 * pid (SIGTERM, then SIGKILL), a mount left behind is detached with `fusermount -uz`, and the temp
 * folder is removed only once nothing is mounted on it.
 */
import type { ExecutionContext } from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, spawnFerry } from './cli.js';

export const FUSE_SERVE_ENTRY = fileURLToPath(new URL('./fuse-serve.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export type JsonLine = Record<string, unknown>;

export interface ServedMount {
  /** Absolute mountpoint. */
  mountpoint: string;
  /** A scratch folder beside the mountpoint (not mounted), removed in teardown. */
  scratch: string;
  child: ChildProcess;
  /** JSON lines the child printed on stdout so far. */
  lines: JsonLine[];
  stderr: () => string;
  /** Waits for the next JSON line with `event` (after those already seen). */
  nextEvent(event: string, timeoutMs?: number): Promise<JsonLine>;
  /** Resolves with the child's exit code (null if killed by a signal) once it has exited. */
  exited: Promise<number | null>;
}

/** A fresh folder under os.tmpdir() with `mnt` and `scratch` inside; removed in teardown. */
async function makeDirs(prefix: string): Promise<{ root: string; mountpoint: string; scratch: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), `ferry-${prefix}-`));
  const mountpoint = path.join(root, 'mnt');
  const scratch = path.join(root, 'scratch');
  await mkdir(mountpoint);
  await mkdir(scratch);
  return { root, mountpoint, scratch };
}

/**
 * Starts `ferry mount ARGS --json MOUNTPOINT` and waits until it reports the mount. `args` may be a
 * function of the scratch folder (e.g. to serve it with --root).
 */
export function mountFerry(
  t: ExecutionContext,
  args: string[] | ((scratch: string) => string[]),
  prefix = 'fuse',
): Promise<ServedMount> {
  return serve(t, prefix, (mnt, scratch) =>
    spawnFerry(['mount', ...(typeof args === 'function' ? args(scratch) : args), '--json', mnt]),
  );
}

/** Starts test/helpers/fuse-serve.ts (a FaultyFlatFs over memory) with these settings. */
export function mountFaulty(
  t: ExecutionContext,
  config: string,
  prefix = 'fuse-faulty',
): Promise<ServedMount> {
  return serve(t, prefix, (mnt) =>
    spawn(process.execPath, ['--import', 'tsx', FUSE_SERVE_ENTRY, mnt, config], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

async function serve(
  t: ExecutionContext,
  prefix: string,
  start: (mountpoint: string, scratch: string) => ChildProcess,
): Promise<ServedMount> {
  const dirs = await makeDirs(prefix);
  const child = start(dirs.mountpoint, dirs.scratch);
  const served = track(child, dirs);
  t.teardown(() => cleanup(served, dirs.root));
  await served.nextEvent('mounted', READY_TIMEOUT_MS).catch((err: unknown) => {
    throw new Error(`mount did not come up: ${String(err)}; stderr: ${served.stderr()}`);
  });
  return served;
}

function track(child: ChildProcess, dirs: { mountpoint: string; scratch: string }): ServedMount {
  const lines: JsonLine[] = [];
  let stderr = '';
  let partial = '';
  let seen = 0;
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.startsWith('{')) lines.push(JSON.parse(line) as JsonLine);
    }
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
      for (const w of waiters) w();
    });
  });
  const nextEvent = (event: string, timeoutMs = READY_TIMEOUT_MS): Promise<JsonLine> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        while (seen < lines.length) {
          const line = lines[seen++]!;
          if (line.event === event) return finish(null, line);
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          finish(new Error(`child exited (${child.exitCode ?? child.signalCode}) before "${event}"`));
        }
      };
      const timer = setTimeout(() => finish(new Error(`no "${event}" within ${timeoutMs} ms`)), timeoutMs);
      const finish = (err: Error | null, line?: JsonLine): void => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) reject(err);
        else resolve(line!);
      };
      waiters.add(check);
      check();
    });
  return { ...dirs, child, lines, stderr: () => stderr, nextEvent, exited };
}

/** Stops the child by pid, detaches whatever is still mounted, then removes the folder. */
async function cleanup(m: ServedMount, root: string): Promise<void> {
  if (m.child.exitCode === null && m.child.signalCode === null) {
    m.child.kill('SIGTERM');
    const stopped = await Promise.race([m.exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!stopped) {
      m.child.kill('SIGKILL');
      await m.exited;
    }
  }
  if (await isMounted(m.mountpoint)) await run('fusermount', ['-uz', m.mountpoint]).catch(() => undefined);
  if (!(await isMounted(m.mountpoint))) await rm(root, { recursive: true, force: true });
}

/** True when /proc/mounts lists `mountpoint` (never touches the mount itself). */
export async function isMounted(mountpoint: string): Promise<boolean> {
  return (await mountLine(mountpoint)) !== null;
}

/** The /proc/mounts line of `mountpoint`, or null. */
export async function mountLine(mountpoint: string): Promise<string | null> {
  const text = await readFile('/proc/mounts', 'utf8');
  return text.split('\n').find((l) => l.split(' ')[1] === mountpoint) ?? null;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after timeoutMs); never throws for a non-zero exit. */
export function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Asks a `ferry mount` child for its op counters (SIGUSR2) and returns them. */
export async function opStats(m: ServedMount): Promise<Record<string, number>> {
  const next = m.nextEvent('stats', 10_000);
  m.child.kill('SIGUSR2');
  return (await next).ops as Record<string, number>;
}

export interface ServedServer {
  child: ChildProcess;
  /** ferry://127.0.0.1:PORT */
  url: string;
  exited: Promise<number | null>;
}

/** Starts `ferry serve ARGS --listen 127.0.0.1:0` and waits for the port it listens on. */
export async function startFerryServer(t: ExecutionContext, args: string[]): Promise<ServedServer> {
  const child = spawnFerry(['serve', ...args, '--listen', '127.0.0.1:0']);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!stopped) child.kill('SIGKILL');
  });
  // The "listening on" line goes to stderr (stdout is kept for data); accept it on either.
  let text = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ferry serve did not start: ${text}`)), READY_TIMEOUT_MS);
    const onData = (d: string): void => {
      text += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    child.on('exit', (code) => reject(new Error(`ferry serve exited (${code}): ${text}`)));
  });
  return { child, url: `ferry://127.0.0.1:${port}`, exited };
}
