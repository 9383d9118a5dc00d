/**
 * The two NBD servers `ferry bench nbd` drives fio against, each in processes of its own on loopback
 * TCP, started here and stopped by pid:
 *
 * - ferry: `ferry serve --blockdev bench=memory:SIZE` and, in front of it, `ferry nbd
 *   ferry://127.0.0.1:PORT/bench --listen 127.0.0.1:0` (the path a user takes to a remote disk: the
 *   NBD server is a ferry client of a ferry server). Both on loopback with `--insecure` (no secret;
 *   packets are still sealed, as by default);
 * - nbdkit: `nbdkit memory SIZE` on 127.0.0.1, the C reference a user would pick instead.
 *
 * Why separate processes: that is how both are deployed, and it keeps this process (which only
 * spawns fio and reads its JSON) out of the measurement.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stopChild } from '../lib/peers.js';

/** How long a server may take to start listening. */
const START_TIMEOUT_MS = 30_000;
/** Between connection attempts while waiting for nbdkit's port. */
const PORT_POLL_MS = 100;
/** How long stopping a server may take before it is killed. */
const STOP_GRACE_MS = 10_000;

export type TargetName = 'ferry' | 'nbdkit';

/** A running NBD server: where fio reaches it, and how to stop it (and whatever it needed). */
export interface NbdTarget {
  name: TargetName;
  /** `nbd://127.0.0.1:PORT/` */
  uri: string;
  stop(): Promise<void>;
}

/** Whether `tool` runs here (`tool --version` exits 0). */
export function hasTool(tool: string): boolean {
  const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** The repository root and the node arguments that run the CLI (from source or from dist/). */
function cliArgs(): string[] {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const root = path.resolve(path.dirname(here), fromSource ? '../..' : '../../..');
  return fromSource
    ? ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/dev.ts')]
    : [path.join(root, 'bin/ferry.js')];
}

/** Resolves with the first match of `re` in the child's `stream`; rejects when it exits first. */
function waitOutput(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  re: RegExp,
  signal: AbortSignal,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const src = child[stream];
    if (!src) {
      reject(new Error(`no ${stream} to read`));
      return;
    }
    const timer = setTimeout(
      () => done(new Error(`no "${re.source}" within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    const onData = (d: Buffer): void => {
      text += d.toString('utf8');
      const m = re.exec(text);
      if (m) done(null, m);
    };
    const onExit = (): void => done(new Error(`exited before it was ready: ${text.trim().slice(-300)}`));
    const onAbort = (): void => done(new Error('interrupted'));
    const done = (err: Error | null, m?: RegExpExecArray): void => {
      clearTimeout(timer);
      src.off('data', onData);
      child.off('exit', onExit);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(m!);
    };
    src.on('data', onData);
    child.once('exit', onExit);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Stops every child given, in reverse order (the NBD front before the server behind it). */
async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  for (const c of [...children].reverse()) await stopChild(c, STOP_GRACE_MS);
}

/** `ferry serve` with a memory device and `ferry nbd` exporting it over TCP, both on loopback. */
export async function startFerry(sizeBytes: number, signal: AbortSignal): Promise<NbdTarget> {
  const cli = cliArgs();
  const children: ChildProcess[] = [];
  const spawnCli = (args: string[]): ChildProcess => {
    const c = spawn(process.execPath, [...cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    return c;
  };
  try {
    const server = spawnCli([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--blockdev',
      `bench=memory:${sizeBytes}`,
      '--insecure',
      '--no-discovery',
    ]);
    const listening = await waitOutput(server, 'stderr', /listening on 127\.0\.0\.1:(\d+)/, signal);
    const nbd = spawnCli([
      'nbd',
      `ferry://127.0.0.1:${listening[1]}/bench`,
      '--listen',
      '127.0.0.1:0',
      '--insecure',
    ]);
    const uri = await waitOutput(nbd, 'stdout', /uri: (nbd:\/\/\S+)/, signal);
    return { name: 'ferry', uri: uri[1]!, stop: () => stopAll(children) };
  } catch (err) {
    await stopAll(children);
    throw err;
  }
}

/** A free TCP port on loopback (asked of the kernel, then released for nbdkit to bind). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      sock.destroy();
      resolve(false);
    });
    sock.connect(port, '127.0.0.1');
  });
}

/** `nbdkit memory SIZE` on loopback TCP, in the foreground (so its pid is the server's). */
export async function startNbdkit(sizeBytes: number, signal: AbortSignal): Promise<NbdTarget> {
  const port = await freePort();
  const child = spawn(
    'nbdkit',
    [
      '--foreground',
      '--exit-with-parent',
      '--ipaddr',
      '127.0.0.1',
      '--port',
      String(port),
      'memory',
      String(sizeBytes),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`nbdkit exited: ${stderr.trim().slice(-300)}`);
      if (signal.aborted) throw new Error('interrupted');
      if (Date.now() > deadline)
        throw new Error(`nbdkit did not listen on port ${port} within ${START_TIMEOUT_MS} ms`);
      await sleep(PORT_POLL_MS);
    }
  } catch (err) {
    await stopChild(child, STOP_GRACE_MS);
    throw err;
  }
  return { name: 'nbdkit', uri: `nbd://127.0.0.1:${port}/`, stop: () => stopChild(child, STOP_GRACE_MS) };
}
