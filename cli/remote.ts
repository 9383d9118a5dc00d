/**
 * What the commands that talk to a ferry server share: reading a remote address
 * (`ferry://HOST:PORT/NAME` or `HOST:PORT:NAME`), the secret (`--secret-file`, else `FERRY_SECRET`,
 * else on loopback the per-user secret of cli/secret.ts), `--packet-size`, `--no-encrypt`, the
 * flags of the remote commands, and connecting.
 *
 * Why one module: `cp`, `ls`, `rm`, `stat`, `mount`, `nbd` and `serve` must read these the same
 * way and fail with the same messages; commands import this, never each other.
 */
import { readFileSync } from 'node:fs';
import type { Argv, Options } from 'yargs';
import {
  FerryError,
  isFerryError,
  isLoopbackHost,
  openClient,
  parseBytes,
  parseRemote,
  type FerryClient,
  type RemoteRef,
} from '../src/index.js';
import {
  checkSecretStrength,
  loadOrCreateUserSecret,
  readUserSecret,
  secretFromText,
  userSecretPath,
} from './secret.js';
import { asUsage, UsageError } from './util.js';

/** Flags of every command that connects to a server (see `remoteOptions`). */
export interface RemoteArgs {
  'secret-file'?: string;
  'packet-size'?: string;
  'connect-timeout'?: number;
  insecure?: boolean;
  encrypt?: boolean;
}

/** Parses a remote address, turning BAD_URL into a usage error (exit 2). */
export function remoteArg(text: string): RemoteRef {
  return asUsage(() => parseRemote(text));
}

/** A secret and where it came from (for messages). */
export interface SecretSource {
  secret: string;
  from: string;
}

/**
 * The secret from --secret-file, else FERRY_SECRET, else none. Throws UsageError for an unreadable
 * or empty file, WEAK_SECRET (exit 1) for a secret below SECRET_MIN_BITS.
 */
