/**
 * What the commands that talk to a ferry server share: reading a remote address
 * (`ferry://HOST:PORT/NAME` or `HOST:PORT:NAME`), the secret (`--secret-file`, else `FERRY_SECRET`),
 * `--packet-size`, the flags of the remote commands, and connecting.
 *
 * Why one module: `cp`, `ls`, `rm`, `stat`, `mount`, `nbd` and `serve` must read these the same
 * way and fail with the same messages; commands import this, never each other.
 */
import { readFileSync } from 'node:fs';
import type { Argv, Options } from 'yargs';
import { openClient, parseBytes, parseRemote, type FerryClient, type RemoteRef } from '../src/index.js';
import { asUsage, UsageError } from './util.js';

/** Flags of every command that connects to a server (see `remoteOptions`). */
export interface RemoteArgs {
  'secret-file'?: string;
  'packet-size'?: string;
  'connect-timeout'?: number;
}

/** Parses a remote address, turning BAD_URL into a usage error (exit 2). */
export function remoteArg(text: string): RemoteRef {
  return asUsage(() => parseRemote(text));
}

/** The secret from --secret-file, else FERRY_SECRET, else none. Throws UsageError for an unreadable or empty file. */
export function readSecret(secretFile: string | undefined): string | undefined {
  if (secretFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(secretFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --secret-file ${secretFile}: ${(err as Error).message}`);
    }
    const secret = text.replace(/\r?\n$/, '');
    if (secret === '')
      throw new UsageError(`--secret-file ${secretFile} is empty: put the shared secret in it`);
    return secret;
  }
  const env = process.env.FERRY_SECRET;
  return env === undefined || env === '' ? undefined : env;
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

/** Connects to the server a remote address names (secret from --secret-file or FERRY_SECRET). */
export function connectTo(ref: RemoteRef, args: RemoteArgs): Promise<FerryClient> {
  const secret = readSecret(args['secret-file']);
  const transport = transportFromArgs(args['packet-size']);
  return openClient({
    host: ref.host,
    port: ref.port,
    ...(secret !== undefined ? { secret } : {}),
    ...(transport !== undefined ? { transport } : {}),
    ...(args['connect-timeout'] !== undefined ? { connectTimeoutMs: args['connect-timeout'] * 1000 } : {}),
  });
}

/** `--secret-file`, as the server and the remote commands take it (read with `readSecret`). */
export const SECRET_FILE_OPTION = {
  type: 'string',
  requiresArg: true,
  describe: 'file holding the shared secret (else FERRY_SECRET)',
} as const satisfies Options;

/** `--packet-size`, as the server and the remote commands take it (read with `transportFromArgs`). */
export const PACKET_SIZE_OPTION = {
  type: 'string',
  requiresArg: true,
  describe: 'largest datagram, 1200..65507 bytes (default: what the interface carries, 65507 on loopback)',
} as const satisfies Options;

/** Options every remote command shares. */
export function remoteOptions<T>(y: Argv<T>): Argv<T & RemoteArgs> {
  return y
    .option('secret-file', SECRET_FILE_OPTION)
    .option('packet-size', PACKET_SIZE_OPTION)
    .option('connect-timeout', {
      type: 'number',
      requiresArg: true,
      describe: 'seconds to wait for the server (default 5)',
    }) as Argv<T & RemoteArgs>;
}
