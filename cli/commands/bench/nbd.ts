/**
 * `ferry bench nbd`: a remote disk over ferry (`ferry serve` + `ferry nbd ferry://`) against
 * `nbdkit memory` over TCP, fio's nbd engine on both in one run, printed as ratios (bench/nbd/).
 * This file wires the flags, turns bad values into usage errors (exit 2), and exits 1 when a job
 * failed, the verify row failed or the run was interrupted; a missing nbdkit is a note, not a failure.
 */
import type { Argv, CommandModule } from 'yargs';
import {
  parseNbdBenchOptions,
  renderNbdReport,
  runNbdBench,
  type NbdBenchReport,
} from '../../../bench/nbd/index.js';
import { abortOnSignal } from '../../signals.js';
import { asUsage, failAsUsage, printJson } from '../../util.js';

interface NbdBenchArgs {
  size?: string;
  runtime?: string;
  iodepth?: string;
  rounds?: string;
  only?: string;
  verify: boolean;
  smoke: boolean;
  json: boolean;
}

export const nbdBenchCommand: CommandModule<object, NbdBenchArgs> = {
  command: 'nbd',
  describe: 'a remote disk (ferry serve + ferry nbd ferry://) against nbdkit over TCP, fio on both, ratios',
  builder: (y: Argv<object>) =>
    y
      .option('size', {
        type: 'string',
        requiresArg: true,
        describe: 'device size, e.g. 256MiB (default 256MiB; smoke 16MiB)',
      })
      .option('runtime', {
        type: 'string',
        requiresArg: true,
        describe: 'seconds per job, or 500ms (default 4; smoke 0.5)',
      })
      .option('iodepth', { type: 'string', requiresArg: true, describe: 'requests in flight (default 16)' })
      .option('rounds', {
        type: 'string',
        requiresArg: true,
        describe:
          'run every job this many times on each target, alternating (default 1; the median is shown)',
      })
      .option('only', {
        type: 'string',
        requiresArg: true,
        describe: 'jobs, comma-separated: seqwrite-1m,seqread-1m,randread-4k,randwrite-4k (default: all)',
      })
      .option('verify', {
        type: 'boolean',
        default: true,
        describe: 'also check data over ferry with fio --verify=crc32c (--no-verify to skip)',
      })
      .option('smoke', { type: 'boolean', default: false, describe: 'small and short: seconds in all' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .fail(failAsUsage)
      .example('$0 bench nbd', 'the four jobs, 4 s each, on ferry and nbdkit')
      .example(
        '$0 bench nbd --rounds 3 --only randread-4k',
        'one job, A B A B A B',
      ) as unknown as Argv<NbdBenchArgs>,
  handler: async (argv) => {
    const options = asUsage(() =>
      parseNbdBenchOptions({
        ...(argv.size !== undefined ? { size: argv.size } : {}),
        ...(argv.runtime !== undefined ? { runtime: argv.runtime } : {}),
        ...(argv.iodepth !== undefined ? { iodepth: argv.iodepth } : {}),
        ...(argv.rounds !== undefined ? { rounds: argv.rounds } : {}),
        ...(argv.only !== undefined ? { only: argv.only } : {}),
        verify: argv.verify,
        smoke: argv.smoke,
      }),
    );
    const stop = abortOnSignal(() =>
      process.stderr.write('ferry bench: stopping: ending the current job, stopping the servers\n'),
    );
    let report: NbdBenchReport;
    try {
      report = await runNbdBench(options, {
        say: (line) => process.stderr.write(line + '\n'),
        signal: stop.signal,
      });
    } finally {
      stop.release();
    }
    if (argv.json) printJson(report);
    else process.stdout.write(renderNbdReport(report));
    const failed = report.jobs.some((j) => j.notes.length > 0) || report.verify?.status === 'failed';
    if (report.interrupted || failed) process.exitCode = 1;
  },
};
