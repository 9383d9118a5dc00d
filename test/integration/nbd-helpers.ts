/**
 * Plumbing for the NBD integration tests: runs `ferry nbd` as a child process and external NBD
 * clients (nbdinfo, nbdcopy, qemu-img, fio) as child processes, each ended by pid in teardown, in a
 * temp folder that teardown removes. Not a test file itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { spawnFerry } from '../helpers/cli.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A temp folder removed in teardown. */
export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-nbd-it-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Ends a child by pid (SIGKILL) unless it has exited, and waits for it. */
async function reap(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await exited;
}

/** Runs a program to completion (killed after timeoutMs); the child is reaped in teardown. */
export function run(
  t: ExecutionContext,
  cmd: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<RunResult> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => reap(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface FerryNbd {
  child: ChildProcess;
  uri: string;
  address: string;
  output(): string;
  /** Resolves with the exit code and signal once the child has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `ferry nbd ARGS` and waits for the line that gives its NBD URI. */
export async function startFerryNbd(
  t: ExecutionContext,
  args: string[],
  timeoutMs = 60_000,
): Promise<FerryNbd> {
  const child = spawnFerry(['nbd', ...args]);
  t.teardown(() => reap(child));
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const started = await new Promise<{ uri: string; address: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ferry nbd did not start: ${out} ${err}`)), timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const uri = /^uri: (\S+)$/m.exec(out);
      const address = / on (\S+)\n/.exec(out);
      if (uri && address) {
        clearTimeout(timer);
        resolve({ uri: uri[1]!, address: address[1]! });
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`ferry nbd exited (${code}) before listening: ${out} ${err}`));
    });
  });
  return { child, ...started, output: () => out + err, exited };
}
