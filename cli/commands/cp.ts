/**
 * `ferry cp SRC... DST`: copies files to a ferry server (offset writes by default, or an append
 * sequence; `-` reads stdin) or from one (`-` writes stdout), verified end to end, resumable.
 *
 * Why a thin module: the copy engine is FerryClient in the library; this decides the direction
 * from the addresses, checks every argument before any network traffic, shows a progress bar on a
 * TTY, and prints a summary (text, or JSON with --json).
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import {
  partFileSink,
  fileSource,
  looksRemote,
  parseBytes,
  streamSink,
  type CopyOptions,
  type DownloadGeometry,
  type CopyStats,
  type FerryClient,
  type RemoteRef,
} from '../../src/index.js';
import { printJson, UsageError } from '../util.js';
import { formatBytes, progressBar } from '../progress.js';
import { connectTo, remoteArg, remoteOptions, type RemoteArgs } from '../remote.js';

interface CpArgs extends RemoteArgs {
  paths: string[];
  mode: string;
  resume: boolean;
  verify: boolean;
  rate?: string;
  json: boolean;
  'block-size'?: string;
  window?: number;
  progress?: boolean;
}

function copyOptions(args: CpArgs): CopyOptions {
  const opts: CopyOptions = { resume: args.resume, verify: args.verify };
  if (args.rate !== undefined) {
    const rate = parseBytes(args.rate);
    if (!Number.isSafeInteger(rate) || rate <= 0)
      throw new UsageError(`--rate ${args.rate}: write bytes per second, e.g. 50MiB`);
    opts.rateBytesPerSec = rate;
  }
  if (args['block-size'] !== undefined) {
    const b = parseBytes(args['block-size']);
    if (!Number.isSafeInteger(b) || b < 4096 || b > 4 * 1024 * 1024 || (b & (b - 1)) !== 0) {
      throw new UsageError(`--block-size ${args['block-size']}: use a power of two from 4KiB to 4MiB`);
    }
    opts.blockBytes = b;
  }
  if (args.window !== undefined) {
    if (!Number.isInteger(args.window) || args.window < 1 || args.window > 256)
      throw new UsageError(`--window ${args.window}: use 1..256 blocks`);
    opts.windowBlocks = args.window;
  }
  return opts;
}

interface Plan {
  direction: 'upload' | 'download';
  remote: RemoteRef;
  /** upload: local paths (or '-'); download: remote names */
  items: Array<{ local: string; name: string }>;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Options of cp that take a value (to tell values from positionals in the raw argv). */
const VALUE_OPTIONS = new Set([
  '--secret-file',
  '--packet-size',
  '--connect-timeout',
  '--mode',
  '--rate',
  '--block-size',
  '--window',
]);

/**
 * The positionals of `cp` with any lone `-` kept: the argument parser drops a lone `-`, so the
 * paths are read again from the process arguments when one is there.
 */
function pathsWithDashes(parsed: readonly string[]): string[] {
  const raw = process.argv.slice(2);
  const at = raw.indexOf('cp');
  if (at < 0 || !raw.includes('-')) return [...parsed];
  const out: string[] = [];
  for (let i = at + 1; i < raw.length; i++) {
    const tok = raw[i]!;
    if (tok === '--') {
      out.push(...raw.slice(i + 1));
      break;
    }
    if (tok !== '-' && tok.startsWith('-')) {
      if (VALUE_OPTIONS.has(tok)) i++;
      continue;
    }
    out.push(tok);
  }
  return out;
}

async function plan(args: CpArgs): Promise<Plan> {
  args.paths = pathsWithDashes(args.paths);
  if (args.paths.length < 2) throw new UsageError('cp needs a source and a destination: ferry cp SRC... DST');
  const dst = args.paths[args.paths.length - 1]!;
  const srcs = args.paths.slice(0, -1);
  const dstRemote = looksRemote(dst);
  const remoteSrcs = srcs.filter(looksRemote);
  if (dstRemote && remoteSrcs.length > 0)
    throw new UsageError('both sides are remote: one side of cp must be a local file');
  if (!dstRemote && remoteSrcs.length === 0)
    throw new UsageError(
      `neither side is remote: write the server as ferry://HOST:PORT/NAME or HOST:PORT:NAME`,
    );
  if (dstRemote) {
    const remote = remoteArg(dst);
    if (srcs.length > 1 && remote.name !== null)
      throw new UsageError(
        'several sources go to a server, not to one name: drop the name from the destination',
      );
    if (srcs.includes('-') && remote.name === null)
      throw new UsageError('stdin (-) has no name: give one in the destination, e.g. HOST:PORT:name');
    return {
      direction: 'upload',
      remote,
      items: srcs.map((s) => ({ local: s, name: remote.name ?? basename(s) })),
    };
  }
  if (remoteSrcs.length !== srcs.length)
    throw new UsageError('mixing local and remote sources: copy in one direction at a time');
  if (srcs.length > 1) throw new UsageError('download one file at a time: ferry cp HOST:PORT:NAME LOCAL');
  const remote = remoteArg(srcs[0]!);
  if (remote.name === null) throw new UsageError(`${srcs[0]} names no file: write ferry://HOST:PORT/NAME`);
  if (args.resume && dst === '-')
    throw new UsageError('stdout cannot be resumed: download to a file to use --resume');
  if (args.mode === 'append') throw new UsageError('--mode append is for uploads; downloads read by offset');
  const local = dst !== '-' && (await isDirectory(dst)) ? join(dst, remote.name) : dst;
  return { direction: 'download', remote, items: [{ local, name: remote.name }] };
}

