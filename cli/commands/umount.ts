/**
 * `ferry umount MOUNTPOINT`: unmounts a ferry mount, also one whose serving process died or hangs.
 *
 * Why a command of its own: a stale FUSE mount answers "Transport endpoint is not connected" and a
 * hung one leaves programs stuck; the recovery steps (fusermount -u, then -uz, then the fusectl abort)
 * are easy to get wrong by hand. A live `ferry mount` notices its mount is gone and exits.
 */
import type { Argv, CommandModule } from 'yargs';
import { unmountFuse } from '../../src/index.js';
import { UsageError } from '../util.js';

interface UmountArgs {
  mountpoint: string;
  grace?: string;
  json: boolean;
}

export const umountCommand: CommandModule<object, UmountArgs> = {
  command: 'umount <mountpoint>',
  describe: 'unmount a ferry mount (also recovers a stale or hung one)',
  builder: (y: Argv<object>) =>
    y
      .positional('mountpoint', { type: 'string', demandOption: true, describe: 'where it is mounted' })
      .option('grace', {
        type: 'string',
        requiresArg: true,
        describe: 'ms requests may stay stuck before the connection is aborted (default 2000)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON line' })
      .fail((msg: string | undefined, err: Error | undefined) => {
        throw new UsageError(msg || err?.message || 'bad usage');
      }) as unknown as Argv<UmountArgs>,
  handler: async (argv) => {
    const graceMs = argv.grace === undefined ? undefined : Number(argv.grace);
    if (graceMs !== undefined && (!Number.isInteger(graceMs) || graceMs < 0 || graceMs > 600_000)) {
      throw new UsageError(`--grace ${argv.grace}: use whole milliseconds from 0 to 600000`);
    }
    const r = await unmountFuse(argv.mountpoint, graceMs === undefined ? {} : { graceMs });
    if (argv.json) {
      process.stdout.write(JSON.stringify({ event: 'unmounted', ...r }) + '\n');
      return;
    }
    const how = [
      r.lazy ? 'detached lazily (files were open or the server was gone)' : '',
      r.aborted ? 'stuck requests aborted' : '',
    ]
      .filter(Boolean)
      .join('; ');
    process.stdout.write(`ferry umount: unmounted ${r.mountpoint}${how ? ` (${how})` : ''}\n`);
  },
};
