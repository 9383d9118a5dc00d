/**
 * The emulated path: two network namespaces, NAME-a (client, 10.203.0.1) and NAME-b (server,
 * 10.203.0.2), each holding one TUN device, joined by emulator.c running as a child of this process.
 * Needs root, /dev/net/tun, `ip` (iproute2) and gcc. The addresses exist only inside the two
 * namespaces: nothing here touches the machine's own interfaces.
 *
 * Teardown is layered, so that nothing outlives the benchmark:
 * - `close()` (called from `finally`, also on Ctrl-C) ends every process left in either namespace
 *   by pid (`ip netns pids`: only processes this run started can be there), stops the emulator by
 *   pid (its TUN devices are not persistent and vanish with it) and deletes both namespaces;
 * - a process 'exit' hook does the same synchronously if the run dies without reaching `finally`;
 * - the emulator exits by itself after its max lifetime and when this process dies (PDEATHSIG),
 *   and every command run inside a namespace gets PDEATHSIG=KILL through `setpriv`;
 * - `removeStaleNamespaces()` deletes `ferrywan-PID-*` namespaces whose PID no longer runs (a run
 *   killed with SIGKILL), before a new run starts.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { WanPath } from './options.js';

const run = promisify(execFile);

export const CLIENT_ADDR = '10.203.0.1';
export const SERVER_ADDR = '10.203.0.2';
const PREFIX_LEN = 24;
/**
 * Packets a TUN device holds before the emulator reads them. The default (500) overflows when the
 * emulator is briefly descheduled on a busy machine, which showed as 10 k hidden losses in 8 s of
 * iperf3; the emulator timestamps at read time, so this is an input buffer, not the path's queue.
 */
const TUN_TXQUEUELEN = 10_000;
export const NAMESPACE_PREFIX = 'ferrywan-';

/** Emulator counters per direction, as emulator.c prints them at exit. */
export interface DirectionCounters {
  packets_in: number;
  packets_out: number;
  lost: number;
  tail_drops: number;
  overflow: number;
  bytes_out: number;
  write_errors: number;
}
export interface EmulatorCounters {
  stopped_by: string;
  /**
   * Packets the kernel dropped at a TUN device because the emulator did not read them in time
   * (a CPU-starved emulator: losses that are not the path's), per side; null when unreadable.
   */
  device_tx_dropped?: { a: number | null; b: number | null };
  ring_bytes: number;
  a_to_b: DirectionCounters;
  b_to_a: DirectionCounters;
}

/** The emulator's key=value arguments for a path (pure; checked like emulator.c checks them). */
export function emulatorArgs(p: WanPath, seed: number, maxSeconds: number): string[] {
  const bad = (what: string): never => {
    throw new Error(`emulator: ${what} (path ${p.name})`);
  };
  if (!(p.rateMbit > 0 && Number.isFinite(p.rateMbit))) bad(`rate ${p.rateMbit} Mbit/s`);
  if (!(p.delayMs >= 0 && Number.isFinite(p.delayMs))) bad(`delay ${p.delayMs} ms`);
  if (!(p.jitterMs >= 0 && Number.isFinite(p.jitterMs))) bad(`jitter ${p.jitterMs} ms`);
  if (!(p.loss >= 0 && p.loss < 1)) bad(`loss ${p.loss}`);
  if (!(Number.isInteger(p.mtu) && p.mtu >= 576 && p.mtu <= 65535)) bad(`mtu ${p.mtu}`);
  if (!(Number.isInteger(p.queueBytes) && p.queueBytes >= p.mtu)) bad(`queue ${p.queueBytes} B`);
  if (!(maxSeconds > 0 && Number.isFinite(maxSeconds))) bad(`max lifetime ${maxSeconds} s`);
  if (!(Number.isInteger(seed) && seed >= 0)) bad(`seed ${seed}`);
  return [
    `rate_mbit=${p.rateMbit}`,
    `delay_us=${Math.round(p.delayMs * 1000)}`,
    `jitter_us=${Math.round(p.jitterMs * 1000)}`,
    `loss=${p.loss}`,
    `queue_bytes=${p.queueBytes}`,
    `mtu=${p.mtu}`,
    `seed=${seed}`,
    `max_s=${Math.ceil(maxSeconds)}`,
  ];
}

/** Parses the emulator's last stdout line; null when it printed none (killed). */
export function parseCounters(stdout: string): EmulatorCounters | null {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (line === undefined) return null;
  try {
    return JSON.parse(line) as EmulatorCounters;
  } catch {
    return null;
  }
}

