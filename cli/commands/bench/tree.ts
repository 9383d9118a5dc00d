/**
 * `ferry bench tree`: many small files, `ferry cp -r` to a `ferry serve --root` against `rsync -r`
 * to an rsync daemon, both on loopback, in alternating rounds of one run, then the same copy again
 * on the unchanged tree (what `ferry sync` costs when nothing differs). Prints the times and the
 * ferry/rsync ratio.
 *
 * Why rounds in alternation: the machines here are shared, so a time means little alone; the ratio
 * of the two tools measured back to back, order swapped every round, does. Bounded: at most
 * TREE_BENCH_MAX_FILES files and TREE_BENCH_MAX_ROUNDS rounds; everything it starts (two servers,
 * by pid) and writes (one temporary folder) is removed at the end, also on failure.
 *
 * Note on what is compared: a ferry server fsyncs every file before it answers (a copy acknowledged
 * is on disk); an rsync daemon does not unless asked (`--rsync-fsync` adds a round of
 * `rsync --fsync`, the like-for-like durability).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { Argv, CommandModule } from 'yargs';
import { freePort, startChild, startRsyncDaemon, stopChild, timed } from '../../../bench/lib/peers.js';
import { parseBytes } from '../../../src/index.js';
import { printJson, UsageError } from '../../util.js';

const run = promisify(execFile);

/** Most files one run makes. */
export const TREE_BENCH_MAX_FILES = 1_000_000;
/** Most rounds of the two tools. */
export const TREE_BENCH_MAX_ROUNDS = 10;
/** Files per folder of the generated tree. */
const FILES_PER_FOLDER = 100;

interface TreeBenchArgs {
  files: number;
  'min-size': string;
  'max-size': string;
  rounds: number;
  'rsync-fsync': boolean;
  json: boolean;
}

/** Writes `files` random files of minBytes..maxBytes in folders of FILES_PER_FOLDER; their total. */
async function makeTree(root: string, files: number, minBytes: number, maxBytes: number): Promise<number> {
  const buf = Buffer.allocUnsafe(maxBytes);
  let total = 0;
  for (let i = 0; i < files; i++) {
    const dir = join(root, `d${Math.floor(i / FILES_PER_FOLDER)}`);
    if (i % FILES_PER_FOLDER === 0) await mkdir(dir, { recursive: true });
    const n = minBytes + Math.floor(Math.random() * (maxBytes - minBytes + 1));
    randomFillSync(buf, 0, n);
    await writeFile(join(dir, `f${i}.bin`), buf.subarray(0, n));
    total += n;
  }
  return total;
}

/** True when every regular file below `a` is below `b` with the same bytes, and nothing else is. */
async function sameTree(a: string, b: string): Promise<boolean> {
  const list = async (root: string): Promise<string[]> => {
    const out: string[] = [];
    const visit = async (dir: string): Promise<void> => {
      for (const d of await readdir(dir, { withFileTypes: true })) {
        if (d.isDirectory()) await visit(join(dir, d.name));
        else if (d.isFile()) out.push(relative(root, join(dir, d.name)));
      }
    };
    await visit(root);
    return out.sort();
  };
  const [la, lb] = await Promise.all([list(a), list(b)]);
  if (la.length !== lb.length || la.some((n, i) => n !== lb[i])) return false;
  for (const n of la) {
    const [x, y] = await Promise.all([readFile(join(a, n)), readFile(join(b, n))]);
    if (!x.equals(y)) return false;
  }
  return true;
}

