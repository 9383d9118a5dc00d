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
import { REPORT_SCHEMA, type TransportBenchReport } from './report.js';
import { skippedRun, toResult, type RunResult } from './results.js';
import { runScenario } from './run.js';
import type { Scenario } from './scenario.js';
import { checkTargets } from './targets.js';
import { ensureUdx, loadUdx } from './udx-native.js';
import { WorkerPool, type ForkSpec } from './workers.js';

export { parseTransportOptions, type TransportBenchOptions, type RawTransportOptions } from './options.js';
export { renderTransportReport } from './render.js';
export { REPORT_SCHEMA, type TransportBenchReport } from './report.js';
export { summarizeProfileDir } from './cpu-profile.js';

/** A paced step that delivers less than this share of its offered rate is saturated. */
const SATURATED_SHARE = 0.9;
const SATURATED_STEPS = 2;
const POOL_CLOSE_TIMEOUT_MS = 3000;

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
  /** Load-curve groups: saturated steps in a row (two end the curve: one can be noise). */
  const saturated = new Map<string, number>();
  const plan = planRuns(o);
  io.say(
    `ferry bench transport: ${plan.length} runs planned (${o.impls.join(', ')}); Ctrl-C stops and prints what was measured`,
  );
  // Smoke runs reuse processes (starting one costs more than the run); full runs never do.
  const pool = o.smoke && io.cpuProfDir === undefined ? new WorkerPool(workerSpec()) : null;
  try {
    for (const [i, step] of plan.entries()) {
      if (io.signal.aborted) break;
      if (step.group !== null && (saturated.get(step.group) ?? 0) >= SATURATED_STEPS) continue;
      const result = await runOne(step, unavailable, io, pool);
      runs.push(result);
      io.say(progressLine(i + 1, plan.length, result));
      if (step.group !== null)
        saturated.set(step.group, isSaturated(result) ? (saturated.get(step.group) ?? 0) + 1 : 0);
    }
  } finally {
    await pool?.close(POOL_CLOSE_TIMEOUT_MS);
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
  pool: WorkerPool | null,
): Promise<RunResult> {
  const s = step.scenario;
  const reason = unavailable[s.impl];
  if (reason !== undefined) return skippedRun(s, 'skipped', reason);
  const outcome = await runScenario(s, {
    signal: io.signal,
    pool,
    smoke: pool !== null,
    fork: (sc, node) => workerSpec(profileArgs(sc, node, io.cpuProfDir)),
  });
  return toResult(s, outcome);
}

function isSaturated(r: RunResult): boolean {
  if (r.status !== 'ok' || r.offered_rate_msgs_per_s === null) return true;
  return r.msgs_per_s < SATURATED_SHARE * r.offered_rate_msgs_per_s;
}

/** The worker module beside this one: .ts from source (run with tsx), .js from dist/. */
function workerSpec(extraArgs: string[] = []): ForkSpec {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const execArgv = fromSource ? ['--import', import.meta.resolve('tsx')] : [];
  return {
    modulePath: path.join(path.dirname(here), fromSource ? 'worker.ts' : 'worker.js'),
    execArgv: [...execArgv, ...extraArgs],
  };
}

/** `--cpu-prof` flags naming the profile after the run and the node (sender or receiver). */
function profileArgs(s: Scenario, node: number, dir: string | undefined): string[] {
  if (dir === undefined) return [];
  const role = s.nodes[node]?.role ?? 'node';
  const variant = s.variant.replace(/[^a-z0-9]+/gi, '') || 'run';
  const name = `${s.impl}-${s.workload}-${s.sizeBytes}B-${variant}-node${node}-${role}.cpuprofile`;
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`];
}

function progressLine(i: number, total: number, r: RunResult): string {
  const what = `${r.workload} ${r.impl} ${r.size_bytes} B${r.variant ? ' ' + r.variant : ''}`;
  if (r.status !== 'ok') return `[${i}/${total}] ${what}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`;
  const rate = r.round_trips_per_s ?? r.msgs_per_s;
  return `[${i}/${total}] ${what}: ${Math.round(rate)} msg/s, ${(r.payload_bytes_per_s / 1e6).toFixed(1)} MB/s`;
}
