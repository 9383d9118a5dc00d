/**
 * Runs one scenario: forks one process per node, walks them through the phases of protocol.ts, and
 * collects every node's report. Bounded everywhere: each phase has a deadline, the receivers'
 * drain ends when their counts stop moving or after DRAIN_MAX_MS, and every process this run
 * started is ended by its pid before the function returns, whatever happened (an error, a timeout,
 * an abort from Ctrl-C). On abort the run stops sending at once and still reports what it measured.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ImpairProxy } from '../../src/index.js';
import type { PeerEndpoint } from './links/link.js';
import type { NodeReport } from './protocol.js';
import type { Scenario } from './scenario.js';
import { WorkerProcess, type ForkSpec, type WorkerPool } from './workers.js';

/** Starting a process (tsx compiles on the fly), binding, connecting: generous on a busy machine. */
const SETUP_TIMEOUT_MS = 30_000;
/** Beyond the duration: the last batch and its back-pressure wait. */
const SEND_GRACE_MS = 15_000;
/** Receivers are polled this often while they drain (smoke runs: faster). */
const DRAIN_POLL_MS = 100;
const SMOKE_DRAIN_POLL_MS = 50;
/** Polls in a row with no new message that end the drain: longer than a minimum retransmission timeout. */
const DRAIN_QUIET_POLLS = 3;
const DRAIN_MAX_MS = 5_000;
/** Smoke runs check that things run, not how fast: a transport with deep queues need not empty them. */
const SMOKE_DRAIN_MAX_MS = 1_000;
const REPORT_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 3_000;
const HOST = '127.0.0.1';
/** FERRY_BENCH_TRACE=1 prints when each phase of each run ends (stderr), to see where time goes. */
const TRACE = process.env.FERRY_BENCH_TRACE === '1';

function trace(s: Scenario, phase: string, since: number): void {
  if (TRACE)
    process.stderr.write(
      `trace: ${s.workload} ${s.impl} ${s.sizeBytes} B ${s.variant}: ${phase} at ${Date.now() - since} ms\n`,
    );
}

export interface RunEnv {
  /** How to start the process of one node of a scenario. */
  fork: (s: Scenario, node: number) => ForkSpec;
  signal: AbortSignal;
  /** Reuse processes from here (and give them back after a clean run) instead of forking per run. */
  pool: WorkerPool | null;
  /** Smoke runs: drain with shorter polls. */
  smoke: boolean;
}

export interface RunOutcome {
  reports: NodeReport[];
  /** Why the run failed, or null. A failed run may still have reports from some nodes. */
  error: string | null;
  aborted: boolean;
}

export async function runScenario(s: Scenario, env: RunEnv): Promise<RunOutcome> {
  const labels = s.nodes.map((n) => `${s.impl} node ${n.node} (${n.role})`);
  const workers = env.pool
    ? env.pool.take(labels)
    : labels.map((label, node) => new WorkerProcess(label, env.fork(s, node)));
  const outcome: RunOutcome = { reports: [], error: null, aborted: false };
  const proxies: ImpairProxy[] = [];
  try {
    await drive(s, workers, env, proxies);
  } catch (err) {
    outcome.error = err instanceof Error ? err.message : String(err);
  }
  outcome.aborted = env.signal.aborted;
  const stay = env.pool !== null && outcome.error === null;
  try {
    outcome.reports = await collect(workers, stay);
  } catch (err) {
    outcome.error ??= err instanceof Error ? err.message : String(err);
  }
  for (const p of proxies) await p.close();
  if (stay && outcome.error === null) {
    env.pool!.giveBack(workers);
    return outcome;
  }
  await Promise.race([Promise.all(workers.map((w) => w.exited)), sleep(EXIT_TIMEOUT_MS)]);
  for (const w of workers) w.kill();
  return outcome;
}

