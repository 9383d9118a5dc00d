/**
 * `ferry rm ferry://HOST:PORT/NAME...`: removes files from a ferry server (all on one server).
 */
import type { Argv, CommandModule } from 'yargs';
import { printJson, UsageError } from '../util.js';
import { connectTo, remoteArg, remoteOptions, type RemoteArgs } from '../remote.js';

interface RmArgs extends RemoteArgs {
  remotes: string[];
  json: boolean;
}

export const rmCommand: CommandModule<object, RmArgs> = {
  command: 'rm <remotes..>',
  describe: 'remove files from a ferry server',
  builder: (y: Argv<object>) =>
    remoteOptions(
      y
        .positional('remotes', {
          type: 'string',
          array: true,
          demandOption: true,
          describe: 'ferry://HOST:PORT/NAME or HOST:PORT:NAME (one server)',
        })
        .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
    ).example('$0 rm 127.0.0.1:7733:old.img', 'remove old.img'),
  handler: async (args) => {
    const refs = args.remotes.map(remoteArg);
    const first = refs[0];
    if (!first) throw new UsageError('rm needs at least one remote file');
    for (const r of refs) {
      if (r.name === null) throw new UsageError(`${r.host}:${r.port} names no file: write HOST:PORT:NAME`);
      if (r.host !== first.host || r.port !== first.port)
        throw new UsageError('rm removes from one server at a time');
    }
    const client = await connectTo(first, args);
    const removed: string[] = [];
    try {
      for (const r of refs) {
        await client.unlink(r.name!);
        removed.push(r.name!);
      }
    } finally {
      await client.close();
    }
    if (args.json) printJson({ removed });
    else for (const n of removed) process.stdout.write(`removed ${n}\n`);
  },
};
