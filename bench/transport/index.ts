/**
 * `ferry bench transport`: runs every planned scenario (plan.ts) one after the other, each in its
 * own processes (run.ts), and gathers the figures and the issue's target ratios into one report
 * whose JSON form is documented in docs/benchmarks.md.
 *
 * Peers that cannot run here are reported, not fatal: when udx-native cannot be installed or
 * loaded, its rows say why. Ctrl-C (the signal) stops the current run at once; what was measured so
 * far is still returned, marked interrupted.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImplName } from './links/link.js';
import type { TransportBenchOptions } from './options.js';
import { planRuns, type PlannedRun } from './plan.js';
import { skippedRun, toResult, type RunResult } from './results.js';
import { runScenario } from './run.js';
import type { Scenario } from './scenario.js';
import { checkTargets, type TargetCheck } from './targets.js';
import { ensureUdx, loadUdx } from './udx-native.js';
import type { ForkSpec } from './workers.js';

export { parseTransportOptions, type TransportBenchOptions, type RawTransportOptions } from './options.js';
export { renderTransportReport } from './render.js';

export const REPORT_SCHEMA = 'ferry.bench.transport/1';
/** A paced step that delivers less than this share of its offered rate is saturated. */
const SATURATED_SHARE = 0.9;

export interface TransportBenchReport {
  schema: typeof REPORT_SCHEMA;
  started_at: string;
  finished_at: string;
  host: { node: string; platform: string; cpus: number; cpu_model: string };
  options: TransportBenchOptions;
  /** Implementations that could not run at all, with the reason. */
  unavailable: Partial<Record<ImplName, string>>;
  interrupted: boolean;
  runs: RunResult[];
  targets: TargetCheck[];
}

export interface TransportBenchIo {
  /** Progress and notices for people (stderr). */
  say(line: string): void;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** Adds `--cpu-prof` to every worker, writing one profile per process into this folder. */
  cpuProfDir?: string;
}

export async function runTransportBench(
  o: TransportBenchOptions,
  io: TransportBenchIo,
): Promise<TransportBenchReport> {
  const started = new Date();
  const unavailable = await checkPeers(o, io);
  const runs: RunResult[] = [];
  const saturated = new Set<string>();
  const plan = planRuns(o);
  for (const [i, step] of plan.entries()) {
    if (io.signal.aborted) break;
    if (step.group !== null && saturated.has(step.group)) continue;
    const result = await runOne(step, unavailable, io);
    runs.push(result);
    io.say(progressLine(i + 1, plan.length, result));
    if (step.group !== null && isSaturated(result)) saturated.add(step.group);
  }
  return {
    schema: REPORT_SCHEMA,
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
    host: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? '',
    },
    options: o,
    unavailable,
    interrupted: io.signal.aborted,
    runs,
    targets: checkTargets(runs),
  };
}

async function checkPeers(
  o: TransportBenchOptions,
  io: TransportBenchIo,
): Promise<Partial<Record<ImplName, string>>> {
  const out: Partial<Record<ImplName, string>> = {};
  if (o.impls.includes('udx')) {
    const reason = (await ensureUdx(io.say)) ?? loadReason();
    if (reason !== null) {
      out.udx = reason;
      io.say(`udx-native is not available, its rows are skipped: ${reason}`);
    }
  }
  return out;
}

function loadReason(): string | null {
  const loaded = loadUdx();
  return typeof loaded === 'string' ? loaded : null;
}

async function runOne(
  step: PlannedRun,
  unavailable: Partial<Record<ImplName, string>>,
  io: TransportBenchIo,
): Promise<RunResult> {
  const s = step.scenario;
  const reason = unavailable[s.impl];
  if (reason !== undefined) return skippedRun(s, 'skipped', reason);
  const outcome = await runScenario(s, {
    signal: io.signal,
    fork: (sc, node) => forkSpec(sc, node, io.cpuProfDir),
  });
  return toResult(s, outcome);
}

function isSaturated(r: RunResult): boolean {
  if (r.status !== 'ok' || r.offered_rate_msgs_per_s === null) return true;
  return r.msgs_per_s < SATURATED_SHARE * r.offered_rate_msgs_per_s;
}

/** The worker module beside this one: .ts from source (run with tsx), .js from dist/. */
function forkSpec(s: Scenario, node: number, cpuProfDir: string | undefined): ForkSpec {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const execArgv = fromSource ? ['--import', import.meta.resolve('tsx')] : [];
  if (cpuProfDir !== undefined) {
    const role = s.nodes[node]?.role ?? 'node';
    const name = `${s.impl}-${s.workload}-${s.sizeBytes}B-${s.variant.replace(/[^a-z0-9]+/gi, '') || 'run'}-node${node}-${role}.cpuprofile`;
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${name}`);
  }
  return { modulePath: path.join(path.dirname(here), fromSource ? 'worker.ts' : 'worker.js'), execArgv };
}

function progressLine(i: number, total: number, r: RunResult): string {
  const what = `${r.workload} ${r.impl} ${r.size_bytes} B${r.variant ? ' ' + r.variant : ''}`;
  if (r.status !== 'ok') return `[${i}/${total}] ${what}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`;
  const rate = r.round_trips_per_s ?? r.msgs_per_s;
  return `[${i}/${total}] ${what}: ${Math.round(rate)} msg/s, ${(r.payload_bytes_per_s / 1e6).toFixed(1)} MB/s`;
}