async function runOne(
  client: FerryClient,
  p: Plan,
  item: { local: string; name: string },
  args: CpArgs,
): Promise<CopyStats> {
  const opts = copyOptions(args);
  const bar = progressBar(item.name, args.progress ?? (process.stderr.isTTY === true && !args.json));
  if (bar) opts.onProgress = bar.update;
  try {
    if (p.direction === 'download') {
      const makeSink =
        item.local === '-'
          ? async () => streamSink(process.stdout)
          : (_size: number, geometry: DownloadGeometry) => partFileSink(item.local, geometry);
      return await client.download(item.name, makeSink, opts);
    }
    if (item.local === '-') {
      if (args.resume) throw new UsageError('stdin cannot be resumed: copy from a file to use --resume');
      return await client.uploadAppend({ stream: process.stdin }, item.name, opts);
    }
    const source = await fileSource(item.local);
    try {
      return args.mode === 'append'
        ? await client.uploadAppend({ source }, item.name, opts)
        : await client.upload(source, item.name, opts);
    } finally {
      await source.close();
    }
  } finally {
    bar?.stop();
  }
}

function summaryOf(s: CopyStats): Record<string, unknown> {
  return {
    direction: s.direction,
    mode: s.mode,
    name: s.name,
    bytes: s.bytes,
    bytesMoved: s.bytesMoved,
    seconds: Number(s.seconds.toFixed(3)),
    rateBytesPerSec: Math.round(s.rateBytesPerSec),
    retransmits: s.retransmits,
    rttMs: Number(s.rttMs.toFixed(3)),
    blockBytes: s.blockBytes,
    blocksSent: s.blocksSent,
    blocksResent: s.blocksResent,
    blocksSkipped: s.blocksSkipped,
    resumed: s.resumed,
    fileHash: s.fileHash,
  };
}

export const cpCommand: CommandModule<object, CpArgs> = {
  command: 'cp <paths..>',
  describe: 'copy files to or from a ferry server (verified, resumable)',
  builder: (y: Argv<object>) =>
    remoteOptions(
      y
        .positional('paths', {
          type: 'string',
          array: true,
          demandOption: true,
          describe: 'SRC... DST; remote as ferry://HOST:PORT/NAME or HOST:PORT:NAME; - for stdin/stdout',
        })
        .option('mode', {
          type: 'string',
          choices: ['offset', 'append'],
          default: 'offset',
          describe: 'offset: blocks in any order (default); append: an ordered sequence',
        })
        .option('resume', {
          type: 'boolean',
          default: false,
          describe: 'continue a partial copy: move only the blocks the other side lacks',
        })
        .option('verify', {
          type: 'boolean',
          default: true,
          describe: 'check the whole-file xxhash64 (--no-verify skips it; block hashes are always checked)',
        })
        .option('rate', {
          type: 'string',
          requiresArg: true,
          describe: 'cap the rate, bytes per second (e.g. 50MiB)',
        })
        .option('block-size', {
          type: 'string',
          requiresArg: true,
          describe: 'block size, a power of two from 4KiB to 4MiB (default 256KiB)',
        })
        .option('window', { type: 'number', requiresArg: true, describe: 'blocks in flight (default 32)' })
        .option('progress', { type: 'boolean', describe: 'progress bar (default: on when stderr is a TTY)' })
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary' }),
    )
      .example('$0 cp disk.img 127.0.0.1:7733:disk.img', 'upload')
      .example('$0 cp ferry://127.0.0.1:7733/disk.img ./copy.img', 'download')
      .example('tar c dir | $0 cp - 127.0.0.1:7733:dir.tar', 'upload a pipe as an append sequence'),
  handler: async (args) => {
    const p = await plan(args);
    copyOptions(args); // bad flags fail before any traffic
    if (p.direction === 'upload') {
      for (const item of p.items) {
        if (item.local === '-') continue;
        await fileSource(item.local).then((s) => s.close());
      }
    }
    const client = await connectTo(p.remote, args);
    const results: CopyStats[] = [];
    try {
      for (const item of p.items) {
        const s = await runOne(client, p, item, args);
        results.push(s);
        if (!args.json && !(p.direction === 'download' && item.local === '-')) {
          process.stderr.write(
            `${s.direction === 'upload' ? 'uploaded' : 'downloaded'} ${s.name}: ${formatBytes(s.bytes)} in ${s.seconds.toFixed(2)} s (${formatBytes(s.rateBytesPerSec)}/s, ${s.retransmits} retransmits${s.resumed ? `, resumed: ${s.blocksSkipped} blocks already there` : ''})\n`,
          );
        }
      }
    } finally {
      await client.close();
    }
    if (args.json) printJson(results.length === 1 ? summaryOf(results[0]!) : results.map(summaryOf));
  },
};
