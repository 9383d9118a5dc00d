/**
 * `ferry sync SRC DST [--delete]`: makes a server folder hold what a local folder holds, or the
 * reverse, moving only the files that differ (size or modification time, or with `--checksum` size
 * or whole-file xxhash64); with `--delete` it also
 * removes what the destination holds and the source does not. Unlike `cp -r`, the contents of SRC
 * go straight into DST (`sync photos ferry://H:P/backup` gives `backup/a.jpg`, not
 * `backup/photos/a.jpg`).
 *
 * Why beside `cp -r`: the same walk, name checks, copy path and skip rule (cli/tree.ts); sync adds
 * the contents mapping and the deletions, which run only after every copy succeeded.
 */
import { lstat } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { FerryError, looksRemote } from '../../src/index.js';
import { copyOne, copyOptions, showProgress, type CopyArgs } from '../copy-file.js';
import { formatBytes } from '../progress.js';
import { connectTo, remoteArg, remoteOptions } from '../remote.js';
import { listRemote, runTree, walkLocal, walkRemote } from '../tree.js';
import { printJson, UsageError } from '../util.js';

interface SyncArgs extends Omit<CopyArgs, 'mode' | 'resume'> {
  src: string;
  dst: string;
  delete: boolean;
  checksum: boolean;
  batch: boolean;
}

export const syncCommand: CommandModule<object, SyncArgs> = {
  command: 'sync <src> <dst>',
  describe: 'make a folder on a server match a local one, or the reverse, copying only what differs',
  builder: (y: Argv<object>) =>
    remoteOptions(
      y
        .positional('src', {
          type: 'string',
          demandOption: true,
          describe: 'a local folder, or ferry://HOST:PORT[/PREFIX]',
        })
        .positional('dst', {
          type: 'string',
          demandOption: true,
          describe: 'ferry://HOST:PORT[/PREFIX], or a local folder',
        })
        .option('delete', {
          type: 'boolean',
          default: false,
          describe: 'also remove files the destination holds and the source does not',
        })
        .option('checksum', {
          alias: 'c',
          type: 'boolean',
          default: false,
          describe:
            'tell files of the same size apart by whole-file xxhash64 (both sides read), not modification time',
        })
        .option('verify', {
          type: 'boolean',
          default: true,
          describe: 'check each whole-file xxhash64 (block hashes are always checked)',
        })
        .option('rate', {
          type: 'string',
          requiresArg: true,
          describe: 'cap the rate per file, bytes per second',
        })
        .option('block-size', { type: 'string', requiresArg: true, describe: 'block size, 4KiB to 4MiB' })
        .option('window', { type: 'number', requiresArg: true, describe: 'blocks in flight per file' })
        .option('progress', { type: 'boolean', describe: 'progress bar (default: on when stderr is a TTY)' })
        .option('batch', {
          type: 'boolean',
          default: true,
          describe:
            'move files of at most 256KiB several per message, both ways (--no-batch: each on its own)',
        })
        .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary' }),
    )
      .example('$0 sync photos ferry://127.0.0.1:7733/backup', 'photos/a.jpg goes to backup/a.jpg')
      .example('$0 sync ferry://127.0.0.1:7733/backup ./restore --delete', 'and remove what backup lacks')
      .example('$0 sync photos ferry://127.0.0.1:7733/backup --checksum', 'compare contents, not times'),
  handler: async (args) => {
    const up = looksRemote(args.dst);
    if (up === looksRemote(args.src)) {
      throw new UsageError(
        up
          ? 'both sides are remote: one side of sync must be a local folder'
          : 'neither side is remote: write the server as ferry://HOST:PORT/PREFIX or HOST:PORT:PREFIX',
      );
    }
    // resume both ways: a file a killed run left part-way continues from what its part file holds
    const copyArgs: CopyArgs = { ...args, mode: 'offset', resume: true };
    const opts = copyOptions(copyArgs); // bad flags fail before any traffic
    const remote = remoteArg(up ? args.dst : args.src);
    const folder = (remote.name ?? '').replace(/\/+$/, '');
    const prefix = folder === '' ? '' : `${folder}/`;
    const local = up ? args.src : args.dst;
    if (up) {
      const st = await lstat(local).catch(() => null);
      if (st === null || !st.isDirectory())
        throw new FerryError('NOT_FOUND', `no such local folder: ${local} (sync copies folders)`);
    }
    // The local walk, the connection and the server's listing overlap (on a tree of many files the
    // walk and the listing are most of an unchanged sync); a bad local name is still the error shown.
    const walking = up ? walkLocal(local, prefix) : null;
    walking?.catch(() => undefined);
    const client = await connectTo(remote, args).catch(async (err: unknown) => {
      await walking;
      throw err;
    });
    try {
      const present = up ? listRemote(client, prefix) : undefined;
      present?.catch(() => undefined);
      const plan = walking !== null ? await walking : await walkRemote(client, prefix, local);
      for (const s of plan.skipped) process.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
      const direction = up ? 'upload' : 'download';
      const summary = await runTree(client, plan, {
        direction,
        progress: showProgress(copyArgs),
        deleteExtra: args.delete,
        checksum: args.checksum,
        ...(present !== undefined ? { present } : {}),
        batchSmall: args.batch,
        copyFile: (f, onProgress) => copyOne(client, direction, f, copyArgs, { ...opts, onProgress }),
      });
      if (args.json) printJson(summary);
      else
        process.stderr.write(
          `synced ${summary.files} files: ${summary.files - summary.alreadyThere} copied (${formatBytes(summary.bytesMoved)}), ${summary.alreadyThere} already the same${args.checksum ? ` (${summary.filesHashed} compared by hash)` : ''}, ${summary.deleted} deleted, ${summary.skipped.length} skipped, in ${summary.seconds.toFixed(2)} s\n`,
        );
    } finally {
      await client.close();
    }
  },
};
