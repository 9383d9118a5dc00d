/**
 * The one seam between ferry and fuse-native, an untyped CommonJS addon.
 *
 * Why a seam: fuse-native has no types, loads a native library that may be missing, and has three
 * behaviours ferry must change without patching the package. Everything untyped stays in this file;
 * the rest of src/fuse sees only the typed `FuseHandlers` / `NativeMount` below.
 *
 * What the subclass changes, and why:
 * - `_fuseOptions()` builds the `-o` string. fuse-native's fixed list has no `big_writes` or
 *   `max_write`, so every write(2) reached JavaScript as 4 KiB requests (4x slower); ours passes
 *   `big_writes,max_write=...` plus max_read, max_readahead, the cache timeouts (also 0, which
 *   fuse-native drops as falsy), `ro`, fsname and subtype.
 * - `_op_fgetattr` in fuse-native calls `ops.getattr(path)` and drops the file handle; ours passes the
 *   handle, so fstat works on a file that was unlinked while open.
 * fuse-native's own per-operation timeout is switched off: the adapter bounds every backend call
 * itself (and answers EIO rather than ETIMEDOUT).
 *
 * Known limit of fuse-native 2.2.6 (in its C code, so not fixable here): utimens passes the access
 * time twice, so the modification time it reports is the access time.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { FerryError } from '../core/index.js';

/** Attributes of a file or of the root folder, as the kernel wants them. */
export interface FuseStat {
  mode: number;
  uid: number;
  gid: number;
  sizeBytes: number;
  nlink: number;
  /** Preferred I/O size (st_blksize); `cp` sizes its buffer from it. */
  blockSizeBytes: number;
  /** 512-byte blocks allocated (st_blocks). */
  blocks512: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** statvfs(3) fields; counts are in `fragmentBytes` units and must fit in 32 bits (fuse-native). */
export interface FuseStatfs {
  blockSizeBytes: number;
  fragmentBytes: number;
  blocks: number;
  blocksFree: number;
  blocksAvailable: number;
  files: number;
  filesFree: number;
  maxNameBytes: number;
}

/** `result` is 0 (or a byte count, or a handle) on success, a negative errno on failure. */
export type Reply = (result: number) => void;
export type StatReply = (result: number, stat?: FuseStat) => void;
export type HandleReply = (result: number, fh?: number) => void;

/** The FUSE operations ferry implements. Paths are absolute inside the mount ("/name"). */
export interface FuseHandlers {
  getattr(path: string, reply: StatReply): void;
  fgetattr(path: string, fh: number, reply: StatReply): void;
  readdir(path: string, reply: (result: number, names?: string[], stats?: FuseStat[]) => void): void;
  statfs(path: string, reply: (result: number, st?: FuseStatfs) => void): void;
  open(path: string, flags: number, reply: HandleReply): void;
  create(path: string, mode: number, reply: HandleReply): void;
  /** Reply with the bytes read into `buf` (fewer only at end of file). */
  read(path: string, fh: number, buf: Buffer, length: number, position: number, reply: Reply): void;
  /** Reply with the bytes written from `buf`. */
  write(path: string, fh: number, buf: Buffer, length: number, position: number, reply: Reply): void;
  flush(path: string, fh: number, reply: Reply): void;
  fsync(path: string, dataOnly: boolean, fh: number, reply: Reply): void;
  release(path: string, fh: number, reply: Reply): void;
  truncate(path: string, sizeBytes: number, reply: Reply): void;
  ftruncate(path: string, fh: number, sizeBytes: number, reply: Reply): void;
  utimens(path: string, atimeMs: number, mtimeMs: number, reply: Reply): void;
  unlink(path: string, reply: Reply): void;
  rename(from: string, to: string, reply: Reply): void;
  chmod(path: string, mode: number, reply: Reply): void;
  chown(path: string, uid: number, gid: number, reply: Reply): void;
  mkdir(path: string, mode: number, reply: Reply): void;
  rmdir(path: string, reply: Reply): void;
  mknod(path: string, mode: number, dev: number, reply: Reply): void;
  symlink(target: string, path: string, reply: Reply): void;
  link(from: string, to: string, reply: Reply): void;
}

/** The kernel-facing mount options (what goes into the `-o` string). */
export interface NativeMountOptions {
  fsName: string;
  subtype: string;
  readOnly: boolean;
  maxWriteBytes: number;
  maxReadBytes: number;
  maxReadaheadBytes: number;
  attrTimeoutMs: number;
  entryTimeoutMs: number;
  allowOther: boolean;
  debug: boolean;
}

/** Linux errno values (positive); replies carry them negated. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  EOPNOTSUPP: 95,
  ENOTCONN: 107,
} as const;

/** Builds the `-o` option string; exported so a unit test can check it without mounting. */
export function fuseOptionString(o: NativeMountOptions): string {
  const opts = [
    `fsname=${cleanOptionValue(o.fsName)}`,
    `subtype=${cleanOptionValue(o.subtype)}`,
    'big_writes',
    `max_write=${o.maxWriteBytes}`,
    `max_read=${o.maxReadBytes}`,
    `max_readahead=${o.maxReadaheadBytes}`,
    `attr_timeout=${o.attrTimeoutMs / 1000}`,
    `entry_timeout=${o.entryTimeoutMs / 1000}`,
    'negative_timeout=0',
  ];
  if (o.readOnly) opts.push('ro');
  // Other users may use the mount only under the kernel's permission checks on the modes the
  // adapter reports: without default_permissions they could read and write as the mount's owner.
  if (o.allowOther) opts.push('allow_other', 'default_permissions');
  if (o.debug) opts.push('debug');
  return '-o' + opts.join(',');
}

/** Option values may not hold the separators of the `-o` syntax. */
function cleanOptionValue(v: string): string {
  return v.replace(/[,\s\\=]/g, '_');
}

/** A live mount served by this process. */
export interface NativeMount {
  readonly mountpoint: string;
  /**
   * Detaches the mount (fusermount -uz) and releases the addon's hold on the event loop. When the
   * mount was already removed from outside (`ferry umount`), pass `alreadyDetached`: only the addon
   * is released.
   */
  unmount(alreadyDetached?: boolean): Promise<void>;
}

// --- the untyped part ---------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any -- fuse-native is an untyped CommonJS addon;
   this block is the only code that touches its objects. */
type Callback = (err: number, ...values: any[]) => void;
type NativeFuseClass = new (mnt: string, ops: any, opts: any) => any;

let loaded: NativeFuseClass | null = null;
let binding: any = null;

/** Loads fuse-native once; a missing libfuse becomes FUSE_UNAVAILABLE with the fix. */
function loadFuseClass(): NativeFuseClass {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  let Fuse: any;
  try {
    Fuse = require('fuse-native');
  } catch (err) {
    throw new FerryError(
      'FUSE_UNAVAILABLE',
      `cannot load FUSE (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): ` +
        'install it with `apt-get install -y libfuse2 fuse` (or run scripts/setup.sh)',
    );
  }
  // The addon fuse-native loaded (node-gyp-build caches it): needed to release a mount that was
  // unmounted from outside, which fuse-native's own close cannot do (its fusermount call fails).
  const fuseDir = path.dirname(require.resolve('fuse-native'));
  binding = createRequire(path.join(fuseDir, 'index.js'))('node-gyp-build')(fuseDir);
  class FerryFuse extends Fuse {
    _fuseOptions(): string {
      return fuseOptionString(this.opts.ferry as NativeMountOptions);
    }

    // fuse-native's version calls ops.getattr(path) and loses the handle.
    _op_fgetattr(signal: Callback, path: string, fd: number): void {
      this.ops.fgetattr(path, fd, (err: number, stat?: FuseStat) => {
        if (err || !stat) return signal(err || -ERRNO.EIO);
        return signal(0, statArray(stat));
      });
    }
  }
  loaded = FerryFuse as unknown as NativeFuseClass;
  return loaded;
}

/** fuse-native's 18 x uint32 stat layout (see its getStatArray). */
function statArray(st: FuseStat): Uint32Array {
  const a = new Uint32Array(18);
  a[0] = st.mode;
  a[1] = st.uid;
  a[2] = st.gid;
  setUint64(a, 3, st.sizeBytes);
  a[6] = st.nlink;
  a[9] = st.blockSizeBytes;
  setUint64(a, 10, st.blocks512);
  setUint64(a, 12, st.atimeMs);
  setUint64(a, 14, st.mtimeMs);
  setUint64(a, 16, st.ctimeMs);
  return a;
}

function setUint64(a: Uint32Array, i: number, n: number): void {
  const v = Math.max(0, Math.floor(n));
  a[i] = v % 4294967296;
  a[i + 1] = Math.floor(v / 4294967296);
}

/** fuse-native's stat object shape (dates as ms numbers). */
function toNativeStat(st: FuseStat): Record<string, number> {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.sizeBytes,
    nlink: st.nlink,
    blksize: st.blockSizeBytes,
    blocks: st.blocks512,
    atime: st.atimeMs,
    mtime: st.mtimeMs,
    ctime: st.ctimeMs,
  };
}

