/**
 * `ferry cp SRC... DST`: copies files to a ferry server (offset writes by default, or an append
 * sequence; `-` reads stdin) or from one (`-` writes stdout), verified end to end, resumable.
 *
 * Why a thin module: the copy engine is FerryClient in the library; this decides the direction
 * from the addresses, checks every argument before any network traffic, shows a progress bar on a
 * TTY, and prints a summary (text, or JSON with --json).
 */
import { lstat, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import {
  FerryError,
  fileSource,
  looksRemote,
  type CopyStats,
  type FerryClient,
  type RemoteRef,
} from '../../src/index.js';
import { printJson, UsageError } from '../util.js';
import { formatBytes, progressBar } from '../progress.js';
import { connectTo, remoteArg, remoteOptions } from '../remote.js';
import { copyOne, copyOptions, showProgress, type CopyArgs } from '../copy-file.js';
import { folderName, runTree, walkLocal, walkRemote, type TreePlan } from '../tree.js';

interface CpArgs extends CopyArgs {
  paths: string[];
  recursive: boolean;
  batch: boolean;
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
  const bar = progressBar(item.name, showProgress(args));
  if (bar) opts.onProgress = bar.update;
  try {
    return await copyOne(client, p.direction, item, args, opts);
  } finally {
    bar?.stop();
  }
}

/**
 * `cp -r`: local folders to a server prefix (each SRC as PREFIX/NAME-OF-SRC/...), or a server
 * prefix to a local folder (as DST/LAST-SEGMENT/..., or DST/... for the whole server). Every name is
 * checked before anything is sent.
 */
async function copyTree(args: CpArgs): Promise<void> {
  const paths = pathsWithDashes(args.paths);
  if (paths.length < 2)
    throw new UsageError('cp -r needs a source and a destination: ferry cp -r SRC... DST');
  if (paths.includes('-')) throw new UsageError('cp -r copies folders: - (a pipe) cannot be one');
  const dst = paths[paths.length - 1]!;
  const srcs = paths.slice(0, -1);
  const dstRemote = looksRemote(dst);
  const remoteSrcs = srcs.filter(looksRemote);
  if (dstRemote && remoteSrcs.length > 0)
    throw new UsageError('both sides are remote: one side of cp -r must be a local folder');
  if (!dstRemote && remoteSrcs.length !== srcs.length)
    throw new UsageError(
      remoteSrcs.length === 0
        ? 'neither side is remote: write the server as ferry://HOST:PORT/PREFIX or HOST:PORT:PREFIX'
        : 'mixing local and remote sources: copy in one direction at a time',
    );
  const opts = copyOptions(args); // bad flags fail before any traffic
  let plan: TreePlan;
  let remote: RemoteRef;
  let client: FerryClient;
  if (dstRemote) {
    if (args.mode === 'append') throw new UsageError('cp -r sends files by offset: drop --mode append');
    remote = remoteArg(dst);
    const base = (remote.name ?? '').replace(/\/+$/, '');
    plan = { prefix: base === '' ? '' : `${base}/`, root: '', files: [], folders: [], skipped: [] };
    for (const src of srcs) {
      const st = await lstat(src).catch(() => null);
      if (st === null) throw new FerryError('NOT_FOUND', `no such local folder: ${src}`);
      if (!st.isDirectory())
        throw new UsageError(`cp -r copies folders: ${src} is not one (copy a file without -r)`);
      const part = await walkLocal(src, `${base === '' ? '' : `${base}/`}${folderName(src)}/`);
      plan.files.push(...part.files);
      plan.skipped.push(...part.skipped);
    }
    client = await connectTo(remote, args);
  } else {
    if (srcs.length > 1)
      throw new UsageError('download one folder at a time: ferry cp -r HOST:PORT:PREFIX DIR');
    if (args.resume)
      throw new UsageError('cp -r resumes by itself: run the same command again, without --resume');
    if (args.mode === 'append')
      throw new UsageError('--mode append is for uploads; downloads read by offset');
    if (dst === '-') throw new UsageError('cp -r writes a folder, not stdout: name a local folder');
    remote = remoteArg(srcs[0]!);
    const path = (remote.name ?? '').replace(/\/+$/, '');
    const root = path === '' ? dst : join(dst, path.slice(path.lastIndexOf('/') + 1));
    client = await connectTo(remote, args);
    try {
      plan = await walkRemote(client, path === '' ? '' : `${path}/`, root);
      if (plan.files.length === 0 && path !== '') {
        throw new FerryError('NOT_FOUND', `no folder '${path}' on the server: check the name with ferry ls`);
      }
    } catch (err) {
      await client.close();
      throw err;
    }
  }
  for (const s of plan.skipped) process.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
  try {
    const direction = dstRemote ? 'upload' : 'download';
    const summary = await runTree(client, plan, {
      direction,
      progress: showProgress(args),
      batchSmall: args.batch,
      copyFile: (f, onProgress) => copyOne(client, direction, f, args, { ...opts, resume: true, onProgress }),
    });
    if (args.json) printJson(summary);
    else
      process.stderr.write(
        `${direction === 'upload' ? 'uploaded' : 'downloaded'} ${summary.files} files (${summary.alreadyThere} already there), ${formatBytes(summary.bytesMoved)} moved in ${summary.seconds.toFixed(2)} s; ${summary.skipped.length} skipped\n`,
      );
  } finally {
    await client.close();
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
        .option('recursive', {
          alias: 'r',
          type: 'boolean',
          default: false,
          describe: 'copy folders: local folders to a server prefix, or a prefix to a local folder',
        })
        .option('batch', {
          type: 'boolean',
          default: true,
          describe:
            'move files of at most 256KiB several per message, both ways (--no-batch: each on its own)',
        })
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary' }),
    )
      .example('$0 cp disk.img 127.0.0.1:7733:disk.img', 'upload')
      .example('$0 cp ferry://127.0.0.1:7733/disk.img ./copy.img', 'download')
      .example('tar c dir | $0 cp - 127.0.0.1:7733:dir.tar', 'upload a pipe as an append sequence')
      .example('$0 cp -r photos ferry://127.0.0.1:7733/backup', 'a folder, as backup/photos/...')
      .example('$0 cp -r ferry://127.0.0.1:7733/backup/photos .', 'a folder back, as ./photos/...'),
  handler: async (args) => {
    if (args.recursive) return copyTree(args);
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
