/**
 * `ferry mount`: serves a flat filesystem (memory, a host folder, a remote ferry server) as a FUSE
 * mount, in the foreground, until Ctrl-C, SIGTERM or `ferry umount`; a remote mount whose server
 * session is gone for good (the server died or restarted) unmounts itself and exits 1.
 *
 * Why foreground: the process that serves a mount must stay alive and must never touch the mount
 * itself; a foreground command makes both obvious, and a supervisor (systemd, a test) can stop it by
 * pid. SIGUSR2 prints the operation counters (how many reads and writes, and how large) without
 * stopping: the way to check that writes arrive as 128 KiB operations.
 */
import os from 'node:os';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import {
  checkFuseAvailable,
  describeSchema,
  DirectoryFlatFs,
  FerryError,
  FUSE_MOUNT_SCHEMA,
  isFerryError,
  MemoryFlatFs,
  formatRemote,
  RemoteFlatFs,
  mountFlatFs,
  parseBytes,
  parseKeyValues,
  readFuseMountConfig,
  type ErrorCode,
  type FlatFs,
  type FuseMount,
  type FuseMountConfig,
} from '../../src/index.js';
import { connectTo, ENCRYPT_OPTION, INSECURE_CLIENT_OPTION, remoteArg } from '../remote.js';
import { asUsage, failAsUsage, UsageError } from '../util.js';

interface MountArgs {
  paths: string[];
  memory: boolean;
  quota?: string;
  root?: string;
  'read-only': boolean;
  'attr-timeout'?: string;
  'entry-timeout'?: string;
  'op-timeout'?: string;
  cache?: string;
  'secret-file'?: string;
  insecure: boolean;
  encrypt: boolean;
  config?: string;
  json: boolean;
}

/** A backend opened for mounting, with a one-line description for people. */
interface Backend {
  fs: FlatFs;
  description: string;
}

