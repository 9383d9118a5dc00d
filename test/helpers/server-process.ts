/**
 * Starts `ferry serve` (from source) in a child process for integration tests, and waits until it
 * listens; stops it by pid (SIGTERM, or SIGKILL for crash tests). Also a helper child that uploads
 * through the library and reports each acknowledged block, so a test can kill it at a known point.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnFerry, type CliOptions } from './cli.js';

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  /** Everything the server printed on stdout (one line per transfer). */
  log(): string;
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Runs `ferry serve ARGS --listen 127.0.0.1:PORT` (PORT 0 unless given in args) and waits for it to listen. */
export function startServe(args: string[], opts: CliOptions & { port?: number } = {}): Promise<ServeProcess> {
  const listen = args.includes('--listen') ? [] : ['--listen', `127.0.0.1:${opts.port ?? 0}`];
  const child = spawnFerry(['serve', ...listen, '--no-discovery', ...args], opts);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ferry serve did not start within 30 s: ${err}`));
    }, 30_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /listening on (?:\[[^\]]+\]|[^:\s]+):(\d+)/.exec(err);
      if (m && timer) {
        clearTimeout(timer);
        resolve({
          child,
          port: Number(m[1]),
          log: () => out,
          stderr: () => err,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            return exited;
          },
          kill: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ferry serve exited with ${code} before listening: ${err}`));
    });
  });
}

const UPLOAD_CHILD = fileURLToPath(new URL('./server-upload-child.ts', import.meta.url));

/** Starts the upload child: it prints `acked N` after each acknowledged block, then `done JSON`. */
export function spawnUploadChild(port: number, file: string, name: string, blockBytes: number): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', UPLOAD_CHILD, String(port), file, name, String(blockBytes)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}
