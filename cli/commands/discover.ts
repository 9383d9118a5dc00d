/**
 * `ferry discover`: broadcasts a probe and lists the ferry servers that answer (loopback and the
 * local network), as text or JSON.
 */
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_DISCOVERY_PORT, DEFAULT_DISCOVERY_WAIT_MS, discover } from '../../src/index.js';
import { printJson, UsageError } from '../util.js';

interface DiscoverArgs {
  port: number;
  wait: number;
  broadcast?: string[];
  json: boolean;
}

export const discoverCommand: CommandModule<object, DiscoverArgs> = {
  command: 'discover',
  describe: 'list the ferry servers that answer a broadcast probe',
  builder: (y: Argv<object>) =>
    y
      .option('port', {
        type: 'number',
        default: DEFAULT_DISCOVERY_PORT,
        requiresArg: true,
        describe: 'UDP port of discovery probes',
      })
      .option('wait', {
        type: 'number',
        default: DEFAULT_DISCOVERY_WAIT_MS,
        requiresArg: true,
        describe: 'ms to collect answers',
      })
      .option('broadcast', {
        type: 'string',
        array: true,
        requiresArg: true,
        describe:
          "broadcast addresses (default 127.255.255.255, each interface's broadcast address, 255.255.255.255)",
      })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
  handler: async (args) => {
    if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535)
      throw new UsageError(`--port ${args.port}: use 1..65535`);
    if (!Number.isFinite(args.wait) || args.wait < 1 || args.wait > 60_000)
      throw new UsageError(`--wait ${args.wait}: use 1..60000 ms`);
    const servers = await discover({
      port: args.port,
      waitMs: args.wait,
      ...(args.broadcast ? { broadcast: args.broadcast } : {}),
    });
    if (args.json) {
      printJson(servers);
      return;
    }
    if (servers.length === 0) process.stderr.write('no ferry server answered\n');
    for (const s of servers) {
      const host = s.host.includes(':') ? `[${s.host}]` : s.host;
      process.stdout.write(
        `ferry://${host}:${s.port}  ${s.name}${s.needsSecret ? '  (secret)' : ''}${s.readOnly ? '  (read-only)' : ''}\n`,
      );
    }
  },
};