/** Adapts typed handlers to fuse-native's callback conventions. */
function nativeOps(h: FuseHandlers): Record<string, (...args: any[]) => void> {
  const stat = (cb: Callback) => (r: number, st?: FuseStat) =>
    r < 0 || !st ? cb(r || -ERRNO.EIO) : cb(0, toNativeStat(st));
  return {
    getattr: (p: string, cb: Callback) => h.getattr(p, stat(cb)),
    fgetattr: (p: string, fd: number, cb: Callback) => h.fgetattr(p, fd, cb),
    readdir: (p: string, cb: Callback) =>
      h.readdir(p, (r, names, stats) =>
        r < 0 ? cb(r) : cb(0, names ?? [], (stats ?? []).map(toNativeStat)),
      ),
    statfs: (p: string, cb: Callback) =>
      h.statfs(p, (r, s) =>
        r < 0 || !s
          ? cb(r || -ERRNO.EIO)
          : cb(0, {
              bsize: s.blockSizeBytes,
              frsize: s.fragmentBytes,
              blocks: s.blocks,
              bfree: s.blocksFree,
              bavail: s.blocksAvailable,
              files: s.files,
              ffree: s.filesFree,
              favail: s.filesFree,
              namemax: s.maxNameBytes,
            }),
      ),
    open: (p: string, flags: number, cb: Callback) => h.open(p, flags, (r, fh) => cb(r, fh)),
    create: (p: string, mode: number, cb: Callback) => h.create(p, mode, (r, fh) => cb(r, fh)),
    read: (p: string, fd: number, buf: Buffer, len: number, pos: number, cb: Callback) =>
      h.read(p, fd, buf, len, pos, cb),
    write: (p: string, fd: number, buf: Buffer, len: number, pos: number, cb: Callback) =>
      h.write(p, fd, buf, len, pos, cb),
    flush: (p: string, fd: number, cb: Callback) => h.flush(p, fd, cb),
    fsync: (p: string, datasync: number, fd: number, cb: Callback) => h.fsync(p, datasync !== 0, fd, cb),
    release: (p: string, fd: number, cb: Callback) => h.release(p, fd, cb),
    truncate: (p: string, size: number, cb: Callback) => h.truncate(p, size, cb),
    ftruncate: (p: string, fd: number, size: number, cb: Callback) => h.ftruncate(p, fd, size, cb),
    utimens: (p: string, atime: number, mtime: number, cb: Callback) => h.utimens(p, atime, mtime, cb),
    unlink: (p: string, cb: Callback) => h.unlink(p, cb),
    rename: (from: string, to: string, cb: Callback) => h.rename(from, to, cb),
    chmod: (p: string, mode: number, cb: Callback) => h.chmod(p, mode, cb),
    chown: (p: string, uid: number, gid: number, cb: Callback) => h.chown(p, uid, gid, cb),
    mkdir: (p: string, mode: number, cb: Callback) => h.mkdir(p, mode, cb),
    rmdir: (p: string, cb: Callback) => h.rmdir(p, cb),
    mknod: (p: string, mode: number, dev: number, cb: Callback) => h.mknod(p, mode, dev, cb),
    symlink: (target: string, p: string, cb: Callback) => h.symlink(target, p, cb),
    link: (from: string, to: string, cb: Callback) => h.link(from, to, cb),
  };
}

