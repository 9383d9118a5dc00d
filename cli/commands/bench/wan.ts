/**
 * `ferry bench wan`: ferry, rsync and a plain TCP pipe copying one file across an emulated WAN
 * (bench/wan/: two network namespaces joined by a user-space emulator; needs root). This file wires
 * the flags, turns bad values into usage errors (exit 2), and exits 1 when a copy failed.
 */
import type { Argv, CommandModule } from 'yargs';
import {
  parseWanOptions,
  rawWanOptions,
  renderWanReport,
  runWanBench,
  wanBuilder,
  type WanArgs,
  type WanBenchReport,
} from '../../../bench/wan/index.js';
import { abortOnSignal } from '../../signals.js';
import { asUsage, failAsUsage, printJson } from '../../util.js';

export const wanBenchCommand: CommandModule<object, WanArgs> = {
  command: 'wan',
  describe: 'ferry, rsync and a TCP pipe copying one file across an emulated WAN (network namespaces; root)',
  builder: (y: Argv<object>) => wanBuilder(y).fail(failAsUsage) as unknown as Argv<WanArgs>,
  handler: async (argv) => {
    const options = asUsage(() => parseWanOptions(rawWanOptions(argv)));
    const stop = abortOnSignal(() =>
      process.stderr.write('ferry bench: stopping: ending the current copy, tearing the path down\n'),
    );
    let report: WanBenchReport;
    try {
      report = await runWanBench(options, {
        say: (line) => process.stderr.write(line + '\n'),
        signal: stop.signal,
      });
    } finally {
      stop.release();
    }
    if (argv.json) printJson(report);
    else process.stdout.write(renderWanReport(report));
    const failed = report.paths.some((p) => p.error !== undefined || p.tools.some((t) => t.status !== 'ok'));
    if (report.interrupted || failed) process.exitCode = 1;
  },
};
