/**
 * `ferry bench transport` end to end: the smoke run (every implementation and workload once, on
 * loopback, in separate processes) must run and report sane numbers. These are consistency checks
 * on the report (rates times seconds give the counts, percentiles are ordered, every process
 * reported), never speed targets: benchmarks measure speed, tests do not.
 */
import test from 'ava';
import { runFerry, spawnFerry } from '../helpers/cli.js';

interface Latency {
  count: number;
  min_ns: number;
  max_ns: number;
  percentile: Record<string, number>;
}

interface Run {
  workload: string;
  impl: string;
  variant: string;
  nodes: number;
  status: string;
  reason: string | null;
  elapsed_s: number;
  messages_sent: number;
  messages_received: number;
  payload_bytes_received: number;
  msgs_per_s: number;
  payload_bytes_per_s: number;
  packets_received: number | null;
  packets_per_s: number | null;
  round_trips: number | null;
  latency: { delivery: Latency; round_trip: Latency | null };
  per_sender: { messages: number[]; messages_all: number[]; min_over_max: number } | null;
  processes: { node: number; pid: number; cpu_s: number; peak_rss_bytes: number }[];
}

interface Report {
  schema: string;
  interrupted: boolean;
  unavailable: Record<string, string>;
  runs: Run[];
  targets: { target: string; goal: string; met: boolean | null; measured: number | null }[];
}

const IMPLS = ['dgram', 'tcp', 'udx', 'ferry'];
const WORKLOADS = ['oneway', 'rr', 'bidi', 'n1', 'nn', 'curve'];

function near(t: import('ava').ExecutionContext, a: number, b: number, what: string): void {
  t.true(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

function checkPercentiles(t: import('ava').ExecutionContext, l: Latency, what: string): void {
  const p = l.percentile;
  const seq = [l.min_ns, p['50.000000']!, p['90.000000']!, p['99.000000']!, p['99.900000']!, l.max_ns];
  for (let i = 1; i < seq.length; i++)
    t.true(seq[i - 1]! <= seq[i]!, `${what}: percentiles out of order ${seq.join(' ')}`);
  t.true(l.min_ns > 0, `${what}: zero latency`);
}

test('smoke run: every implementation and workload runs and reports consistent figures', async (t) => {
  const r = await runFerry(['bench', 'transport', '--smoke', '--json'], { timeoutMs: 180_000 });
  t.is(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  t.is(rep.schema, 'ferry.bench.transport/1');
  t.false(rep.interrupted);
  for (const impl of IMPLS) {
    for (const w of WORKLOADS) {
      const runs = rep.runs.filter((x) => x.impl === impl && x.workload === w);
      t.true(runs.length > 0, `no ${w} run for ${impl}`);
      for (const run of runs) {
        const what = `${w} ${impl} ${run.variant}`;
        if (run.status === 'skipped') {
          // Only a peer that cannot be installed here may be skipped, and it must say why.
          t.is(impl, 'udx', `${what} skipped: ${run.reason}`);
          t.truthy(run.reason);
          continue;
        }
        t.is(run.status, 'ok', `${what}: ${run.reason}`);
        checkRun(t, run, what);
      }
    }
  }
  t.true(rep.runs.some((x) => x.workload === 'jumbo' && x.impl === 'ferry' && x.status === 'ok'));
  t.is(rep.targets.length, 9);
  for (const target of rep.targets) t.truthy(target.goal, target.target);
});

function checkRun(t: import('ava').ExecutionContext, run: Run, what: string): void {
  t.true(run.elapsed_s > 0, `${what}: elapsed`);
  t.true(run.messages_received > 0, `${what}: nothing received`);
  t.true(run.payload_bytes_received > 0, `${what}: no bytes`);
  near(t, run.payload_bytes_per_s * run.elapsed_s, run.payload_bytes_received, `${what}: bytes/s × s`);
  near(t, run.msgs_per_s * run.elapsed_s, run.messages_received, `${what}: msg/s × s`);
  if (run.packets_received !== null)
    near(t, run.packets_per_s! * run.elapsed_s, run.packets_received, `${what}: pkt/s × s`);
  // A transport never delivers more messages than were sent (dgram may deliver fewer).
  t.true(
    run.messages_received <= run.messages_sent,
    `${what}: received ${run.messages_received} > sent ${run.messages_sent}`,
  );
  if (run.workload === 'rr') {
    t.true((run.round_trips ?? 0) > 0, `${what}: no round trip`);
    t.is(run.latency.round_trip!.count, run.round_trips ?? -1);
    checkPercentiles(t, run.latency.round_trip!, `${what} rtt`);
  } else {
    t.true(run.latency.delivery.count > 0, `${what}: no delivery time`);
    checkPercentiles(t, run.latency.delivery, `${what} delivery`);
  }
  if (run.workload === 'n1' || run.workload === 'nn') {
    t.is(
      run.per_sender!.messages.length,
      run.workload === 'n1' ? run.nodes - 1 : run.nodes,
      `${what}: senders`,
    );
    const { messages, messages_all: all } = run.per_sender!;
    t.is(all.length, messages.length, `${what}: senders over the whole run`);
    t.true(
      messages.every((m, i) => m <= all[i]!),
      `${what}: received while sending (${messages.join(',')}) is part of the whole run (${all.join(',')})`,
    );
    t.is(
      all.reduce((a, b) => a + b, 0),
      run.messages_received,
      `${what}: the whole-run counts add up to the messages received`,
    );
  }
  t.is(run.processes.length, run.nodes, `${what}: a process did not report`);
  for (const p of run.processes) {
    t.true(p.cpu_s > 0, `${what}: node ${p.node} cpu`);
    t.true(p.peak_rss_bytes > 0, `${what}: node ${p.node} rss`);
  }
}

test('bad options are bad usage: exit 2, one line that says what to type', async (t) => {
  for (const args of [
    ['--impl', 'bogus'],
    ['--size', '10'],
  ]) {
    const r = await runFerry(['bench', 'transport', ...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, /--(impl|size|packet-size|workload)/);
  }
});

test('Ctrl-C stops the current run, still prints what was measured, and leaves no process behind', async (t) => {
  const child = spawnFerry([
    'bench',
    'transport',
    '--impl',
    'dgram',
    '--workload',
    'oneway',
    '--size',
    '64',
    '--duration',
    '60',
    '--json',
  ]);
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const planned = new Promise<void>((resolve) =>
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('runs planned')) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await planned;
  // Let the run start its processes; the interrupt may land in any phase and must be handled in all.
  await new Promise((r) => setTimeout(r, 3000));
  child.kill('SIGINT');
  const code = await exited;
  t.is(code, 1, stderr);
  const rep = JSON.parse(stdout) as Report;
  t.true(rep.interrupted);
  t.is(rep.runs.length, 1);
  t.is(rep.runs[0]!.status, 'aborted');
  for (const p of rep.runs[0]!.processes) {
    t.throws(() => process.kill(p.pid, 0), undefined, `worker ${p.pid} still running`);
  }
});
