/**
 * `ferry ls ferry://HOST:PORT[/NAME]`: lists the files a server holds (or the one named), as a table
 * or as JSON.
 */
import type { Argv, CommandModule } from 'yargs';
import type { FileStat } from '../../src/index.js';
import { printJson } from '../util.js';
import { connectTo, remoteArg, remoteOptions, type RemoteArgs } from '../remote.js';

interface LsArgs extends RemoteArgs {
  remote: string;
  json: boolean;
}

/** One text line per file: size, modification time, name. */
export function formatEntry(e: FileStat): string {
  return `${String(e.sizeBytes).padStart(14)}  ${new Date(e.mtimeMs).toISOString()}  ${e.name}`;
}

export const lsCommand: CommandModule<object, LsArgs> = {
  command: 'ls <remote>',
  describe: 'list the files on a ferry server',
  builder: (y: Argv<object>) =>
    remoteOptions(
      y
        .positional('remote', {
          type: 'string',
          demandOption: true,
          describe: 'ferry://HOST:PORT[/NAME] or HOST:PORT[:NAME]',
        })
        .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
    ).example('$0 ls ferry://127.0.0.1:7733', 'list every file'),
  handler: async (args) => {
    const ref = remoteArg(args.remote);
    const client = await connectTo(ref, args);
    try {
      const entries = ref.name === null ? await client.listAll() : [await client.stat(ref.name)];
      if (args.json) printJson(entries);
      else for (const e of entries) process.stdout.write(formatEntry(e) + '\n');
    } finally {
      await client.close();
    }
  },
};
