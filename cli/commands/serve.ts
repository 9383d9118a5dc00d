/**
 * `ferry serve`: runs a ferry server (a flat filesystem from a directory or memory, and any number
 * of named block devices) until SIGINT/SIGTERM, logging one line per transfer.
 *
 * Why a thin module: everything that serves lives in FerryServer (the library API); this parses
 * and checks the flags, reads the secret (on loopback with none given, the per-user secret, made on
 * first use, so other local users cannot connect), prints where it listens and stops cleanly on a
 * signal (requests in progress finish; open uploads are left resumable).
 */
import type { Argv, CommandModule } from 'yargs';
import {
  DEFAULT_SERVER_PORT,
  FerryServer,
  parseBytes,
  parseDurationMs,
  type FerryServerOptions,
} from '../../src/index.js';
import {
  checkEncrypt,
  ENCRYPT_OPTION,
  PACKET_SIZE_OPTION,
  SECRET_FILE_OPTION,
  serveSecret,
  transportFromArgs,
} from '../remote.js';
import { untilSignal } from '../signals.js';
import { UsageError } from '../util.js';
import { checkS3Args, openS3Fs, S3_OPTIONS, type ServeS3Args } from '../s3.js';

interface ServeArgs extends ServeS3Args {
  listen: string;
  root?: string;
  memory: boolean;
  blockdev: string[];
  'secret-file'?: string;
  'read-only': boolean;
  quota?: string;
  insecure: boolean;
  encrypt: boolean;
  discovery?: boolean;
  'discovery-port'?: number;
  'packet-size'?: string;
  name?: string;
  'part-ttl': string;
}

/** Parses HOST:PORT or [V6]:PORT. */
function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  if (!m)
    throw new UsageError(
      `${flag} "${text}": write HOST:PORT, e.g. 127.0.0.1:${DEFAULT_SERVER_PORT} or [::1]:${DEFAULT_SERVER_PORT}`,
    );
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`${flag} "${text}": port must be 0..65535`);
  const raw = m[1]!;
  const host = raw.startsWith('[') ? raw.slice(1, -1) : raw === 'localhost' ? '127.0.0.1' : raw;
  return { host, port };
}

function parseDevices(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0)
      throw new UsageError(`--blockdev "${spec}": write NAME=memory:SIZE or NAME=file:PATH[:SIZE]`);
    const name = spec.slice(0, eq);
    if (name in out) throw new UsageError(`--blockdev ${name} given twice: use one name per device`);
    out[name] = spec.slice(eq + 1);
  }
  return out;
}

/** --part-ttl: how long an unfinished upload may sit idle before it is removed. */
function partTtlFrom(text: string): number {
  const ms = parseDurationMs(text);
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new UsageError(`--part-ttl ${text}: write a positive duration such as 24h, 90m or 3600s`);
  }
  return ms;
}

