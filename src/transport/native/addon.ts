/**
 * Finds and loads the native UDP addon (build/Release/ferry_udp.node, built at install by
 * scripts/build-native.js) once per process, and says whether it is there and what the kernel offers.
 *
 * Why a loader of its own: the addon is optional. When the build failed (no compiler, no headers,
 * not Linux) ferry keeps working on node:dgram, so loading never throws; it reports
 * `{ available: false, reason }`. `FERRY_SOCKET=js|native` overrides the choice, and asking for
 * `native` where it is missing is an error that names the reason and the fix.
 * `FERRY_NATIVE_ADDON=<path>` loads the addon from another file (tests point it at a missing one).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ferryError } from '../../core/errors.js';

/** The options object the addon's UdpSocket constructor reads (validated by NativeUdpSocket first). */
export interface RawOpenOptions {
  family: 4 | 6;
  host: string;
  port: number;
  reusePort: boolean;
  ipv6Only: boolean;
  sendBufferBytes: number;
  recvBufferBytes: number;
  /** 0 off (may fragment), 1 do (DF, kernel PMTU cache), 2 probe (DF, ignore the cache). */
  pmtud: 0 | 1 | 2;
  gro: boolean;
}

export interface RawSocketInfo {
  family: 4 | 6;
  port: number;
  fd: number;
  sendBufferBytes: number;
  recvBufferBytes: number;
  gso: boolean;
  gro: boolean;
  closed: boolean;
}

/** Counters kept by the addon per socket. */
export interface NativeUdpStats {
  /** sendmmsg calls, batches handed to sendBatch, datagrams and bytes the kernel took. */
  sendSyscalls: number;
  sendBatches: number;
  sentDatagrams: number;
  sentBytes: number;
  /** Datagrams sent as GSO buffers (each counted once in sentDatagrams, however many segments). */
  gsoSends: number;
  /** Batches cut short by a full socket buffer (EAGAIN). */
  wouldBlock: number;
  /** Datagrams the kernel refused (counted as sent and lost), and the errno name of the last one. */
  sendErrors: number;
  lastSendError: string | null;
  recvSyscalls: number;
  recvBatches: number;
  receivedDatagrams: number;
  receivedBytes: number;
  /** Received datagrams the kernel coalesced (GRO), each holding several segments. */
  groDatagrams: number;
  /** Datagrams longer than their slot (cut off; the slot is too small). */
  truncated: number;
  recvErrors: number;
  lastRecvError: string | null;
}

/** The addon's socket object, as native/addon.c defines it. */
export interface RawUdpSocket {
  close(): void;
  startReceive(
    slab: ArrayBuffer,
    meta: Uint32Array,
    slotBytes: number,
    batch: number,
    onBatch: (count: number) => void,
  ): void;
  stopReceive(): void;
  awaitWritable(onWritable: () => void): void;
  sendBatch(slices: readonly Uint8Array[], desc: Uint32Array, count: number): number;
  info(): RawSocketInfo;
  stats(): NativeUdpStats;
  ref(): void;
  unref(): void;
}

export interface NativeUdpAddon {
  UdpSocket: new (options: RawOpenOptions) => RawUdpSocket;
  routeMtu(family: 4 | 6, host: string, port: number): number;
  limits: Readonly<Record<string, number>>;
}

export interface NativeUdpStatus {
  available: boolean;
  /** Why the addon is not available (or not used); absent when it is. */
  reason?: string;
  /** The kernel takes UDP_SEGMENT (GSO sends) on this machine's sockets. */
  gso: boolean;
  /** The kernel takes UDP_GRO (coalesced receives). */
  gro: boolean;
  /** The file the addon was loaded from, or looked for. */
  path: string;
}

const ADDON_FILE = path.join('build', 'Release', 'ferry_udp.node');
/** Folders walked up from this file to find the package root (src/transport/native or dist/src/...). */
const MAX_ROOT_DEPTH = 6;