async function drive(
  s: Scenario,
  workers: WorkerProcess[],
  env: RunEnv,
  proxies: ImpairProxy[],
): Promise<void> {
  const signal = env.signal;
  const deadlineMs = 2 * SETUP_TIMEOUT_MS + s.durationMs + SEND_GRACE_MS + DRAIN_MAX_MS + REPORT_TIMEOUT_MS;
  const maxMessageBytes = Math.max(...s.nodes.map((n) => n.sizeBytes));
  workers.forEach((w, i) =>
    w.send({
      t: 'init',
      impl: s.impl,
      plan: s.nodes[i]!,
      link: { host: HOST, packetSizeBytes: s.packetSizeBytes, maxMessageBytes, impair: s.impair[i] ?? '' },
      deadlineMs,
    }),
  );
  const t0 = Date.now();
  const ports = await Promise.all(workers.map((w) => w.next('listening', SETUP_TIMEOUT_MS)));
  trace(s, 'listening', t0);
  const endpoints: PeerEndpoint[] = ports.map((p, node) => ({ node, host: HOST, port: p.port }));
  const viaProxy = s.proxyImpair === '' ? null : await impairProxy(s.proxyImpair, endpoints[0]!, proxies);
  workers.forEach((w, i) => w.send({ t: 'connect', peers: peersOf(i, endpoints, viaProxy) }));
  await Promise.all(workers.map((w) => w.next('connected', SETUP_TIMEOUT_MS)));
  trace(s, 'connected', t0);
  if (signal.aborted) return;
  const startNs = process.hrtime.bigint().toString();
  const startedMs = Date.now();
  workers.forEach((w) => w.send({ t: 'start', startNs }));
  await untilAborted(Promise.all(workers.map((w) => w.next('sent', s.durationMs + SEND_GRACE_MS))), signal);
  trace(s, 'sent', t0);
  if (!signal.aborted) {
    // A fixed-amount run is over when the amount arrived (the sender's queue may hold much of it
    // when the sender is done): it drains for the rest of its duration, not just DRAIN_MAX_MS.
    const drainMaxMs = env.smoke ? SMOKE_DRAIN_MAX_MS : DRAIN_MAX_MS;
    await drain(
      workers,
      signal,
      env.smoke ? SMOKE_DRAIN_POLL_MS : DRAIN_POLL_MS,
      s.streamBytes === null ? drainMaxMs : Math.max(drainMaxMs, s.durationMs - (Date.now() - startedMs)),
      s.streamBytes ?? Infinity,
    );
  }
  trace(s, 'drained', t0);
}

/**
 * A UDP impairment proxy in front of node 0 (the parent runs it; it idles otherwise), impairing what
 * the other nodes send to node 0, not node 0's answers. Resolves with the port to send to instead.
 */
async function impairProxy(
  impairment: string,
  target: PeerEndpoint,
  proxies: ImpairProxy[],
): Promise<number> {
  const proxy = await ImpairProxy.create({
    listen: `${HOST}:0`,
    to: `${target.host}:${target.port}`,
    impairment,
    direction: 'up',
  });
  proxies.push(proxy);
  return proxy.listenAddress.port;
}

/** What node `i` is told about the others: through the proxy, node 0 is the proxy's port. */
function peersOf(i: number, endpoints: readonly PeerEndpoint[], proxyPort: number | null): PeerEndpoint[] {
  const others = endpoints.filter((e) => e.node !== i);
  if (proxyPort === null) return others;
  if (i === 0) return others.map((e) => ({ ...e, proxied: true }));
  return others.map((e) => (e.node === 0 ? { ...e, port: proxyPort } : e));
}

/**
 * Waits while the receivers still take in messages sent before the senders stopped: until their
 * counts stop moving, `maxMs` passed, or `targetBytes` arrived.
 */
async function drain(
  workers: WorkerProcess[],
  signal: AbortSignal,
  pollMs: number,
  maxMs: number,
  targetBytes: number,
): Promise<void> {
  const started = Date.now();
  let last = -1;
  let quiet = 0;
  while (quiet < DRAIN_QUIET_POLLS && last < targetBytes && Date.now() - started < maxMs && !signal.aborted) {
    workers.forEach((w) => w.send({ t: 'poll' }));
    const progress = await Promise.all(workers.map((w) => w.next('progress', REPORT_TIMEOUT_MS)));
    const total = progress.reduce((sum, p) => sum + p.payloadBytes, 0);
    quiet = total === last ? quiet + 1 : 0;
    last = total;
    if (quiet < DRAIN_QUIET_POLLS) await sleep(pollMs);
  }
}

async function collect(workers: WorkerProcess[], stay: boolean): Promise<NodeReport[]> {
  workers.forEach((w) => w.send({ t: 'finish', stay }));
  const answers = await Promise.allSettled(workers.map((w) => w.next('report', REPORT_TIMEOUT_MS)));
  const reports: NodeReport[] = [];
  let firstError: unknown = null;
  for (const a of answers) {
    if (a.status === 'fulfilled') reports.push(a.value.report);
    else firstError ??= a.reason;
  }
  if (firstError !== null) throw firstError;
  return reports;
}

/** Resolves with `p`, or early (with nothing) on abort; the abort listener is removed either way. */
async function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | void> {
  if (signal.aborted) return;
  let onAbort: () => void = () => {};
  const aborted = new Promise<void>((resolve) => (onAbort = resolve));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([p, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
