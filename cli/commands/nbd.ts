/**
 * `ferry nbd`: exports a ferry block device as an NBD export on a Unix socket or a loopback TCP
 * port, so qemu, nbdcopy, fio and the kernel's nbd client can use it unchanged.
 *
 * Why a command: it is the one way to put a ferry device (memory, file, or a remote device)
 * in front of existing block tools. This module only parses, opens the device, prints where it
 * listens, and on SIGINT/SIGTERM closes the server (which flushes the device) and the device.
 */
import type { Argv, CommandModule } from 'yargs';
import {
  FileBlockDevice,
  MemoryBlockDevice,
  NbdServer,
  parseBytes,
  RemoteBlockDevice,
  type BlockDevice,
  type NbdListenAddress,
} from '../../src/index.js';
import { connectTo, ENCRYPT_OPTION, remoteArg } from '../remote.js';
import { untilSignal } from '../signals.js';
import { asUsage, failAsUsage, throwAsUsage, UsageError } from '../util.js';

interface NbdArgs {
  remote?: string;
  memory?: string;
  file?: string;
  size?: string;
  unix?: string;
  listen?: string;
  'read-only': boolean;
  export: string;
  insecure: boolean;
  config?: string;
  'secret-file'?: string;
  encrypt: boolean;
}

export const nbdCommand: CommandModule<object, NbdArgs> = {
  command: 'nbd [remote]',
  describe: 'export a block device over NBD (for qemu, nbdcopy, fio, nbd-client) until SIGINT/SIGTERM',
  builder: (y: Argv<object>) =>
    y
      .positional('remote', { type: 'string', describe: 'a remote device: ferry://HOST:PORT/DEV' })
      .option('memory', {
        type: 'string',
        requiresArg: true,
        describe: 'export a new memory device of SIZE (e.g. 1GiB)',
      })
      .option('file', {
        type: 'string',
        requiresArg: true,
        describe: 'export a file or block device at PATH',
      })
      .option('size', {
        type: 'string',
        requiresArg: true,
        describe: 'with --file: create the file (sparse) at SIZE if missing, grow it if smaller',
      })
      .option('unix', { type: 'string', requiresArg: true, describe: 'listen on the Unix socket PATH' })
      .option('listen', {
        type: 'string',
        requiresArg: true,
        describe: 'listen on TCP HOST:PORT (loopback only unless --insecure; port 0: any free port)',
      })
      .option('read-only', { type: 'boolean', default: false, describe: 'refuse writes' })
      .option('export', {
        type: 'string',
        default: '',
        describe: 'export name (the empty default name also works)',
      })
      .option('insecure', {
        type: 'boolean',
        default: false,
        describe:
          'allow --listen on an address that is not loopback (NBD has no authentication); with ferry://, dial without a secret',
      })
      .option('secret-file', {
        type: 'string',
        requiresArg: true,
        describe:
          'with ferry://: file holding the shared secret of the server (else FERRY_SECRET; on loopback, else the per-user secret)',
      })
      .option('encrypt', { ...ENCRYPT_OPTION, describe: `with ferry://: ${ENCRYPT_OPTION.describe}` })
      .option('config', {
        type: 'string',
        requiresArg: true,
        describe: 'server settings as key=value,... (maxPayloadBytes, maxInFlight, maxInFlightBytes, ...)',
      })
      .fail(failAsUsage)
      .example(
        '$0 nbd --memory 1GiB --unix /tmp/ferry.sock',
        'then: nbdinfo "nbd+unix:///?socket=/tmp/ferry.sock"',
      )
      .example(
        '$0 nbd --file disk.img --size 8G --listen 127.0.0.1:10809',
        'then: qemu-img info nbd://127.0.0.1:10809',
      ) as unknown as Argv<NbdArgs>,
  handler: async (argv) => {
    const where = listenAddress(argv);
    const device = await openDevice(argv);
    let server: NbdServer;
    try {
      server = await startServer(argv, device, where);
    } catch (err) {
      await device.close();
      throw err;
    }
    const stopped = untilSignal({ forceExitCode: 1 });
    process.stdout.write(
      `ferry nbd: exporting ${describeDevice(argv, device)} as "${argv.export}" on ${server.address}\n` +
        `uri: ${server.uri}\n`,
    );
    const signal = await stopped;
    process.stdout.write(`ferry nbd: ${signal}: finishing requests in flight and flushing the device\n`);
    try {
      await server.close();
    } finally {
      await closeWithin(device, DEVICE_CLOSE_WAIT_MS);
    }
    process.stdout.write('ferry nbd: stopped\n');
  },
};