/** The C source: beside this module from source, in the repository's bench/wan from dist/. */
function emulatorSource(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'emulator.c'), path.join(here, '../../../bench/wan/emulator.c')];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) throw new Error(`emulator.c not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Compiles emulator.c once per source version into a cache folder; returns the binary's path. */
export async function buildEmulator(say: (line: string) => void): Promise<string> {
  const src = emulatorSource();
  const text = await readFile(src);
  const tag = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const cacheRoot = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  const dir = path.join(cacheRoot, 'ferry', 'bench-wan');
  const bin = path.join(dir, `ferry-wanemu-${tag}`);
  if (existsSync(bin)) return bin;
  await mkdir(dir, { recursive: true });
  say(`ferry bench wan: compiling the emulator (gcc -O2) into ${dir}`);
  const tmp = `${bin}.${process.pid}.tmp`;
  await run('gcc', ['-O2', '-Wall', '-o', tmp, src]).catch((err: unknown) => {
    throw new Error(`gcc could not build ${src}: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  });
  await rename(tmp, bin);
  return bin;
}

/** What the benchmark needs from the machine; returns the reasons it cannot run (empty: it can). */
export async function checkPrerequisites(): Promise<string[]> {
  const out: string[] = [];
  if (process.getuid?.() !== 0) out.push('needs root (network namespaces and TUN devices)');
  if (!existsSync('/dev/net/tun')) out.push('needs /dev/net/tun');
  for (const [cmd, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['gcc', ['--version'], 'gcc'],
    ['ss', ['-V'], 'iproute2'],
  ] as const) {
    await run(cmd, [...args]).catch(() => out.push(`needs ${cmd} (apt-get install -y ${pkg})`));
  }
  return out;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes `ferrywan-PID-a|b` namespaces left by a run whose process no longer exists. */
export async function removeStaleNamespaces(say: (line: string) => void): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
  for (const line of stdout.split('\n')) {
    const m = new RegExp(`^(${NAMESPACE_PREFIX}(\\d+)-\\d+-[ab])\\b`).exec(line);
    if (!m || pidAlive(Number(m[2]))) continue;
    say(`ferry bench wan: deleting namespace ${m[1]} left by an earlier run (pid ${m[2]} is gone)`);
    await killNamespacePids(m[1]!);
    await run('ip', ['netns', 'del', m[1]!]).catch(() => undefined);
  }
}

async function namespacePids(ns: string): Promise<number[]> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