async function emptyFolder(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  await mkdir(path);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function options(args: TreeBenchArgs): { minBytes: number; maxBytes: number } {
  if (!Number.isInteger(args.files) || args.files < 1 || args.files > TREE_BENCH_MAX_FILES)
    throw new UsageError(`--files ${args.files}: use 1..${TREE_BENCH_MAX_FILES}`);
  if (!Number.isInteger(args.rounds) || args.rounds < 1 || args.rounds > TREE_BENCH_MAX_ROUNDS)
    throw new UsageError(`--rounds ${args.rounds}: use 1..${TREE_BENCH_MAX_ROUNDS}`);
  const minBytes = parseBytes(args['min-size']);
  const maxBytes = parseBytes(args['max-size']);
  if (
    !Number.isSafeInteger(minBytes) ||
    !Number.isSafeInteger(maxBytes) ||
    minBytes < 0 ||
    maxBytes < minBytes
  )
    throw new UsageError('--min-size and --max-size: sizes such as 1KiB and 16KiB, min at most max');
  if (maxBytes > 64 * 1024 * 1024)
    throw new UsageError('--max-size: at most 64MiB (this is a many-files benchmark)');
  return { minBytes, maxBytes };
}

export const treeBenchCommand: CommandModule<object, TreeBenchArgs> = {
  command: 'tree',
  describe:
    'many small files: ferry cp -r vs rsync -r to an rsync daemon on loopback, and an unchanged re-run',
  builder: (y: Argv<object>) =>
    y
      .option('files', {
        type: 'number',
        default: 2000,
        describe: `files in the tree (1..${TREE_BENCH_MAX_FILES})`,
      })
      .option('min-size', { type: 'string', default: '1KiB', describe: 'smallest file' })
      .option('max-size', { type: 'string', default: '16KiB', describe: 'largest file' })
      .option('rounds', {
        type: 'number',
        default: 2,
        describe: 'rounds of both tools, order swapped each round',
      })
      .option('rsync-fsync', {
        type: 'boolean',
        default: false,
        describe: 'also time rsync --fsync (durable like ferry) each round',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .example(
        '$0 bench tree --files 10000 --rounds 2',
        '10,000 files of 1-16 KiB',
      ) as unknown as Argv<TreeBenchArgs>,
  handler: async (args) => {
    const { minBytes, maxBytes } = options(args);
    await run('rsync', ['--version']).catch(() => {
      throw new UsageError('rsync is not installed: apt-get install -y rsync');
    });
    const say = (line: string): void => void process.stderr.write(`${line}\n`);
    const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-tree-'));
    const children: ChildProcess[] = [];
    try {
      const src = join(dir, 'tree');
      const ferryRoot = join(dir, 'ferry-root');
      const rsyncRoot = join(dir, 'rsync-root');
      say(`making ${args.files} files of ${minBytes}..${maxBytes} bytes`);
      const bytes = await makeTree(src, args.files, minBytes, maxBytes);
      await mkdir(ferryRoot);
      await mkdir(rsyncRoot);
      // this same ferry (its node flags and entry point) as the server and the client
      const ferry = [...process.execArgv, process.argv[1]!];
      const ferryPort = await freePort();
      children.push(
        await startChild(
          process.execPath,
          [...ferry, 'serve', '--listen', `127.0.0.1:${ferryPort}`, '--root', ferryRoot, '--no-discovery'],
          /listening on/,
        ),
      );
      const daemon = await startRsyncDaemon(dir, rsyncRoot);
      children.push(daemon.child);
      const rsyncPort = daemon.port;
      const cpArgs = [...ferry, 'cp', '-r', src, `ferry://127.0.0.1:${ferryPort}`, '--json'];
      const tools = {
        ferry: async () => {
          await emptyFolder(ferryRoot);
          return (await timed(process.execPath, cpArgs)).seconds;
        },
        rsync: async () => {
          await emptyFolder(rsyncRoot);
          return (await timed('rsync', ['-r', src, `rsync://127.0.0.1:${rsyncPort}/mod/`])).seconds;
        },
        'rsync --fsync': async () => {
          await emptyFolder(rsyncRoot);
          return (await timed('rsync', ['-r', '--fsync', src, `rsync://127.0.0.1:${rsyncPort}/mod/`]))
            .seconds;
        },
      };
      const order: Array<keyof typeof tools> = args['rsync-fsync']
        ? ['ferry', 'rsync', 'rsync --fsync']
        : ['ferry', 'rsync'];
      const seconds: Record<string, number[]> = Object.fromEntries(order.map((t) => [t, []]));
      for (let r = 0; r < args.rounds; r++) {
        for (const tool of r % 2 === 0 ? order : [...order].reverse()) {
          const s = await tools[tool]();
          seconds[tool]!.push(s);
          say(`round ${r + 1}: ${tool} ${s.toFixed(2)} s`);
        }
      }
      // the last ferry copy is still in place (each tool empties only its own folder): check it,
      // then copy the unchanged tree again
      const identical = await sameTree(src, join(ferryRoot, 'tree'));
      const again = await timed(process.execPath, cpArgs);
      const rerun = JSON.parse(again.stdout) as { alreadyThere: number };
      const ferryMedian = median(seconds.ferry!);
      const report = {
        schema: 'ferry.bench.tree/1',
        files: args.files,
        bytes,
        rounds: args.rounds,
        seconds,
        medianSeconds: Object.fromEntries(order.map((t) => [t, Number(median(seconds[t]!).toFixed(3))])),
        ferryFilesPerSec: Math.round(args.files / ferryMedian),
        /** ferry / rsync median time: below 1 means ferry was faster. */
        ratio: Number((ferryMedian / median(seconds.rsync!)).toFixed(3)),
        ...(args['rsync-fsync']
          ? { ratioToRsyncFsync: Number((ferryMedian / median(seconds['rsync --fsync']!)).toFixed(3)) }
          : {}),
        unchangedRerunSeconds: Number(again.seconds.toFixed(3)),
        unchangedRerunFound: rerun.alreadyThere,
        identical,
      };
      if (args.json) printJson(report);
      else {
        const lines = [
          `tree              ${args.files} files, ${bytes} bytes`,
          ...order.map((t) => `${t.padEnd(18)}${seconds[t]!.map((s) => s.toFixed(2)).join(' / ')} s`),
          `ratio             ${report.ratio} (ferry / rsync median time; below 1: ferry faster)`,
          ...(report.ratioToRsyncFsync !== undefined
            ? [`ratio (fsync)     ${report.ratioToRsyncFsync} (ferry / rsync --fsync)`]
            : []),
          `unchanged re-run  ${report.unchangedRerunSeconds} s (${rerun.alreadyThere} files found there)`,
          `identical         ${identical}`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (!identical || rerun.alreadyThere !== args.files) process.exitCode = 1;
    } finally {
      for (const c of children) await stopChild(c);
      await rm(dir, { recursive: true, force: true });
    }
  },
};