/**
 * Mounts `handlers` at `mountpoint` (an existing, empty folder) and resolves once the kernel has
 * sent FUSE_INIT. Fails with MOUNT_FAILED (or FUSE_UNAVAILABLE) and leaves nothing mounted.
 */
export function mountNative(
  mountpoint: string,
  handlers: FuseHandlers,
  options: NativeMountOptions,
): Promise<NativeMount> {
  const Fuse = loadFuseClass();
  const fuse = new Fuse(mountpoint, nativeOps(handlers), { ferry: options, timeout: false, mkdir: false });
  return new Promise((resolve, reject) => {
    fuse.mount((err: Error | null) => {
      if (err) {
        reject(new FerryError('MOUNT_FAILED', `cannot mount ${mountpoint}: ${err.message}`, { mountpoint }));
        return;
      }
      resolve({
        mountpoint,
        unmount: (alreadyDetached = false) =>
          new Promise<void>((res, rej) => {
            if (alreadyDetached) {
              binding.fuse_native_unmount(mountpoint, fuse._thread);
              return res();
            }
            fuse.unmount((e: Error | null) =>
              e ? rej(new FerryError('UNMOUNT_FAILED', `cannot unmount ${mountpoint}: ${e.message}`)) : res(),
            );
          }),
      });
    });
  });
}
/* eslint-enable @typescript-eslint/no-explicit-any */