/** The addon's expected path: `FERRY_NATIVE_ADDON`, or build/Release under the package root. */
export function defaultAddonPath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.FERRY_NATIVE_ADDON;
  if (override) return path.resolve(override);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_ROOT_DEPTH; i++) {
    if (existsSync(path.join(dir, 'binding.gyp'))) return path.join(dir, ADDON_FILE);
    dir = path.dirname(dir);
  }
  return path.resolve(ADDON_FILE);
}

interface Loaded {
  addon: NativeUdpAddon | null;
  status: NativeUdpStatus;
}

/** Opens a throwaway loopback socket to see whether the kernel takes GSO and GRO. */
function probeKernel(addon: NativeUdpAddon): { gso: boolean; gro: boolean } {
  const s = new addon.UdpSocket({
    family: 4,
    host: '127.0.0.1',
    port: 0,
    reusePort: false,
    ipv6Only: false,
    sendBufferBytes: 0,
    recvBufferBytes: 0,
    pmtud: 2,
    gro: true,
  });
  try {
    const info = s.info();
    return { gso: info.gso, gro: info.gro };
  } finally {
    s.close();
  }
}

/** Loads the addon at `file` without caching: what `nativeUdp()` does once, and what tests call. */
export function loadNativeUdp(file: string = defaultAddonPath()): Loaded {
  const missing = (reason: string): Loaded => ({
    addon: null,
    status: { available: false, reason, gso: false, gro: false, path: file },
  });
  if (process.platform !== 'linux')
    return missing(`the native UDP addon is Linux-only (this is ${process.platform})`);
  if (!existsSync(file))
    return missing(
      `${file} does not exist (the install-time build did not run or failed; run: node scripts/build-native.js)`,
    );
  try {
    const addon = createRequire(import.meta.url)(file) as NativeUdpAddon;
    if (typeof addon.UdpSocket !== 'function' || typeof addon.routeMtu !== 'function')
      return missing(`${file} is not ferry's native UDP addon`);
    const kernel = probeKernel(addon);
    return { addon, status: { available: true, gso: kernel.gso, gro: kernel.gro, path: file } };
  } catch (err) {
    return missing(`${file} failed to load: ${err instanceof Error ? err.message : String(err)}`);
  }
}

let loaded: Loaded | null = null;

/** The addon, loaded once per process (null when unavailable; see nativeUdpStatus for why). */
export function nativeUdpAddon(): NativeUdpAddon | null {
  loaded ??= loadNativeUdp();
  return loaded.addon;
}

/** Whether the native socket can be used here, and what the kernel supports. Loads once. */
export function nativeUdpStatus(): NativeUdpStatus {
  loaded ??= loadNativeUdp();
  return loaded.status;
}

/** The addon or a NOT_SUPPORTED error that says why it is missing and how to get it. */
export function requireNativeUdp(): NativeUdpAddon {
  const addon = nativeUdpAddon();
  if (addon) return addon;
  throw ferryError(
    'NOT_SUPPORTED',
    `the native UDP socket is not available: ${nativeUdpStatus().reason ?? 'unknown'}`,
  );
}

export type SocketKind = 'js' | 'native';

/**
 * Which UDP socket implementation to use: `FERRY_SOCKET=js|native` when set, else native when the
 * addon loaded. `native` requested but unavailable is an error (no silent fallback when asked for).
 */
export function selectSocketKind(
  env: NodeJS.ProcessEnv = process.env,
  status: () => NativeUdpStatus = nativeUdpStatus,
): SocketKind {
  const asked = env.FERRY_SOCKET;
  if (asked === undefined || asked === '') return status().available ? 'native' : 'js';
  if (asked === 'js') return 'js';
  if (asked !== 'native')
    throw ferryError('INVALID_CONFIG', `FERRY_SOCKET must be 'js' or 'native', got '${asked}'`);
  const s = status();
  if (!s.available)
    throw ferryError(
      'NOT_SUPPORTED',
      `FERRY_SOCKET=native but the native UDP addon is not available: ${s.reason ?? 'unknown'}; build it or set FERRY_SOCKET=js`,
    );
  return 'native';
}
