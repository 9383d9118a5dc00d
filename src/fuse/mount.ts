/**
 * Mounting a FlatFs: checks that FUSE can work here, mounts the adapter, watches for the mount being
 * removed from outside, and unmounts cleanly.
 *
 * Why the watch: `ferry umount` (or `fusermount -u`) detaches the mount without telling the serving
 * process; fuse-native does not notice. Polling the mount table (never the mount itself, which could
 * deadlock this process) lets the server see it and stop on its own.
 *
 * The process that calls mountFlatFs must never touch the mountpoint itself afterwards: the kernel
 * waits for this JavaScript thread to answer, so a synchronous access from it deadlocks.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, type ErrorCode } from '../core/index.js';
import type { FlatFs } from '../flatfs/types.js';
import { FlatFsFuseAdapter } from './adapter.js';
import { ReadAheadFlatFs } from './read-ahead.js';
import { WriteBackFlatFs } from './write-back.js';
import { readFuseMountConfig, type FuseMountConfig, FUSE_MOUNT_SCHEMA } from './config.js';
import { findFuseMount, isMountpoint } from './mount-table.js';
import { mountNative, type NativeMount } from './native.js';
import type { OpStats } from './op-stats.js';

/** How often a mount checks that it is still in the mount table. */
const DETACH_POLL_MS = 500;

export interface FuseMount {
  /** Absolute path of the mount. */
  readonly mountpoint: string;
  readonly config: FuseMountConfig;
  /** Sizes and counts of the operations the kernel sent. */
  readonly stats: OpStats;
  /** Resolves when the mount disappears without unmount() (ferry umount, fusermount -u). */
  readonly detached: Promise<void>;
  /**
   * Resolves with the error code when the backend's session is gone for good (a remote server died
   * or restarted): every operation fails with EIO from then on, so the owner should unmount.
   */
  readonly lost: Promise<ErrorCode>;
  /** Unmounts (lazily: open files do not block it) and closes the handles still open. Idempotent. */
  unmount(): Promise<void>;
}

/** Throws FUSE_UNAVAILABLE when this machine cannot mount FUSE filesystems. */
export function checkFuseAvailable(devicePath = '/dev/fuse'): void {
  if (!existsSync(devicePath)) {
    throw new FerryError(
      'FUSE_UNAVAILABLE',
      `this machine has no ${devicePath}: load the module (modprobe fuse), install fuse (apt-get install -y ` +
        'libfuse2 fuse), or in a container run with --device /dev/fuse --cap-add SYS_ADMIN',
    );
  }
}

/**
 * Mounts `fs` at `mountpoint` (an existing empty folder). The caller still owns `fs`. Throws
 * FUSE_UNAVAILABLE, MOUNT_FAILED, INVALID_CONFIG (options). Never touch the mountpoint from the
 * process that serves it: drive it from another process.
 *
 * @example
 * const fs = new MemoryFlatFs({ quotaBytes: 1 * GiB });
 * const mount = await mountFlatFs(fs, '/mnt/ferry', { attrTimeoutMs: 1000 });
 * // ... other processes use /mnt/ferry ...
 * await mount.unmount();
 */
export async function mountFlatFs(
  fs: FlatFs,
  mountpoint: string,
  options?: Partial<Record<keyof typeof FUSE_MOUNT_SCHEMA, unknown>> | string,
): Promise<FuseMount> {
  const config = readFuseMountConfig(options);
  checkFuseAvailable();
  const abs = path.resolve(mountpoint);
  await checkMountpoint(abs);
  // over a network each kernel read or write (128 KiB at most) is a round trip: when asked, writes
  // are answered once sent (write-back) and sequential reads are fetched ahead
  const written = config.writeBackBytes > 0 ? new WriteBackFlatFs(fs, config.writeBackBytes) : fs;
  const backend =
    config.dataReadAheadBytes > 0 ? new ReadAheadFlatFs(written, config.dataReadAheadBytes) : written;
  const adapter = new FlatFsFuseAdapter(backend, config);
  const native = await mountNative(abs, adapter, {
    fsName: config.fsName,
    subtype: 'ferry',
    readOnly: adapter.readOnly,
    maxWriteBytes: config.maxIoBytes,
    maxReadBytes: config.maxIoBytes,
    maxReadaheadBytes: config.readaheadBytes,
    attrTimeoutMs: config.attrTimeoutMs,
    entryTimeoutMs: config.entryTimeoutMs,
    allowOther: config.allowOther,
    debug: config.debug,
  });
  return new LiveMount(abs, config, adapter, native);
}

/** The mountpoint must be an empty folder with nothing mounted on it. */
async function checkMountpoint(abs: string): Promise<void> {
  if (await isMountpoint(abs)) {
    throw new FerryError(
      'MOUNT_FAILED',
      `${abs} is already a mountpoint: unmount it first (ferry umount ${abs})`,
      { mountpoint: abs },
    );
  }
  const st = await stat(abs).catch(() => null);
  if (st === null || !st.isDirectory()) {
    throw new FerryError('MOUNT_FAILED', `${abs} is not a folder: create it first (mkdir -p ${abs})`, {
      mountpoint: abs,
    });
  }
  if ((await readdir(abs)).length > 0) {
    throw new FerryError('MOUNT_FAILED', `${abs} is not empty: mount on an empty folder`, {
      mountpoint: abs,
    });
  }
}

class LiveMount implements FuseMount {
  readonly detached: Promise<void>;
  private resolveDetached!: () => void;
  private readonly poll: NodeJS.Timeout;
  private unmounting: Promise<void> | null = null;
  private gone = false;

  constructor(
    readonly mountpoint: string,
    readonly config: FuseMountConfig,
    private readonly adapter: FlatFsFuseAdapter,
    private readonly native: NativeMount,
  ) {
    this.detached = new Promise((resolve) => (this.resolveDetached = resolve));
    this.poll = setInterval(() => void this.checkStillMounted(), DETACH_POLL_MS);
    this.poll.unref();
  }

  get lost(): Promise<ErrorCode> {
    return this.adapter.lost;
  }

  get stats(): OpStats {
    return this.adapter.stats;
  }

  unmount(): Promise<void> {
    this.unmounting ??= this.doUnmount();
    return this.unmounting;
  }

  private async doUnmount(): Promise<void> {
    clearInterval(this.poll);
    const stillMounted = !this.gone && (await findFuseMount(this.mountpoint)) !== null;
    await this.native.unmount(!stillMounted);
    await this.adapter.closeAll();
  }

  private async checkStillMounted(): Promise<void> {
    if (this.gone || this.unmounting) return;
    const entry = await findFuseMount(this.mountpoint).catch(() => undefined);
    if (entry !== null) return;
    this.gone = true;
    clearInterval(this.poll);
    this.resolveDetached();
  }
}