export function readSecret(secretFile: string | undefined): SecretSource | undefined {
  if (secretFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(secretFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --secret-file ${secretFile}: ${(err as Error).message}`);
    }
    const secret = secretFromText(text);
    if (secret === '')
      throw new UsageError(
        `--secret-file ${secretFile} is empty: put the shared secret in it (ferry keygen --out ${secretFile} --force)`,
      );
    const from = `--secret-file ${secretFile}`;
    checkSecretStrength(secret, from);
    return { secret, from };
  }
  const env = process.env.FERRY_SECRET;
  if (env === undefined || env === '') return undefined;
  checkSecretStrength(env, 'FERRY_SECRET');
  return { secret: env, from: 'FERRY_SECRET' };
}

/**
 * The secret a client dials `host` with: --secret-file, else FERRY_SECRET; else, unless --insecure,
 * for a loopback server the per-user secret `ferry serve` made (NO_SECRET when there is none this
 * user can read: the server runs as someone else). A non-loopback server without one is dialled
 * without a secret (it must have been started with --insecure).
 */
export function clientSecret(host: string, args: RemoteArgs): SecretSource | undefined {
  const given = readSecret(args['secret-file']);
  if (given !== undefined || args.insecure === true || !isLoopbackHost(host)) return given;
  const path = userSecretPath();
  const secret = readUserSecret(path);
  if (secret === null)
    throw new FerryError(
      'NO_SECRET',
      `no secret: the server's user keeps it in ${path}; pass --secret-file (or --insecure for a server started with --insecure)`,
      { path },
    );
  return { secret, from: path };
}

/**
 * The secret `ferry serve` listens with: --secret-file, else FERRY_SECRET; else, on loopback and
 * without --insecure, the per-user secret, made on first use. `note` says which file was used.
 */
export function serveSecret(
  host: string,
  secretFile: string | undefined,
  insecure: boolean,
): { secret?: string; note?: string } {
  const given = readSecret(secretFile);
  if (given !== undefined) return { secret: given.secret };
  if (insecure || !isLoopbackHost(host)) return {};
  const path = userSecretPath();
  const { secret, created } = loadOrCreateUserSecret(path);
  return {
    secret,
    note: `${created ? 'made a secret in' : 'secret from'} ${path} (clients run by this user find it; other users cannot read it)`,
  };
}

/** Refuses --no-encrypt for a non-loopback address (bad usage, exit 2). */
export function checkEncrypt(encrypt: boolean | undefined, host: string, what: string): void {
  if (encrypt !== false || isLoopbackHost(host)) return;
  throw new UsageError(
    `--no-encrypt is for benchmarks only and is refused on the non-loopback ${what} ${host}: drop it`,
  );
}

/** Parses --packet-size into a transport config string. */
export function transportFromArgs(packetSize: string | undefined): string | undefined {
  if (packetSize === undefined) return undefined;
  const n = parseBytes(packetSize);
  if (!Number.isSafeInteger(n) || n < 1200 || n > 65507) {
    throw new UsageError(`--packet-size ${packetSize}: use 1200..65507 bytes (loopback takes up to 65507)`);
  }
  return `packetBytes=${n}`;
}

/**
 * Connects to the server a remote address names (secret as `clientSecret` finds it). A refused
 * handshake says where the secret came from and what to do.
 */
export async function connectTo(ref: RemoteRef, args: RemoteArgs): Promise<FerryClient> {
  checkEncrypt(args.encrypt, ref.host, 'remote address');
  const source = clientSecret(ref.host, args);
  const transport = transportFromArgs(args['packet-size']);
  try {
    return await openClient({
      host: ref.host,
      port: ref.port,
      ...(source !== undefined ? { secret: source.secret } : {}),
      ...(transport !== undefined ? { transport } : {}),
      ...(args.encrypt === false ? { encrypt: false } : {}),
      ...(args['connect-timeout'] !== undefined ? { connectTimeoutMs: args['connect-timeout'] * 1000 } : {}),
    });
  } catch (err) {
    if (!isFerryError(err, 'AUTH_FAILED')) throw err;
    const where = `${ref.host}:${ref.port}`;
    const why = source === undefined ? 'it has a secret' : `the secret from ${source.from} is not its secret`;
    throw new FerryError(
      'AUTH_FAILED',
      `${where} refused the handshake: ${why}; pass --secret-file with the secret the server was started with`,
    );
  }
}

/** `--secret-file`, as the server and the remote commands take it (read with `readSecret`). */
export const SECRET_FILE_OPTION = {
  type: 'string',
  requiresArg: true,
  describe:
    'file holding the shared secret, >= 128 bits (else FERRY_SECRET; on loopback, else the per-user secret)',
} as const satisfies Options;

/** `--packet-size`, as the server and the remote commands take it (read with `transportFromArgs`). */
export const PACKET_SIZE_OPTION = {
  type: 'string',
  requiresArg: true,
  describe: 'largest datagram, 1200..65507 bytes (default: what the interface carries, 65507 on loopback)',
} as const satisfies Options;

/** `--no-encrypt`, as serve and the remote commands take it (checked with `checkEncrypt`). */
export const ENCRYPT_OPTION = {
  type: 'boolean',
  default: true,
  describe:
    'seal every packet (default); --no-encrypt: for benchmarks only; refused on a non-loopback address',
} as const satisfies Options;

/** `--insecure` of the remote commands: dial without a secret. */
export const INSECURE_CLIENT_OPTION = {
  type: 'boolean',
  default: false,
  describe: 'dial without a secret (a server started with --insecure)',
} as const satisfies Options;

/** Options every remote command shares. */
export function remoteOptions<T>(y: Argv<T>): Argv<T & RemoteArgs> {
  return y
    .option('secret-file', SECRET_FILE_OPTION)
    .option('packet-size', PACKET_SIZE_OPTION)
    .option('insecure', INSECURE_CLIENT_OPTION)
    .option('encrypt', ENCRYPT_OPTION)
    .option('connect-timeout', {
      type: 'number',
      requiresArg: true,
      describe: 'seconds to wait for the server (default 5)',
    }) as Argv<T & RemoteArgs>;
}
