/**
 * The storage sub-commands of `ferry bench`: `blockdev`, `fs` (bench/storage), `compare`
 * (bench/compare.ts) and `report` (bench/report). Kept beside index.ts so the transport and storage
 * benchmarks each own their flags; index.ts only registers these modules.
 *
 * Exit codes: 2 for bad usage; 1 when a run failed, the run was interrupted, or compare found a
 * regression beyond its threshold (so CI can use it); 0 otherwise.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { compareReports, DEFAULT_THRESHOLD, readReport, renderComparison } from '../../../bench/compare.js';
import { renderHtmlReport } from '../../../bench/report/html.js';
import {
  parseStorageOptions,
  renderStorageReport,
  runStorageBench,
  type RawStorageOptions,
  type StorageBenchReport,
} from '../../../bench/storage/index.js';
import {
  checkEncrypt,
  clientSecret,
  ENCRYPT_OPTION,
  INSECURE_CLIENT_OPTION,
  remoteArg,
  SECRET_FILE_OPTION,
  type RemoteArgs,
} from '../../remote.js';
import { abortOnSignal } from '../../signals.js';
import { asUsage, failAsUsage, printJson, UsageError } from '../../util.js';

type StorageArgs = Omit<RawStorageOptions, 'job' | 'secret'> &
  RemoteArgs & { only?: string; json: boolean; report?: string };

function storageOptions(y: Argv<object>, kind: 'blockdev' | 'fs'): Argv<StorageArgs> {
  const backends = kind === 'blockdev' ? 'memory|file' : 'memory|dir';
  const remoteForm = kind === 'blockdev' ? 'ferry://HOST:PORT/DEVICE' : 'ferry://HOST:PORT';
  let b = y
    .option('backend', {
      type: 'string',
      requiresArg: true,
      describe: `backend measured locally and served remotely: ${backends} (default memory)`,
    })
    .option('remote', {
      type: 'string',
      requiresArg: true,
      describe: `measure this server (${remoteForm}) instead of one started here on loopback`,
    })
    .option('path', {
      type: 'string',
      requiresArg: true,
      describe: 'folder for the file/dir backends (default: a fresh temp folder)',
    })
    .option('size', {
      type: 'string',
      requiresArg: true,
      describe: 'bytes each target holds, e.g. 256MiB (default 256MiB; smoke 8MiB)',
    })
    .option('runtime', {
      type: 'string',
      requiresArg: true,
      describe: 'seconds per job, or 500ms (default 5; smoke 0.3)',
    })
    .option('iodepth', {
      type: 'string',
      requiresArg: true,
      describe: 'requests in flight per job (default 16)',
    })
    .option('jobs', {
      type: 'string',
      requiresArg: true,
      describe: 'parallel jobs, each on its own region or file (fio numjobs; default 1)',
    })
    .option('only', {
      type: 'string',
      requiresArg: true,
      describe: 'run only these jobs, comma-separated (see docs/benchmarks.md)',
    })
    .option('fio', { type: 'boolean', default: true, describe: 'run the fio baseline (--no-fio to skip)' })
    .option('fio-engine', {
      type: 'string',
      requiresArg: true,
      describe: 'fio ioengine: psync or libaio (default psync)',
    })
    .option('curve', {
      type: 'boolean',
      default: true,
      describe: 'measure the load curve (random reads at queue depths 1..32)',
    })
    .option('smoke', { type: 'boolean', default: false, describe: 'small and short: seconds in all (CI)' })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'print the report as JSON (schema: bench/storage/schema.json)',
    })
    .option('report', {
      type: 'string',
      requiresArg: true,
      describe: 'also write a self-contained HTML page with charts here',
    })
    .option('secret-file', {
      ...SECRET_FILE_OPTION,
      describe: `with --remote: ${SECRET_FILE_OPTION.describe}`,
    })
    .option('insecure', {
      ...INSECURE_CLIENT_OPTION,
      describe: `with --remote: ${INSECURE_CLIENT_OPTION.describe}`,
    })
    .option('encrypt', ENCRYPT_OPTION);
  if (kind === 'fs') {
    b = b
      .option('files', {
        type: 'string',
        requiresArg: true,
        describe: 'small files of the metadata jobs (default 5000; smoke 200)',
      })
      .option('copies', {
        type: 'boolean',
        default: true,
        describe: 'copy a file with offset writes and an append sequence, clean and impaired',
      })
      .option('copy-size', {
        type: 'string',
        requiresArg: true,
        describe: 'size of the copied file (default 128MiB; smoke 4MiB)',
      })
      .option('impair', {
        type: 'string',
        requiresArg: true,
        describe: 'impairment of the impaired copies (default loss=0.01,seed=7)',
      });
  }
  return b.fail(failAsUsage) as unknown as Argv<StorageArgs>;
}

async function runStorage(kind: 'blockdev' | 'fs', argv: StorageArgs): Promise<void> {
  const a = argv as StorageArgs & Record<string, unknown>;
  // The --remote server's secret, found as `ferry cp` finds it; the server started here needs none.
  const host = a.remote !== undefined ? remoteArg(a.remote).host : '127.0.0.1';
  checkEncrypt(a.encrypt, host, '--remote address');
  const secret = a.remote !== undefined ? clientSecret(host, a)?.secret : undefined;
  const options = asUsage(() =>
    parseStorageOptions(kind, {
      backend: a.backend,
      remote: a.remote,
      path: a.path,
      size: a.size,
      runtime: a.runtime,
      iodepth: a.iodepth,
      jobs: a.jobs,
      job: a.only,
      files: a.files,
      fio: a.fio,
      fioEngine: a['fio-engine'] as string | undefined,
      curve: a.curve,
      copies: a.copies,
      copySize: a['copy-size'] as string | undefined,
      impair: a.impair,
      smoke: a.smoke,
      ...(secret !== undefined ? { secret } : {}),
      ...(a.encrypt === false ? { encrypt: false } : {}),
    }),
  );
  const stop = abortOnSignal(() =>
    process.stderr.write('\nferry bench: stopping: ending the current job and printing what was measured\n'),
  );
  let report: StorageBenchReport;
  try {
    report = await runStorageBench(options, {
      say: (line) => process.stderr.write(line + '\n'),
      progress: { tty: process.stderr.isTTY === true, write: (t) => process.stderr.write(t) },
      signal: stop.signal,
    });
  } finally {
    stop.release();
  }
  if (argv.report !== undefined) {
    await writeFile(argv.report, await renderHtmlReport([report]));
    process.stderr.write(`ferry bench: report written to ${argv.report}\n`);
  }
  if (argv.json) printJson(report);
  else process.stdout.write(renderStorageReport(report));
  if (report.interrupted || report.results.some((r) => r.status === 'failed')) process.exitCode = 1;
}

export const blockdevBenchCommand: CommandModule<object, StorageArgs> = {
  command: 'blockdev',
  describe: 'block device throughput: fio-style jobs on the local backend, over a ferry server, and fio',
  builder: (y: Argv<object>) =>
    storageOptions(y, 'blockdev')
      .example('$0 bench blockdev --backend file', 'a file-backed device, local vs remote vs fio')
      .example('$0 bench blockdev --remote ferry://10.0.0.2:7733/disk0 --json', 'measure a running server'),
  handler: (argv) => runStorage('blockdev', argv),
};

export const fsBenchCommand: CommandModule<object, StorageArgs> = {
  command: 'fs',
  describe: 'flat filesystem throughput and metadata rates, local vs remote vs fio, and the transfer modes',
  builder: (y: Argv<object>) =>
    storageOptions(y, 'fs')
      .example('$0 bench fs --backend dir --report fs.html', 'a host folder, with a chart page')
      .example('$0 bench fs --smoke --json', 'a few seconds: does everything run?'),
  handler: (argv) => runStorage('fs', argv),
};

interface CompareArgs {
  old: string;
  new: string;
  threshold: number;
  json: boolean;
}

export const compareBenchCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <old> <new>',
  describe:
    'compare two storage reports (--json output of blockdev/fs): ratios, regressions marked, exit 1 on a regression',
  builder: (y: Argv<object>) =>
    y
      .positional('old', { type: 'string', demandOption: true, describe: 'the baseline report (JSON)' })
      .positional('new', { type: 'string', demandOption: true, describe: 'the report to judge (JSON)' })
      .option('threshold', {
        type: 'number',
        default: DEFAULT_THRESHOLD,
        describe: 'a metric worse by more than this share is a regression (0.1 = 10 %)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the comparison as JSON' })
      .fail(failAsUsage)
      .example(
        '$0 bench compare main.json branch.json --threshold 0.15',
        'fail when anything is 15 % worse',
      ) as unknown as Argv<CompareArgs>,
  handler: async (argv) => {
    const [a, b] = await Promise.all([readInput(argv.old), readInput(argv.new)]);
    const c = asUsage(() =>
      compareReports(
        asUsage(() => readReport(a, argv.old)),
        asUsage(() => readReport(b, argv.new)),
        argv.threshold,
      ),
    );
    if (argv.json) printJson(c);
    else process.stdout.write(renderComparison(c, process.stdout.isTTY === true));
    if (c.regressions > 0) process.exitCode = 1;
  },
};

interface ReportArgs {
  inputs: string[];
  out: string;
}

export const reportBenchCommand: CommandModule<object, ReportArgs> = {
  command: 'report <inputs..>',
  describe: 'one HTML page with charts from one or more storage reports (--json output of blockdev/fs)',
  builder: (y: Argv<object>) =>
    y
      .positional('inputs', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'report files (JSON)',
      })
      .option('out', {
        type: 'string',
        requiresArg: true,
        demandOption: true,
        describe: 'the HTML file to write',
      })
      .fail(failAsUsage)
      .example(
        '$0 bench report blockdev.json fs.json --out storage.html',
        'both runs on one page',
      ) as unknown as Argv<ReportArgs>,
  handler: async (argv) => {
    const reports: StorageBenchReport[] = [];
    for (const f of argv.inputs) reports.push(await loadReport(f));
    await writeFile(argv.out, await renderHtmlReport(reports));
    process.stderr.write(`ferry bench: report written to ${argv.out}\n`);
  },
};

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

async function loadReport(file: string): Promise<StorageBenchReport> {
  const text = await readInput(file);
  return asUsage(() => readReport(text, file));
}