async function killNamespacePids(ns: string): Promise<void> {
  for (const pid of await namespacePids(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

let setprivChecked: boolean | null = null;
function hasSetprivPdeathsig(): boolean {
  if (setprivChecked === null) {
    try {
      setprivChecked = execFileSync('setpriv', ['--help'], { encoding: 'utf8' }).includes('--pdeathsig');
    } catch {
      setprivChecked = false;
    }
  }
  return setprivChecked;
}

/** A live emulated path. */
export class WanLink {
  readonly client: string;
  readonly server: string;
  private readonly emulator: ChildProcess;
  private emulatorOut = '';
  private emulatorErr = '';
  private closed: Promise<EmulatorCounters | null> | null = null;
  private readonly exitHook: () => void;

  private tunA = '';
  private tunB = '';

  private constructor(
    readonly name: string,
    emulator: ChildProcess,
  ) {
    this.client = `${name}-a`;
    this.server = `${name}-b`;
    this.emulator = emulator;
    emulator.stdout!.setEncoding('utf8').on('data', (d: string) => (this.emulatorOut += d));
    emulator.stderr!.setEncoding('utf8').on('data', (d: string) => (this.emulatorErr += d));
    // Last resort when the process ends without running `close()`: synchronous, best effort.
    this.exitHook = () => this.closeSync();
    process.on('exit', this.exitHook);
  }

  /**
   * Creates the namespaces, starts the emulator (its lifetime bounded by maxSeconds), moves one TUN
   * device into each namespace and configures addresses and MTU. On any failure, undoes it all.
   */
  static async open(opts: {
    bin: string;
    path: WanPath;
    seed: number;
    maxSeconds: number;
    index: number;
  }): Promise<WanLink> {
    const name = `${NAMESPACE_PREFIX}${process.pid}-${opts.index}`;
    // Interface names: at most 15 characters, unique per run and path.
    const tunA = `fw${process.pid % 1e7}x${opts.index % 100}a`;
    const tunB = `fw${process.pid % 1e7}x${opts.index % 100}b`;
    const args = emulatorArgs(opts.path, opts.seed, opts.maxSeconds);
    await run('ip', ['netns', 'add', `${name}-a`]);
    let link: WanLink | null = null;
    try {
      await run('ip', ['netns', 'add', `${name}-b`]);
      const emu = spawn(opts.bin, [tunA, tunB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      link = new WanLink(name, emu);
      link.tunA = tunA;
      link.tunB = tunB;
      await link.waitReady();
      const sides = [
        [link.client, tunA, CLIENT_ADDR],
        [link.server, tunB, SERVER_ADDR],
      ] as const;
      for (const [ns, dev, addr] of sides) {
        await run('ip', ['link', 'set', dev, 'netns', ns]);
        await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        await run('ip', ['-n', ns, 'addr', 'add', `${addr}/${PREFIX_LEN}`, 'dev', dev]);
        await run('ip', [
          '-n',
          ns,
          'link',
          'set',
          dev,
          'mtu',
          String(opts.path.mtu),
          'txqueuelen',
          String(TUN_TXQUEUELEN),
          'up',
        ]);
      }
      return link;
    } catch (err) {
      if (link) await link.close();
      else {
        await run('ip', ['netns', 'del', `${name}-a`]).catch(() => undefined);
        await run('ip', ['netns', 'del', `${name}-b`]).catch(() => undefined);
      }
      throw err;
    }
  }

  private waitReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`the emulator did not start: ${this.emulatorErr}`)),
        10_000,
      );
      const onData = (): void => {
        if (this.emulatorOut.includes('ready\n')) done(null);
      };
      const onExit = (code: number | null): void =>
        done(new Error(`the emulator exited (${code}) before it was ready: ${this.emulatorErr.trim()}`));
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        this.emulator.stdout!.off('data', onData);
        this.emulator.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      this.emulator.stdout!.on('data', onData);
      this.emulator.once('exit', onExit);
      onData();
    });
  }

  /**
   * Spawns `cmd` inside a namespace. `ip netns exec` and `setpriv` both exec, so the child's pid is
   * the command's own; PDEATHSIG=KILL ends it if this process dies.
   */
  spawnIn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const wrap = hasSetprivPdeathsig() ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
    return spawn('ip', ['netns', 'exec', ns, ...wrap, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
    });
  }

  /** `sysctl -n KEY` read inside a namespace (null when unreadable). */
  async sysctl(ns: string, key: string): Promise<string | null> {
    return run('ip', ['netns', 'exec', ns, 'sysctl', '-n', key]).then(
      (r) => r.stdout.trim(),
      () => null,
    );
  }

  /** True once something listens on TCP `port` inside the namespace. */
  async listening(ns: string, port: number): Promise<boolean> {
    const r = await run('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`]).catch(() => ({
      stdout: '',
    }));
    return r.stdout.trim() !== '';
  }

  /** Ends every process in the namespaces, stops the emulator, deletes the namespaces. Idempotent. */
  close(): Promise<EmulatorCounters | null> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<EmulatorCounters | null> {
    const dropped = {
      a: await this.txDropped(this.client, this.tunA),
      b: await this.txDropped(this.server, this.tunB),
    };
    await killNamespacePids(this.client);
    await killNamespacePids(this.server);
    const emu = this.emulator;
    if (emu.exitCode === null && emu.signalCode === null) {
      const exited = new Promise<void>((r) => emu.once('exit', () => r()));
      emu.kill('SIGTERM');
      const force = setTimeout(() => emu.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(force);
    }
    await run('ip', ['netns', 'del', this.client]).catch(() => undefined);
    await run('ip', ['netns', 'del', this.server]).catch(() => undefined);
    process.off('exit', this.exitHook);
    const counters = parseCounters(this.emulatorOut);
    return counters === null ? null : { ...counters, device_tx_dropped: dropped };
  }

  /** The TX dropped counter of a TUN device (`ip -s -j link`), null when unreadable. */
  private async txDropped(ns: string, dev: string): Promise<number | null> {
    if (dev === '') return null;
    try {
      const { stdout } = await run('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', dev]);
      const j = JSON.parse(stdout) as { stats64?: { tx?: { dropped?: number } } }[];
      return j[0]?.stats64?.tx?.dropped ?? null;
    } catch {
      return null;
    }
  }

  private closeSync(): void {
    for (const ns of [this.client, this.server]) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
        for (const p of pids.split('\n').map(Number))
          if (p > 0 && p !== process.pid) process.kill(p, 'SIGKILL');
      } catch {
        // namespace gone or process gone
      }
    }
    try {
      this.emulator.kill('SIGKILL');
    } catch {
      // gone
    }
    for (const ns of [this.client, this.server]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already deleted
      }
    }
  }

  emulatorLog(): string {
    return this.emulatorErr.trim();
  }
}
