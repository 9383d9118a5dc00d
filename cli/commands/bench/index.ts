/**
 * `ferry bench <kind>`: the benchmarks. Each kind is one module under bench/ that plans, runs and
 * reports; this file only wires its flags into yargs, turns bad values into usage errors (exit 2),
 * prints the text table or the JSON report, and turns Ctrl-C into a clean stop that still prints
 * what was measured.
 */
import type { Argv, CommandModule } from 'yargs';
import {
  parseTransportOptions,
  renderTransportReport,
  runTransportBench,
  summarizeProfileDir,
  type RawTransportOptions,
  type TransportBenchReport,
} from '../../../bench/transport/index.js';
import { abortOnSignal } from '../../signals.js';
import { asUsage, failAsUsage, printJson } from '../../util.js';
import { blockdevBenchCommand, compareBenchCommand, fsBenchCommand, reportBenchCommand } from './storage.js';
import { nbdBenchCommand } from './nbd.js';
import { wanBenchCommand } from './wan.js';
import { treeBenchCommand } from './tree.js';

/** Functions listed per profile in the --cpu-prof-dir summary. */
const PROFILE_TOP = 20;

type TransportArgs = RawTransportOptions & { json: boolean; 'cpu-prof-dir'?: string };

const transportCommand: CommandModule<object, TransportArgs> = {
  command: 'transport',
  describe:
    'messaging throughput and latency: raw dgram, TCP, udx-native and ferry, side by side on loopback',
  builder: (y: Argv<object>) =>
    y
      .option('impl', {
        type: 'string',
        requiresArg: true,
        describe: 'implementations, comma-separated: dgram,tcp,udx,ferry (default: all)',
      })
      .option('workload', {
        type: 'string',
        requiresArg: true,
        describe: 'workloads, comma-separated: oneway,rr,bidi,n1,nn,curve,jumbo (default: all)',
      })
      .option('size', {
        type: 'string',
        requiresArg: true,
        describe: 'message sizes for every workload, e.g. 64,1MiB (default: per workload)',
      })
      .option('duration', {
        type: 'string',
        requiresArg: true,
        describe: 'seconds per run (default 5; smoke 0.3)',
      })
      .option('packet-size', {
        type: 'string',
        requiresArg: true,
        describe: 'datagram size for dgram and ferry (default 1452)',
      })
      .option('bytes', {
        type: 'string',
        requiresArg: true,
        describe:
          'one-way runs stream this many bytes, then stop (e.g. 10GiB; --duration bounds the time, default 900): peak RSS per side',
      })
      .option('loss-matrix', {
        type: 'boolean',
        default: false,
        describe: 'also run ferry and udx bulk under 0, 1, 5, 20 % loss with 10 ms delay',
      })
      .option('smoke', {
        type: 'boolean',
        default: false,
        describe: 'every implementation and workload once, small and short (seconds)',
      })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'print the report as JSON (schema in docs/benchmarks.md)',
      })
      .option('cpu-prof-dir', {
        type: 'string',
        requiresArg: true,
        describe: 'write a node --cpu-prof profile of every process here',
      })
      .fail(failAsUsage)
      .example('$0 bench transport', 'the full comparison (several minutes)')
      .example(
        '$0 bench transport --impl ferry,udx --workload oneway --size 1MiB --duration 10',
        'one bulk comparison',
      )
      .example(
        '$0 bench transport --impl ferry --workload oneway --bytes 10GiB',
        'memory while streaming 10 GiB: peak RSS of each side',
      )
      .example(
        '$0 bench transport --smoke --json',
        'a few seconds: does everything run?',
      ) as unknown as Argv<TransportArgs>,
  handler: async (argv) => {
    const options = asUsage(() =>
      parseTransportOptions({
        impl: argv.impl,
        workload: argv.workload,
        size: argv.size,
        duration: argv.duration,
        packetSize: argv.packetSize ?? (argv as { 'packet-size'?: string })['packet-size'],
        lossMatrix: argv.lossMatrix ?? (argv as { 'loss-matrix'?: boolean })['loss-matrix'],
        smoke: argv.smoke,
        bytes: argv.bytes,
      }),
    );
    const stop = abortOnSignal(() =>
      process.stderr.write('ferry bench: stopping: ending the current run and printing what was measured\n'),
    );
    let report: TransportBenchReport;
    try {
      report = await runTransportBench(options, {
        say: (line) => process.stderr.write(line + '\n'),
        signal: stop.signal,
        ...(argv['cpu-prof-dir'] !== undefined ? { cpuProfDir: argv['cpu-prof-dir'] } : {}),
      });
    } finally {
      stop.release();
    }
    if (argv.json) printJson(report);
    else process.stdout.write(renderTransportReport(report));
    // Profiles are written as each worker exits: all are there now. The summary goes to stderr.
    if (argv['cpu-prof-dir'] !== undefined)
      process.stderr.write(await summarizeProfileDir(argv['cpu-prof-dir'], PROFILE_TOP));
    // A run that failed (not one skipped for a missing peer) or an interruption is a failure.
    if (report.interrupted || report.runs.some((r) => r.status === 'failed')) process.exitCode = 1;
  },
};

export const benchCommand: CommandModule<object, object> = {
  command: 'bench',
  describe: 'throughput and latency benchmarks (transport, blockdev, fs, nbd; compare and report)',
  builder: (y: Argv<object>) =>
    y
      .command(transportCommand)
      .command(wanBenchCommand)
      .command(treeBenchCommand)
      .command(blockdevBenchCommand)
      .command(fsBenchCommand)
      .command(nbdBenchCommand)
      .command(compareBenchCommand)
      .command(reportBenchCommand)
      .demandCommand(1, 'name a benchmark: ferry bench transport|wan|tree|blockdev|fs|nbd|compare|report')
      .fail(failAsUsage),
  handler: () => {},
};