/** How long stopping waits for the device to close (a remote device whose server is gone may not answer). */
const DEVICE_CLOSE_WAIT_MS = 10_000;

async function closeWithin(device: BlockDevice, limitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, limitMs);
  });
  await Promise.race([device.close().catch(() => undefined), expired]);
  clearTimeout(timer);
}

function listenAddress(argv: NbdArgs): NbdListenAddress {
  if ((argv.unix === undefined) === (argv.listen === undefined)) {
    throw new UsageError('give exactly one of --unix PATH or --listen HOST:PORT');
  }
  if (argv.unix !== undefined) {
    if (argv.unix === '') throw new UsageError('--unix needs a socket path');
    return { unix: argv.unix };
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(argv.listen!);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new UsageError(`--listen ${argv.listen}: write HOST:PORT, e.g. 127.0.0.1:10809`);
  return { host: (m[1] ?? m[2])!, port, insecure: argv.insecure };
}

async function openDevice(argv: NbdArgs): Promise<BlockDevice> {
  const sources = [argv.remote, argv.memory, argv.file].filter((s) => s !== undefined);
  if (sources.length !== 1) {
    throw new UsageError('give exactly one device: --memory SIZE, --file PATH, or ferry://HOST:PORT/DEV');
  }
  if (argv.size !== undefined && argv.file === undefined) throw new UsageError('--size goes with --file');
  const readOnly = argv['read-only'];
  if (argv.memory !== undefined) {
    const sizeBytes = sizeOf('--memory', argv.memory);
    return asUsage(
      () => new MemoryBlockDevice({ sizeBytes, memoryLimitBytes: sizeBytes, readOnly }),
      ['INVALID_ARGUMENT'],
    );
  }
  if (argv.file !== undefined) {
    const sizeBytes = argv.size === undefined ? undefined : sizeOf('--size', argv.size);
    return FileBlockDevice.open(argv.file, { sizeBytes, readOnly, create: sizeBytes !== undefined });
  }
  return openRemote(argv.remote!, argv);
}

/** A device of a `ferry serve` over the network (RemoteBlockDevice), authenticated like `ferry cp`. */
async function openRemote(url: string, argv: NbdArgs): Promise<BlockDevice> {
  if (!url.startsWith('ferry://')) {
    throw new UsageError(`"${url}" is not a device: write ferry://HOST:PORT/DEV, or use --memory / --file`);
  }
  const ref = remoteArg(url);
  if (ref.name === null) throw new UsageError(`name the device to export: ${url}/DEV`);
  const client = await connectTo(ref, {
    ...(argv['secret-file'] !== undefined ? { 'secret-file': argv['secret-file'] } : {}),
    insecure: argv.insecure,
    encrypt: argv.encrypt,
  });
  try {
    return await RemoteBlockDevice.open(client, ref.name, { ownsClient: true });
  } catch (err) {
    await client.close();
    throw err;
  }
}

async function startServer(argv: NbdArgs, device: BlockDevice, where: NbdListenAddress): Promise<NbdServer> {
  try {
    return await NbdServer.listen(
      { device, exportName: argv.export, readOnly: argv['read-only'], config: argv.config },
      where,
    );
  } catch (err) {
    throwAsUsage(err, ['INVALID_ARGUMENT', 'INVALID_CONFIG', 'INSECURE_BIND']);
  }
}

function sizeOf(flag: string, text: string): number {
  const n = parseBytes(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`${flag} ${text}: write a size such as 512MiB or 8G`);
  return n;
}

function describeDevice(argv: NbdArgs, device: BlockDevice): string {
  const what =
    argv.memory !== undefined
      ? 'memory device'
      : argv.file !== undefined
        ? `file ${argv.file}`
        : argv.remote!;
  return `${what} (${device.sizeBytes} bytes${device.readOnly || argv['read-only'] ? ', read-only' : ''})`;
}