function optionsFrom(args: ServeArgs): { options: FerryServerOptions; secretNote?: string } {
  const s3 = checkS3Args(args);
  if ([args.root !== undefined, args.memory, s3].filter(Boolean).length > 1)
    throw new UsageError('give one of --root DIR, --memory or --s3 URL, not several');
  if (args.root === undefined && !args.memory && !s3 && args.blockdev.length === 0) {
    throw new UsageError(
      'nothing to serve: give --root DIR, --memory or --s3 URL --bucket NAME (and/or --blockdev NAME=SPEC)',
    );
  }
  const { host, port } = parseHostPort(args.listen, '--listen');
  let quotaBytes: number | undefined;
  if (args.quota !== undefined) {
    quotaBytes = parseBytes(args.quota);
    if (!Number.isSafeInteger(quotaBytes) || quotaBytes <= 0)
      throw new UsageError(`--quota ${args.quota}: write a size such as 10GiB`);
  }
  checkEncrypt(args.encrypt, host, '--listen address');
  const partTtlMs = partTtlFrom(args['part-ttl']);
  const transport = transportFromArgs(args['packet-size']);
  const { secret, note } = serveSecret(host, args['secret-file'], args.insecure);
  const options: FerryServerOptions = {
    host,
    port,
    ...(args.root !== undefined ? { root: args.root } : {}),
    ...(args.memory ? { memory: true } : {}),
    ...(quotaBytes !== undefined ? { quotaBytes } : {}),
    devices: parseDevices(args.blockdev),
    ...(secret !== undefined ? { secret } : {}),
    insecure: args.insecure,
    ...(args.encrypt ? {} : { encrypt: false }),
    readOnly: args['read-only'],
    ...(args.discovery !== undefined ? { discovery: args.discovery } : {}),
    ...(args['discovery-port'] !== undefined ? { discoveryPort: args['discovery-port'] } : {}),
    ...(args.name !== undefined ? { serverName: args.name } : {}),
    ...(transport !== undefined ? { transport } : {}),
    partTtlMs,
    log: (line) => process.stdout.write(line + '\n'),
  };
  return note !== undefined ? { options, secretNote: note } : { options };
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'serve a flat filesystem (directory or memory) and block devices over ferry',
  builder: (y: Argv<object>) =>
    y
      .option('listen', {
        type: 'string',
        default: `127.0.0.1:${DEFAULT_SERVER_PORT}`,
        requiresArg: true,
        describe: 'HOST:PORT to listen on (port 0: any free port)',
      })
      .option('root', { type: 'string', requiresArg: true, describe: 'serve this host directory' })
      .options(S3_OPTIONS)
      .option('memory', {
        type: 'boolean',
        default: false,
        describe: 'serve a filesystem held in memory (bounded by --quota)',
      })
      .option('blockdev', {
        type: 'string',
        array: true,
        default: [] as string[],
        requiresArg: true,
        describe: 'serve a block device: NAME=memory:SIZE or NAME=file:PATH[:SIZE] (repeatable)',
      })
      .option('secret-file', SECRET_FILE_OPTION)
      .option('read-only', { type: 'boolean', default: false, describe: 'refuse every change' })
      .option('quota', {
        type: 'string',
        requiresArg: true,
        describe: 'bound on the total bytes of all files, e.g. 10GiB',
      })
      .option('insecure', {
        type: 'boolean',
        default: false,
        describe: 'no secret: allow a non-loopback address without one, and make none on loopback',
      })
      .option('encrypt', ENCRYPT_OPTION)
      .option('discovery', {
        type: 'boolean',
        describe: 'answer discovery probes (default: on for loopback addresses)',
      })
      .option('discovery-port', {
        type: 'number',
        requiresArg: true,
        describe: 'UDP port of discovery probes',
      })
      .option('packet-size', PACKET_SIZE_OPTION)
      .option('name', { type: 'string', requiresArg: true, describe: 'server name shown by ferry discover' })
      .option('part-ttl', {
        type: 'string',
        default: '24h',
        requiresArg: true,
        describe: 'remove an unfinished upload (part file and journal) idle longer than this, e.g. 24h, 90m',
      })
      .example('$0 serve --memory --quota 8GiB', 'serve 8 GiB of memory on 127.0.0.1:7733')
      .example(
        '$0 serve --listen 0.0.0.0:7733 --root /srv/ferry --secret-file /etc/ferry.secret',
        'serve a directory to the network',
      )
      .example(
        '$0 serve --s3 http://127.0.0.1:7480 --bucket ferry --s3-credentials s3.env',
        'serve an S3 bucket (a Ceph RADOS Gateway)',
      ),
  handler: async (args) => {
    const { options, secretNote } = optionsFrom(args);
    const s3 =
      args.s3 === undefined
        ? null
        : await openS3Fs(args, {
            readOnly: args['read-only'],
            partTtlMs: options.partTtlMs!,
            ...(options.quotaBytes !== undefined ? { quotaBytes: options.quotaBytes } : {}),
            log: (line) => process.stderr.write(`ferry serve: ${line}\n`),
          });
    let server: FerryServer;
    try {
      server = await FerryServer.start(s3 === null ? options : { ...options, fs: s3 });
    } catch (err) {
      await s3?.close().catch(() => undefined);
      throw err;
    }
    const { host, port } = server.address;
    const what = [
      args.root !== undefined
        ? `directory ${args.root}`
        : args.memory
          ? 'memory filesystem'
          : s3 !== null
            ? `S3 bucket ${args.bucket} at ${args.s3}`
            : null,
      ...args.blockdev.map((d) => `device ${d}`),
    ].filter(Boolean);
    // Handlers first, then the announcement: whoever reads "listening" may signal at once.
    const stopped = untilSignal();
    if (secretNote !== undefined) process.stderr.write(`ferry serve: ${secretNote}\n`);
    process.stderr.write(
      `ferry serve: listening on ${host.includes(':') ? `[${host}]` : host}:${port} (${what.join(', ')}${args['read-only'] ? ', read-only' : ''})\n`,
    );
    const signal = await stopped;
    process.stderr.write(
      `ferry serve: ${signal}: stopping (requests in progress finish, open uploads stay resumable)\n`,
    );
    await server.close();
    await s3?.close();
    process.stderr.write('ferry serve: stopped\n');
  },
};
