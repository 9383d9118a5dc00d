/**
 * Runs the ferry command line from source in a child process (so tests never share a process with a
 * server or a mount they drive) and collects its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEV_ENTRY = fileURLToPath(new URL('../../cli/dev.ts', import.meta.url));

/**
 * A config folder of this test file's own: `ferry serve` on loopback makes its per-user secret in
 * $XDG_CONFIG_HOME/ferry/secret and clients read it there, so every server and client a test file
 * starts (they inherit this process's environment) share one, and the real user's config is never
 * written. Removed when the test process exits.
 */
export const TEST_CONFIG_HOME = mkdtempSync(join(tmpdir(), 'ferry-test-config-'));
process.env.XDG_CONFIG_HOME = TEST_CONFIG_HOME;
process.once('exit', () => rmSync(TEST_CONFIG_HOME, { recursive: true, force: true }));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  cwd?: string;
}

/** Starts `ferry ARGS` and returns the child; the caller must end it (by pid) in teardown. */
export function spawnFerry(args: string[], opts: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', DEV_ENTRY, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs `ferry ARGS` to completion (killed after timeoutMs, default 60 s). */
export function runFerry(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnFerry(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}
