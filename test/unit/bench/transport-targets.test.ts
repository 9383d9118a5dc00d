import test from 'ava';
import type { RunResult } from '../../../bench/transport/results.js';
import { checkTargets } from '../../../bench/transport/targets.js';

/** A run with only the fields the targets read. */
function run(
  workload: string,
  sizeBytes: number,
  mbps: number,
  extra: Record<string, unknown> = {},
): RunResult {
  return {
    status: 'ok',
    workload,
    impl: 'ferry',
    variant: '',
    size_bytes: sizeBytes,
    packet_size_bytes: 1452,
    payload_bytes_per_s: mbps * 1e6,
    payload_bytes_received: 0,
    elapsed_s: 1,
    msgs_per_s: 0,
    loss: null,
    per_sender: null,
    processes: [],
    latency: { delivery: null, round_trip: null },
    ...extra,
  } as unknown as RunResult;
}

const MiB = 1024 * 1024;

test('bulk targets read the 1 MiB runs when several sizes ran (not the first size found)', (t) => {
  const loss = (p: number, size: number, mbps: number): RunResult =>
    run('loss', size, mbps, { variant: `loss=${p * 100}%`, loss: { probability: p, delay_ms: 10 } });
  const runs = [
    run('jumbo', 64, 1),
    run('jumbo', MiB, 1192),
    loss(0, 64, 2),
    loss(0.01, 64, 0.2),
    loss(0.05, 64, 0.1),
    loss(0, MiB, 100),
    loss(0.01, MiB, 95),
    loss(0.05, MiB, 80),
    run('n1', 64, 1, { variant: 'senders=8', per_sender: { messages: [1, 100], min_over_max: 0.01 } }),
    run('n1', MiB, 90, { variant: 'senders=8', per_sender: { messages: [9, 10], min_over_max: 0.9 } }),
    run('oneway', 64, 3),
    run('oneway', MiB, 100),
  ];
  const byName = new Map(checkTargets(runs).map((c) => [c.target, c.measured]));
  const get = (prefix: string): number | null | undefined =>
    [...byName].find(([name]) => name.startsWith(prefix))?.[1];
  t.is(get('bulk at the largest loopback packet size'), 2);
  t.is(get('bulk under 1 %'), 0.95);
  t.is(get('bulk under 5 %'), 0.8);
  t.is(get('n senders to 1 receiver: ferry aggregate'), 0.9);
  t.is(get('n senders to 1 receiver: smallest'), 0.9);
});

test('the memory target reads the fixed-amount run (--bytes) and names each side, else says the run was short', (t) => {
  const proc = (role: string, rssMiB: number): Record<string, unknown> => ({
    role,
    peak_rss_bytes: rssMiB * MiB,
  });
  const short = run('oneway', MiB, 100, {
    payload_bytes_received: 300 * MiB,
    elapsed_s: 3,
    processes: [proc('sink', 90), proc('stream', 70)],
  });
  const fixed = run('oneway', MiB, 100, {
    variant: 'bytes=10737418240',
    stream_bytes: 10 * 1024 * MiB,
    payload_bytes_received: 10 * 1024 * MiB,
    elapsed_s: 100,
    processes: [proc('sink', 140), proc('stream', 160)],
  });
  const memory = (runs: RunResult[]) => checkTargets(runs).find((c) => c.target.startsWith('peak RSS'))!;
  const alone = memory([short]);
  t.is(alone.measured, 90);
  t.true(alone.met!);
  t.regex(alone.detail, /short run; --bytes 10GiB/);
  const both = memory([short, fixed]);
  t.is(both.measured, 160, 'the largest side of the 10 GiB run, not the short run');
  t.false(both.met!);
  t.regex(both.detail, /--bytes 10.0 GiB: 10.0 GiB streamed in 100 s; receiver 140 MiB, sender 160 MiB/);
});
