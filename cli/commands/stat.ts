/**
 * `ferry stat ferry://HOST:PORT/NAME`: size and times of one file (or, without a name, the
 * server's filesystem totals), as text or JSON.
 */
import type { Argv, CommandModule } from 'yargs';
import { isFerryError, type FerryClient } from '../../src/index.js';
import { printJson } from '../util.js';
import { connectTo, remoteArg, remoteOptions, type RemoteArgs } from '../remote.js';

interface StatArgs extends RemoteArgs {
  remote: string;
  json: boolean;
}

/** The server's name, filesystem totals (when it serves one) and block devices. */
async function serverTotals(client: FerryClient): Promise<Record<string, unknown>> {
  const fs = await client.statfs().catch((err: unknown) => {
    if (isFerryError(err, 'NOT_SUPPORTED')) return null;
    throw err;
  });
  const devices = await client.devices();
  return {
    server: client.server.serverName,
    ...(fs ?? { filesystem: 'none' }),
    devices: devices.map(
      (d) =>
        `${d.name} (${d.sizeBytes} bytes, ${d.blockBytes}-byte blocks${d.readOnly ? ', read-only' : ''})`,
    ),
  };
}

export const statCommand: CommandModule<object, StatArgs> = {
  command: 'stat <remote>',
  describe: 'show a file on a ferry server (or the server totals without a name)',
  builder: (y: Argv<object>) =>
    remoteOptions(
      y
        .positional('remote', {
          type: 'string',
          demandOption: true,
          describe: 'ferry://HOST:PORT/NAME or HOST:PORT:NAME',
        })
        .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
    ).example('$0 stat 127.0.0.1:7733:disk.img', 'size and times of disk.img'),
  handler: async (args) => {
    const ref = remoteArg(args.remote);
    const client = await connectTo(ref, args);
    try {
      const info: Record<string, unknown> =
        ref.name === null ? await serverTotals(client) : { ...(await client.stat(ref.name)) };
      if (args.json) {
        printJson(info);
        return;
      }
      for (const [k, v] of Object.entries(info)) {
        const shown =
          k.endsWith('TimeMs') || k.endsWith('timeMs')
            ? `${String(v)} (${new Date(Number(v)).toISOString()})`
            : String(v);
        process.stdout.write(`${k}: ${shown}\n`);
      }
    } finally {
      await client.close();
    }
  },
};
