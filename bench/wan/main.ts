/**
 * Runs `ferry bench wan` without the CLI: npx tsx bench/wan/main.ts [--paths lan,wan50] [--json] ...
 * (the same flags; see args.ts). Needs root. Ctrl-C stops the current copy, tears the path down and
 * prints what was measured.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseWanOptions, rawWanOptions, renderWanReport, runWanBench, wanBuilder } from './index.js';

const argv = await wanBuilder(yargs(hideBin(process.argv)))
  .strict()
  .help()
  .parseAsync();
const options = parseWanOptions(rawWanOptions(argv));
const controller = new AbortController();
const onSignal = (): void => {
  process.stderr.write('ferry bench wan: stopping: ending the current copy and tearing the path down\n');
  controller.abort();
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
const report = await runWanBench(options, {
  say: (line) => process.stderr.write(line + '\n'),
  signal: controller.signal,
});
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
process.stdout.write(argv.json ? JSON.stringify(report, null, 2) + '\n' : renderWanReport(report));
const failed = report.paths.some((p) => p.error !== undefined || p.tools.some((t) => t.status !== 'ok'));
if (report.interrupted || failed) process.exitCode = 1;
