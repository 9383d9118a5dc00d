/** `ferry bench wan`: emulator arguments, counters, and the report's shares and ratios (no root). */
import test from 'ava';
import { emulatorArgs, parseCounters } from '../../../bench/wan/emulator.js';
import { parseWanOptions } from '../../../bench/wan/options.js';
import {
  describePath,
  ratio,
  renderWanReport,
  toolResult,
  WAN_REPORT_SCHEMA,
  type WanBenchReport,
} from '../../../bench/wan/report.js';

const MiB = 1024 * 1024;
const lossy50 = parseWanOptions({ paths: 'lossy50' }).paths[0]!;

test('emulator arguments: every impairment in the units emulator.c reads', (t) => {
  t.deepEqual(emulatorArgs(lossy50, 3, 200.5), [
    'rate_mbit=200',
    'delay_us=25000',
    'jitter_us=0',
    'loss=0.01',
    'queue_bytes=1250000',
    'mtu=1500',
    'seed=3',
    'max_s=201',
  ]);
});

test('emulator arguments: impossible values refused before anything starts', (t) => {
  t.throws(() => emulatorArgs({ ...lossy50, rateMbit: 0 }, 1, 10), { message: /rate/ });
  t.throws(() => emulatorArgs({ ...lossy50, delayMs: -1 }, 1, 10), { message: /delay/ });
  t.throws(() => emulatorArgs({ ...lossy50, jitterMs: NaN }, 1, 10), { message: /jitter/ });
  t.throws(() => emulatorArgs({ ...lossy50, loss: 1 }, 1, 10), { message: /loss/ });
  t.throws(() => emulatorArgs({ ...lossy50, mtu: 100 }, 1, 10), { message: /mtu/ });
  t.throws(() => emulatorArgs({ ...lossy50, queueBytes: 1000 }, 1, 10), { message: /queue/ });
  t.throws(() => emulatorArgs(lossy50, 1, 0), { message: /lifetime/ });
  t.throws(() => emulatorArgs(lossy50, 1.5, 10), { message: /seed/ });
});

test('emulator counters: the last JSON line, null when the emulator printed none', (t) => {
  const d = {
    packets_in: 10,
    packets_out: 8,
    lost: 1,
    tail_drops: 1,
    overflow: 0,
    bytes_out: 800,
    write_errors: 0,
  };
  const line = JSON.stringify({ stopped_by: 'signal', ring_bytes: 1, a_to_b: d, b_to_a: d });
  t.deepEqual(parseCounters(`ready\n${line}\n`)?.a_to_b, d);
  t.is(parseCounters('ready\n'), null);
  t.is(parseCounters('ready\n{"trunc'), null);
});

test('shares of the line rate and ratios are throughput ratios', (t) => {
  const size = 250 * MiB;
  const mk = (tool: 'ferry' | 'rsync' | 'tcp', seconds: number) =>
    toolResult({ tool, status: 'ok', seconds, identical: true, detail: {} }, size, lossy50);
  const tools = [mk('ferry', 13.1072), mk('rsync', 26.2144), mk('tcp', 52.4288)];
  // 250 MiB in 13.1072 s = 20 MB/s, of 25 MB/s
  t.is(tools[0]!.bytes_per_s, 20_000_000);
  t.is(tools[0]!.line_share, 0.8);
  t.is(ratio(tools, 'ferry', 'rsync'), 2);
  t.is(ratio(tools, 'ferry', 'tcp'), 4);
  t.is(ratio(tools, 'rsync', 'ferry'), 0.5);
});

test('a copy that failed or timed out has no rate and no ratio', (t) => {
  const failed = toolResult(
    { tool: 'rsync', status: 'timeout', seconds: null, identical: null, detail: {}, error: 'no result' },
    MiB,
    lossy50,
  );
  t.is(failed.bytes_per_s, null);
  t.is(failed.line_share, null);
  const ok = toolResult(
    { tool: 'ferry', status: 'ok', seconds: 1, identical: true, detail: {} },
    MiB,
    lossy50,
  );
  t.is(ratio([ok, failed], 'ferry', 'rsync'), null);
  t.is(ratio([ok], 'ferry', 'tcp'), null);
});

test('path description and the text report', (t) => {
  t.is(describePath(lossy50), '200 Mbit/s, 50 ms RTT, 1 % loss each way, MTU 1500, queue 1221 KiB');
  const size = 64 * MiB;
  const tools = [
    toolResult({ tool: 'ferry', status: 'ok', seconds: 4, identical: true, detail: {} }, size, lossy50),
    toolResult({ tool: 'rsync', status: 'ok', seconds: 8, identical: true, detail: {} }, size, lossy50),
  ];
  const report: WanBenchReport = {
    schema: WAN_REPORT_SCHEMA,
    started_at: '',
    finished_at: '',
    host: { node: 'v20', platform: 'linux', cpus: 2, cpu_model: '', loadavg: [0, 0, 0] },
    options: { ...parseWanOptions({ paths: 'lossy50', tools: 'ferry,rsync', size: '64MiB' }) },
    interrupted: false,
    paths: [
      {
        path: lossy50,
        line_rate_bytes_per_s: 25e6,
        tcp_congestion_control: 'bbr',
        timeout_s: 60,
        tools,
        ratio_ferry_rsync: ratio(tools, 'ferry', 'rsync'),
        ratio_ferry_tcp: null,
        emulator: null,
      },
    ],
  };
  const text = renderWanReport(report);
  t.regex(text, /64 MiB random file/);
  t.regex(text, /lossy50 +25\.0 +16\.8 \(67 %\) +8\.4 \(34 %\) +2\.00 +-/);
});
