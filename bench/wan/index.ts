/**
 * `ferry bench wan`: the same random file copied by ferry, rsync and a plain TCP stream across an
 * emulated WAN path (rate, delay, loss, jitter) between two network namespaces, one path after the
 * other, all tools in the same run; the report gives each tool's share of the line rate and ferry's
 * ratio to each baseline. Needs root, /dev/net/tun, iproute2 and gcc (the emulator, emulator.c, is
 * compiled at run time); rsync for the rsync rows.
 *
 * Ctrl-C (the signal) kills the running copy at once; the path is torn down and what was measured
 * is returned, marked interrupted. See emulator.ts for how teardown is guaranteed.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomFile, sha256File } from '../lib/peers.js';
import {
  buildEmulator,
  checkPrerequisites,
  removeStaleNamespaces,
  SERVER_ADDR,
  WanLink,
} from './emulator.js';
import { lineRateBytesPerSec, transferTimeoutMs, type ToolName, type WanBenchOptions } from './options.js';
import {
  ratio,
  toolResult,
  WAN_REPORT_SCHEMA,
  type PathResult,
  type ToolResult,
  type WanBenchReport,
} from './report.js';
import { runCopy } from './tools.js';

export {
  parseWanOptions,
  PRESETS,
  PRESET_NAMES,
  TOOL_NAMES,
  type RawWanOptions,
  type WanBenchOptions,
  type WanPath,
} from './options.js';
export { renderWanReport, WAN_REPORT_SCHEMA, type WanBenchReport } from './report.js';
export { wanBuilder, rawWanOptions, type WanArgs } from './args.js';

const run = promisify(execFile);
const TEMP_PREFIX = 'ferry-bench-wan-';
/** Emulator lifetime beyond the copies' own time bounds (set-up, hashing, teardown). */
const EMULATOR_SLACK_S = 120;

export interface WanBenchIo {
  /** Progress and notices for people (stderr). */
  say(line: string): void;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
}

export async function runWanBench(o: WanBenchOptions, io: WanBenchIo): Promise<WanBenchReport> {
  const started = new Date();
  const missing = await checkPrerequisites();
  if (missing.length > 0) throw new Error(`ferry bench wan cannot run here: ${missing.join('; ')}`);
  const tools = await availableTools(o.tools, io);
  await removeStaleNamespaces(io.say);
  const bin = await buildEmulator(io.say);
  await removeStaleTempDirs(io.say);
  const dir = await mkdtemp(path.join(os.tmpdir(), `${TEMP_PREFIX}${process.pid}-`));
  // If the run dies without reaching `finally` (an uncaught error, process.exit), still no 2 x SIZE left behind.
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  const paths: PathResult[] = [];
  try {
    const src = path.join(dir, 'src.bin');
    io.say(`ferry bench wan: writing a ${o.sizeBytes} B random file`);
    await randomFile(src, o.sizeBytes);
    const srcHash = await sha256File(src);
    for (const [index, p] of o.paths.entries()) {
      if (io.signal.aborted) break;
      const timeoutMs = transferTimeoutMs(o, p);
      const result: PathResult = {
        path: p,
        line_rate_bytes_per_s: lineRateBytesPerSec(p),
        tcp_congestion_control: null,
        timeout_s: timeoutMs / 1000,
        tools: [],
        ratio_ferry_rsync: null,
        ratio_ferry_tcp: null,
        emulator: null,
      };
      paths.push(result);
      let link: WanLink | null = null;
      try {
        const maxSeconds = (tools.length * timeoutMs) / 1000 + EMULATOR_SLACK_S;
        link = await WanLink.open({ bin, path: p, seed: o.seed, maxSeconds, index });
        result.tcp_congestion_control = await link.sysctl(link.client, 'net.ipv4.tcp_congestion_control');
        await warmUp(link);
        const pathDir = path.join(dir, `path-${index}`);
        await mkdir(pathDir);
        for (const tool of o.tools) {
          if (io.signal.aborted) break;
          const skipped = !tools.includes(tool);
          const outcome = skipped
            ? {
                tool,
                status: 'failed' as const,
                seconds: null,
                identical: null,
                detail: {},
                error: 'not installed',
              }
            : await runCopy(tool, {
                link,
                src,
                srcHash,
                sizeBytes: o.sizeBytes,
                dir: pathDir,
                timeoutMs,
                signal: io.signal,
              });
          const r = toolResult(outcome, o.sizeBytes, p);
          result.tools.push(r);
          io.say(progressLine(p.name, r));
        }
        result.ratio_ferry_rsync = ratio(result.tools, 'ferry', 'rsync');
        result.ratio_ferry_tcp = ratio(result.tools, 'ferry', 'tcp');
      } catch (err) {
        result.error = err instanceof Error ? err.message : String(err);
        io.say(`ferry bench wan: ${p.name}: ${result.error}`);
      } finally {
        if (link) {
          result.emulator = await link.close();
          const log = link.emulatorLog();
          if (log) io.say(`ferry bench wan: emulator: ${log}`);
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    process.off('exit', removeDir);
  }
  return {
    schema: WAN_REPORT_SCHEMA,
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
    host: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? '',
      loadavg: os.loadavg().map((n) => Math.round(n * 100) / 100),
    },
    options: o,
    interrupted: io.signal.aborted,
    paths,
  };
}

/** Deletes `ferry-bench-wan-PID-*` temp folders of runs whose process no longer exists (SIGKILL). */
async function removeStaleTempDirs(say: (line: string) => void): Promise<void> {
  const names = await readdir(os.tmpdir()).catch(() => [] as string[]);
  for (const name of names) {
    const m = new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(name);
    if (!m || processExists(Number(m[1]))) continue;
    say(`ferry bench wan: deleting ${path.join(os.tmpdir(), name)} left by an earlier run`);
    await rm(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Tools whose programs exist here (rsync is a package; ferry and tcp are this repository). */
async function availableTools(tools: readonly ToolName[], io: WanBenchIo): Promise<ToolName[]> {
  const out: ToolName[] = [];
  for (const t of tools) {
    if (t === 'rsync') {
      const ok = await run('rsync', ['--version']).then(
        () => true,
        () => false,
      );
      if (!ok) {
        io.say('ferry bench wan: rsync is not installed (apt-get install -y rsync): its rows are skipped');
        continue;
      }
    }
    out.push(t);
  }
  return out;
}

/** One ping-like exchange so ARP/neighbour set-up is not inside the first timed copy. */
async function warmUp(link: WanLink): Promise<void> {
  // ss in the client namespace makes no traffic; a TCP connect attempt to a closed port does, and is
  // answered with a reset after one round trip. Node is always present.
  const code = `const s=require('net').connect(1,'${SERVER_ADDR}');s.on('error',()=>process.exit(0));s.on('connect',()=>process.exit(0));setTimeout(()=>process.exit(0),5000)`;
  const child = link.spawnIn(link.client, process.execPath, ['-e', code]);
  await new Promise<void>((r) => child.once('close', () => r()));
}

function progressLine(pathName: string, r: ToolResult): string {
  if (r.status !== 'ok' || r.bytes_per_s === null)
    return `ferry bench wan: ${pathName} ${r.tool}: ${r.status}${r.error ? ` (${r.error.split('\n')[0]})` : ''}`;
  return `ferry bench wan: ${pathName} ${r.tool}: ${r.seconds} s, ${(r.bytes_per_s / 1e6).toFixed(1)} MB/s, ${((r.line_share ?? 0) * 100).toFixed(1)} % of the line`;
}