export const mountCommand: CommandModule<object, MountArgs> = {
  command: 'mount <paths..>',
  describe: 'mount a flat filesystem with FUSE (foreground; Ctrl-C or ferry umount to stop)',
  builder: (y: Argv<object>) =>
    y
      .usage(
        '$0 mount (--memory [--quota BYTES] | --root DIR) MOUNTPOINT\n$0 mount ferry://HOST:PORT MOUNTPOINT\n\n' +
          'Serves the filesystem at MOUNTPOINT (an empty folder) until Ctrl-C, SIGTERM or `ferry umount`.\n' +
          'SIGUSR2 prints the counts and largest sizes of read and write operations.',
      )
      .positional('paths', { type: 'string', array: true, describe: '[ferry://HOST:PORT] MOUNTPOINT' })
      .option('memory', {
        type: 'boolean',
        default: false,
        describe: 'serve a new empty filesystem held in memory',
      })
      .option('quota', {
        type: 'string',
        requiresArg: true,
        describe:
          'total bytes of all files, e.g. 8GiB (default: half the RAM with --memory, none with --root)',
      })
      .option('root', { type: 'string', requiresArg: true, describe: 'serve the files of this host folder' })
      .option('read-only', { type: 'boolean', default: false, describe: 'refuse every change (EROFS)' })
      .option('attr-timeout', {
        type: 'string',
        requiresArg: true,
        describe: 'how long the kernel caches attributes, e.g. 1s, 250ms, 0 (default 1s)',
      })
      .option('entry-timeout', {
        type: 'string',
        requiresArg: true,
        describe: 'how long the kernel caches name lookups (default 1s)',
      })
      .option('op-timeout', {
        type: 'string',
        requiresArg: true,
        describe: 'a backend operation slower than this fails with EIO (default 10s)',
      })
      .option('cache', {
        type: 'string',
        requiresArg: true,
        choices: CACHE_MODES,
        describe:
          'what the mount caches, safe while it is the only writer: none (every stat, lookup and read asks the backend), ' +
          'metadata (the kernel keeps attributes and lookups --attr-timeout/--entry-timeout), ' +
          'full (metadata; sequential reads fetched 4 MiB ahead per open file, dropped by changes made here; writes answered once sent, up to 16 MiB in flight, close and fsync waiting for them and reporting their errors) ' +
          '(default: full with ferry://, metadata otherwise)',
      })
      .option('secret-file', {
        type: 'string',
        requiresArg: true,
        describe:
          'with ferry://: file holding the shared secret (else FERRY_SECRET; on loopback, else the per-user secret)',
      })
      .option('insecure', {
        ...INSECURE_CLIENT_OPTION,
        describe: `with ferry://: ${INSECURE_CLIENT_OPTION.describe}`,
      })
      .option('encrypt', { ...ENCRYPT_OPTION, describe: `with ferry://: ${ENCRYPT_OPTION.describe}` })
      .option('config', {
        type: 'string',
        requiresArg: true,
        describe: 'more mount settings as key=value,...',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON lines instead of text' })
      .fail(failAsUsage)
      .example('$0 mount --memory --quota 4GiB /mnt/ferry', 'a 4 GiB scratch filesystem in memory')
      .example('$0 mount --root /srv/data --read-only /mnt/data', 'a host folder, read-only')
      .epilog(
        'Settings for --config:\n  ' + describeSchema(FUSE_MOUNT_SCHEMA).join('\n  '),
      ) as unknown as Argv<MountArgs>,
  handler: async (argv) => {
    const { source, mountpoint } = splitPaths(argv);
    const config = mountConfig(argv, source !== null);
    checkFuseAvailable();
    const backend = await openBackend(argv, source);
    let mount: FuseMount;
    try {
      mount = await mountFlatFs(backend.fs, mountpoint, config);
    } catch (err) {
      await backend.fs.close().catch(() => undefined);
      throw err;
    }
    printStart(mount, backend, argv.json);
    const onStatsSignal = (): void => printStats(mount, argv.json, 'stats');
    process.on('SIGUSR2', onStatsSignal);
    const stop = await untilStopped(mount);
    process.off('SIGUSR2', onStatsSignal);
    await mount.unmount();
    await backend.fs.close().catch((err: unknown) => {
      if (stop.lostCode === null) throw err;
    });
    printStats(mount, argv.json, stop.why);
    if (stop.lostCode !== null) {
      throw new FerryError(
        stop.lostCode,
        `lost ${backend.description} (${stop.lostCode}): ${mount.mountpoint} was unmounted; mount again once it is back`,
      );
    }
  },
};

/** One or two positionals: MOUNTPOINT with --memory/--root, or ferry://HOST:PORT MOUNTPOINT. */
function splitPaths(argv: MountArgs): { source: string | null; mountpoint: string } {
  const local = argv.memory || argv.root !== undefined;
  if (argv.memory && argv.root !== undefined) throw new UsageError('give --memory or --root DIR, not both');
  if (argv.quota !== undefined && !local) throw new UsageError('--quota goes with --memory or --root');
  const [first, second, ...rest] = argv.paths;
  if (rest.length > 0 || first === undefined) throw new UsageError('too many or too few paths');
  if (local) {
    if (second !== undefined) throw new UsageError('with --memory or --root, give only the MOUNTPOINT');
    return { source: null, mountpoint: first };
  }
  if (second === undefined) {
    throw new UsageError(
      'say what to mount: --memory, --root DIR, or ferry://HOST:PORT before the MOUNTPOINT',
    );
  }
  return { source: first, mountpoint: second };
}

/** --config, then the individual flags over it; bad values are bad usage. */
/** The --cache modes, from least to most kept (like rclone's VFS cache modes, for one writer). */
const CACHE_MODES = ['none', 'metadata', 'full'] as const;
type CacheMode = (typeof CACHE_MODES)[number];
/** What `--cache full` reads ahead of a sequential reader, per open file. */
const FULL_CACHE_READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** What `--cache full` lets writers have in flight before the backend answered, over the mount. */
const FULL_CACHE_WRITE_BACK_BYTES = 16 * 1024 * 1024;

/** The settings a --cache mode stands for (--config and the timeout flags override them). */
function cacheSettings(mode: CacheMode): Record<string, unknown> {
  if (mode === 'none')
    return { attrTimeoutMs: 0, entryTimeoutMs: 0, dataReadAheadBytes: 0, writeBackBytes: 0 };
  if (mode === 'metadata') return { dataReadAheadBytes: 0, writeBackBytes: 0 };
  return { dataReadAheadBytes: FULL_CACHE_READ_AHEAD_BYTES, writeBackBytes: FULL_CACHE_WRITE_BACK_BYTES };
}

function mountConfig(argv: MountArgs, remote: boolean): FuseMountConfig {
  return asUsage(() => {
    const mode = (argv.cache ?? (remote ? 'full' : 'metadata')) as CacheMode;
    const given: Record<string, unknown> = {
      ...cacheSettings(mode),
      ...parseKeyValues(argv.config ?? '', '--config'),
    };
    if (argv['read-only']) given.readOnly = true;
    if (argv['attr-timeout'] !== undefined) given.attrTimeoutMs = argv['attr-timeout'];
    if (argv['entry-timeout'] !== undefined) given.entryTimeoutMs = argv['entry-timeout'];
    if (argv['op-timeout'] !== undefined) given.opTimeoutMs = argv['op-timeout'];
    return readFuseMountConfig(given);
  });
}

async function openBackend(argv: MountArgs, source: string | null): Promise<Backend> {
  if (argv.memory) return openMemory(argv.quota);
  if (argv.root !== undefined) return openDirectory(argv.root, argv['read-only'], argv.quota);
  return openRemote(source ?? '', argv);
}

function openMemory(quotaText: string | undefined): Backend {
  const quotaBytes = quotaText === undefined ? Math.floor(os.totalmem() / 2) : quotaOf(quotaText);
  try {
    return {
      fs: new MemoryFlatFs({ quotaBytes }),
      description: `memory filesystem (quota ${gib(quotaBytes)})`,
    };
  } catch (err) {
    if (isFerryError(err)) throw new UsageError(`--quota ${quotaText}: ${err.message}`);
    throw err;
  }
}

function quotaOf(text: string): number {
  const bytes = parseBytes(text);
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    throw new UsageError(`--quota ${text}: use a size such as 512MiB or 8GiB`);
  return bytes;
}

async function openDirectory(
  root: string,
  readOnly: boolean,
  quotaText: string | undefined,
): Promise<Backend> {
  const quotaBytes = quotaText === undefined ? undefined : quotaOf(quotaText);
  const fs = await DirectoryFlatFs.open({
    root,
    readOnly,
    ...(quotaBytes === undefined ? {} : { quotaBytes }),
  });
  const quota = quotaBytes === undefined ? '' : `, quota ${gib(quotaBytes)}`;
  return { fs, description: `folder ${path.resolve(root)}${quota}` };
}

/** A ferry server over the network (`ferry serve`), through RemoteFlatFs. */
async function openRemote(url: string, argv: MountArgs): Promise<Backend> {
  const ref = remoteArg(url);
  if (ref.name !== null) throw new UsageError(`mount a server, not a file: ferry://${ref.host}:${ref.port}`);
  const client = await connectTo(ref, {
    ...(argv['secret-file'] !== undefined ? { 'secret-file': argv['secret-file'] } : {}),
    insecure: argv.insecure,
    encrypt: argv.encrypt,
  });
  return { fs: new RemoteFlatFs(client), description: `server ${formatRemote(ref)}` };
}

interface Stop {
  /** A signal name, "unmounted" (from outside) or "lost PEER_DEAD" (backend gone). */
  why: string;
  lostCode: ErrorCode | null;
}

/** Resolves with what stopped the mount: a signal, the mount removed from outside, or a lost backend. */
function untilStopped(mount: FuseMount): Promise<Stop> {
  return new Promise((resolve) => {
    const done = (why: string, lostCode: ErrorCode | null = null): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve({ why, lostCode });
    };
    const onSignal = (signal: NodeJS.Signals): void => done(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    void mount.detached.then(() => done('unmounted'));
    void mount.lost.then((code) => done(`lost ${code}`, code));
  });
}

function printStart(mount: FuseMount, backend: Backend, json: boolean): void {
  if (json) {
    const line = {
      event: 'mounted',
      mountpoint: mount.mountpoint,
      backend: backend.description,
      pid: process.pid,
    };
    process.stdout.write(JSON.stringify({ ...line, readOnly: mount.config.readOnly }) + '\n');
    return;
  }
  process.stdout.write(
    `ferry mount: ${backend.description} mounted at ${mount.mountpoint}${mount.config.readOnly ? ' (read-only)' : ''}\n` +
      `  unmount with: ferry umount ${mount.mountpoint}   (or Ctrl-C here)\n`,
  );
}

function printStats(mount: FuseMount, json: boolean, why: string): void {
  const s = mount.stats;
  if (json) {
    const event = why === 'stats' ? 'stats' : 'unmounted';
    process.stdout.write(
      JSON.stringify({ event, reason: why, mountpoint: mount.mountpoint, ops: s.toJSON() }) + '\n',
    );
    return;
  }
  const head =
    why === 'stats'
      ? 'ferry mount: operations so far'
      : `ferry mount: unmounted ${mount.mountpoint} (${why})`;
  process.stdout.write(
    `${head}: ${s.readOps} reads (largest ${s.readMaxBytes} bytes), ${s.writeOps} writes (largest ` +
      `${s.writeMaxBytes} bytes), ${s.errors} errors, ${s.timeouts} timeouts\n`,
  );
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes % 2 ** 30 === 0 ? 0 : 2)} GiB`;
}
