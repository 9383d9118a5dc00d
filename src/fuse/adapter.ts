/**
 * FUSE operations on top of any FlatFs (memory, host directory, remote): the heart of `ferry mount`.
 *
 * Why it looks like this:
 * - It relies on the FlatFs interface only, so the remote client plugs in unchanged.
 * - Every backend call is bounded by a deadline (opTimeoutMs, syncTimeoutMs for fsync and close):
 *   a lost server answers EIO to the caller within the timeout instead of leaving it in state D.
 *   A call that completes after its deadline is dropped (an open handle that arrives late is closed).
 *   Limit: a read answered at its deadline releases libfuse's buffer (fuse-native detaches it, so
 *   later JavaScript writes into it are harmless), but a host read syscall still running in a libuv
 *   thread at that instant could write into freed memory: only a local disk stalled for longer than
 *   opTimeoutMs can do that.
 * - Reads go straight into the buffer libfuse gives (readInto: no copy in JavaScript); writes hand
 *   libfuse's buffer to the backend, which copies or sends it before resolving.
 * - Errors map to errno by code (errno.ts); nothing is ever answered with a generic failure.
 * - Folders are key prefixes (paths.ts maps `/a/b` to the key `a/b`): a path is a folder while some
 *   key starts with `a/b/`, or while this mount remembers it from an `mkdir` (folders.ts). `readdir`
 *   lists one level, page by page, rolled up by the backend or here (listing.ts). Renaming a folder
 *   renames every key under it, one at a time (bounded by MAX_FOLDER_RENAME_FILES, not atomic; a
 *   failure moves back what moved). Links and device nodes stay refused with EPERM.
 * - The root's attributes never touch the backend, so `stat MOUNTPOINT` answers even when the server
 *   is gone.
 */
import { isFerryError, LIMITS, type ErrorCode } from '../core/index.js';
import type { FileStat, FlatFs, FsStat } from '../flatfs/types.js';
import { errnoOf } from './errno.js';
import type { FuseMountConfig } from './config.js';
import { RememberedFolders } from './folders.js';
import { allUnder, anyUnder, listLevel } from './listing.js';
import { baseName, folderPrefix, keyOfPath, parentKey } from './paths.js';
import {
  ERRNO,
  type FuseHandlers,
  type FuseStat,
  type FuseStatfs,
  type HandleReply,
  type Reply,
  type StatReply,
} from './native.js';
import { OpStats } from './op-stats.js';
import type { Drainable } from './write-back.js';
import { OpenFiles, isFuseHiddenName } from './open-files.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const O_RDONLY = 0;
const UINT32_MAX = 0xffff_ffff;
/** Backend errors that mean its session is over (a dead or restarted server), not one failed call. */
const LOST_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'PEER_DEAD',
  'PEER_RESET',
  'NOT_CONNECTED',
  'CLOSED',
]);
/** Backend items per `list` call while readdir pages through a folder. */
const READDIR_PAGE_ITEMS = 1000;
/**
 * Most files a folder rename moves (one backend rename each). A larger folder answers EXDEV, which
 * makes `mv` fall back to copying and deleting, as between two filesystems.
 */
export const MAX_FOLDER_RENAME_FILES = 10_000;

type Kind = 'file' | 'folder' | null;

/** fuse-native turns UTIME_NOW / UTIME_OMIT (tv_sec 0) into about 1073 ms: read as "now". */
const UTIME_SPECIAL_BELOW_MS = 2000;

export type AdapterSettings = Pick<
  FuseMountConfig,
  'opTimeoutMs' | 'syncTimeoutMs' | 'maxIoBytes' | 'readOnly' | 'maxOpenFiles' | 'maxDirEntries'
>;

export class FlatFsFuseAdapter implements FuseHandlers {
  readonly stats = new OpStats();
  /**
   * Resolves with the error code the first time the backend reports its session gone for good
   * (LOST_CODES): every later call would fail too, so the owner of the mount should unmount it.
   */
  readonly lost: Promise<ErrorCode>;
  private markLost!: (code: ErrorCode) => void;
  private readonly files: OpenFiles;
  /** `.fuse_hidden...` names of unlinked open files, until libfuse removes them. */
  private readonly hiddenNames = new Set<string>();
  /** Empty folders made by `mkdir` in this mount. */
  readonly folders = new RememberedFolders();
  private readonly uid = process.getuid?.() ?? 0;
  private readonly gid = process.getgid?.() ?? 0;
  private readonly mountedAtMs = Date.now();

  constructor(
    private readonly fs: FlatFs,
    private readonly settings: AdapterSettings,
  ) {
    this.files = new OpenFiles(settings.maxOpenFiles);
    this.lost = new Promise((resolve) => (this.markLost = resolve));
  }

  /** True when changes are refused: asked for, or the backend itself is read-only. */
  get readOnly(): boolean {
    return this.settings.readOnly || this.fs.readOnly;
  }

  /** Files open through the mount right now. */
  get openFiles(): number {
    return this.files.size;
  }

  /** Closes every backend handle still open (after unmount), waiting at most opTimeoutMs. */
  async closeAll(): Promise<void> {
    const handles = this.files.backendHandles();
    this.files.clear();
    const all = Promise.allSettled(handles.map((h) => this.fs.closeFile(h)));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.settings.opTimeoutMs)));
    await Promise.race([all, deadline]);
    clearTimeout(timer);
  }

  // --- attributes and listing ---------------------------------------------------------------------

  getattr(path: string, reply: StatReply): void {
    if (path === '/') return reply(0, this.rootStat());
    const name = keyOfPath(path);
    if (typeof name === 'number') return reply(name);
    const hidden = this.files.findByName(name);
    if (hidden?.unlinked) {
      return this.call(
        () => this.fs.fstat(hidden.backend),
        this.settings.opTimeoutMs,
        (st) => reply(0, this.fileStat(st)),
        reply,
      );
    }
    this.call(
      async () => {
        try {
          return this.fileStat(await this.fs.stat(name));
        } catch (err) {
          if (isFerryError(err, 'NOT_FOUND') && (await this.isFolder(name))) return this.rootStat();
          throw err;
        }
      },
      this.settings.opTimeoutMs,
      (st) => reply(0, st),
      reply,
    );
  }

  fgetattr(path: string, fh: number, reply: StatReply): void {
    if (path === '/') return reply(0, this.rootStat());
    const f = this.files.get(fh);
    if (!f) return this.getattr(path, reply);
    this.call(
      () => this.fs.fstat(f.backend),
      this.settings.opTimeoutMs,
      (st) => reply(0, this.fileStat(st)),
      reply,
    );
  }

  readdir(path: string, reply: (result: number, names?: string[], stats?: FuseStat[]) => void): void {
    const key = keyOfPath(path);
    if (typeof key === 'number') return reply(key);
    this.call(
      () => this.listFolder(key),
      this.settings.opTimeoutMs,
      (listing) => (typeof listing === 'number' ? reply(listing) : reply(0, listing.names, listing.stats)),
      reply,
    );
  }

  statfs(_path: string, reply: (result: number, st?: FuseStatfs) => void): void {
    this.call(
      () => this.fs.statfs(),
      this.settings.opTimeoutMs,
      (st) => reply(0, this.fsStat(st)),
      reply,
    );
  }

  // --- open and close -----------------------------------------------------------------------------

  open(path: string, flags: number, reply: HandleReply): void {
    const name = keyOfPath(path);
    if (typeof name === 'number') return reply(name);
    if (name === '') return reply(-ERRNO.EISDIR);
    const write = (flags & O_ACCMODE) !== O_RDONLY;
    if (write && this.readOnly) return reply(-ERRNO.EROFS);
    this.openHandle(() => this.fs.open(name, { write }), name, reply);
  }

  create(path: string, _mode: number, reply: HandleReply): void {
    const name = keyOfPath(path);
    if (typeof name === 'number') return reply(name);
    if (name === '') return reply(-ERRNO.EEXIST);
    if (this.readOnly) return reply(-ERRNO.EROFS);
    // An empty folder this mount remembers has no key a create would collide with: refuse here.
    if (this.folders.has(name)) return reply(-ERRNO.EISDIR);
    // The kernel asks only after its lookup found no such name; exclusive keeps O_EXCL honest when
    // another client created the name meanwhile (that caller sees EEXIST rather than a silent open).
    this.openHandle(() => this.fs.create(name, { exclusive: true }), name, reply);
  }

  release(_path: string, fh: number, reply: Reply): void {
    const f = this.files.remove(fh);
    if (!f) return reply(-ERRNO.EBADF);
    this.call(
      () => this.fs.closeFile(f.backend),
      this.settings.syncTimeoutMs,
      () => reply(0),
      reply,
    );
  }

  flush(_path: string, fh: number, reply: Reply): void {
    const f = this.files.get(fh);
    if (!f) return reply(-ERRNO.EBADF);
    // Without write-back every write reached the backend before it was answered: nothing to flush.
    // With it (write-back.ts), close(2) waits for the writes in flight and reports their failure.
    const drain = (this.fs as Partial<Drainable>).drain;
    if (typeof drain !== 'function') return reply(0);
    this.call(
      () => drain.call(this.fs, f.backend),
      this.settings.syncTimeoutMs,
      () => reply(0),
      reply,
    );
  }

  fsync(_path: string, _dataOnly: boolean, fh: number, reply: Reply): void {
    const f = this.files.get(fh);
    if (!f) return reply(-ERRNO.EBADF);
    this.call(
      () => this.fs.fsync(f.backend),
      this.settings.syncTimeoutMs,
      () => reply(0),
      reply,
    );
  }

  // --- data ---------------------------------------------------------------------------------------

  read(_path: string, fh: number, buf: Buffer, length: number, position: number, reply: Reply): void {
    const f = this.files.get(fh);
    if (!f) return reply(-ERRNO.EBADF);
    this.stats.recordRead(length);
    const target = length === buf.length ? buf : buf.subarray(0, length);
    this.call(
      () => this.fs.readInto(f.backend, position, target),
      this.settings.opTimeoutMs,
      (n) => reply(n),
      reply,
    );
  }

  write(_path: string, fh: number, buf: Buffer, length: number, position: number, reply: Reply): void {
    const f = this.files.get(fh);
    if (!f) return reply(-ERRNO.EBADF);
    if (this.readOnly) return reply(-ERRNO.EROFS);
    this.stats.recordWrite(length);
    const data = length === buf.length ? buf : buf.subarray(0, length);
    this.call(
      () => this.fs.write(f.backend, position, data),
      this.settings.opTimeoutMs,
      () => reply(length),
      reply,
    );
  }

  truncate(path: string, sizeBytes: number, reply: Reply): void {
    const name = keyOfPath(path);
    if (typeof name === 'number') return reply(name);
    if (name === '') return reply(-ERRNO.EISDIR);
    if (this.readOnly) return reply(-ERRNO.EROFS);
    const open = this.files.findByName(name);
    const work = (): Promise<void> =>
      open?.unlinked ? this.fs.ftruncate(open.backend, sizeBytes) : this.fs.truncate(name, sizeBytes);
    this.call(work, this.settings.opTimeoutMs, () => reply(0), reply);
  }

  ftruncate(path: string, fh: number, sizeBytes: number, reply: Reply): void {
    const f = this.files.get(fh);
    if (!f) return this.truncate(path, sizeBytes, reply);
    if (this.readOnly) return reply(-ERRNO.EROFS);
    this.call(
      () => this.fs.ftruncate(f.backend, sizeBytes),
      this.settings.opTimeoutMs,
      () => reply(0),
      reply,
    );
  }

  // --- names --------------------------------------------------------------------------------------

  rename(fromPath: string, toPath: string, reply: Reply): void {
    const from = keyOfPath(fromPath);
    if (typeof from === 'number') return reply(from);
    const to = keyOfPath(toPath);
    if (typeof to === 'number') return reply(to);
    if (from === '' || to === '') return reply(-ERRNO.EBUSY);
    if (this.readOnly) return reply(-ERRNO.EROFS);
    const open = this.files.findByName(from);
    if (open && !open.unlinked && isFuseHiddenName(baseName(to))) return this.unlinkOpen(from, to, reply);
    this.call(
      () => this.renameFile(from, to),
      this.settings.opTimeoutMs,
      (r) => {
        if (r !== 'folder') return reply(r);
        // A folder: every key under it moves, which may take many backend calls.
        this.call(
          () => this.renameFolder(from, to),
          this.settings.syncTimeoutMs,
          (result) => reply(result),
          reply,
        );
      },
      reply,
    );
  }

  unlink(path: string, reply: Reply): void {
    const name = keyOfPath(path);
    if (typeof name === 'number') return reply(name);
    if (name === '') return reply(-ERRNO.EISDIR);
    if (this.hiddenNames.delete(name)) return reply(0);
    if (this.readOnly) return reply(-ERRNO.EROFS);
    this.call(
      () => this.fs.unlink(name),
      this.settings.opTimeoutMs,
      () => reply(0),
      reply,
    );
  }

  utimens(path: string, atimeMs: number, mtimeMs: number, reply: Reply): void {
    const name = keyOfPath(path);
    if (typeof name === 'number') return reply(name);
    if (name === '') return reply(0);
    if (this.readOnly) return reply(-ERRNO.EROFS);
    if (this.files.findByName(name)?.unlinked) return reply(0);
    const now = Date.now();
    const a = atimeMs < UTIME_SPECIAL_BELOW_MS ? now : atimeMs;
    const m = mtimeMs < UTIME_SPECIAL_BELOW_MS ? now : mtimeMs;
    // Folders keep no times: setting them (touch, cp -p) is accepted and changes nothing.
    this.call(
      async () => {
        try {
          await this.fs.setTimes(name, a, m);
        } catch (err) {
          if (!isFerryError(err, 'NOT_FOUND') || !(await this.isFolder(name))) throw err;
        }
      },
      this.settings.opTimeoutMs,
      () => reply(0),
      reply,
    );
  }

  /** Files have no permission bits of their own: chmod is accepted and changes nothing. */
  chmod(_path: string, _mode: number, reply: Reply): void {
    reply(this.readOnly ? -ERRNO.EROFS : 0);
  }

  /** Files belong to the user who mounted: chown to anyone else is refused, as on vfat. */
  chown(_path: string, uid: number, gid: number, reply: Reply): void {
    if (this.readOnly) return reply(-ERRNO.EROFS);
    const uidOk = uid === UINT32_MAX || uid === this.uid;
    const gidOk = gid === UINT32_MAX || gid === this.gid;
    reply(uidOk && gidOk ? 0 : -ERRNO.EPERM);
  }

  /** Remembers an empty folder for the mount's lifetime; its first file makes it real. */
  mkdir(path: string, _mode: number, reply: Reply): void {
    if (this.readOnly) return reply(-ERRNO.EROFS);
    const key = keyOfPath(path);
    if (typeof key === 'number') return reply(key);
    if (key === '') return reply(-ERRNO.EEXIST);
    this.call(
      async () => {
        if ((await this.kindOf(key)) !== null) return -ERRNO.EEXIST;
        const parent = await this.kindOf(parentKey(key));
        if (parent !== 'folder') return parent === 'file' ? -ERRNO.ENOTDIR : -ERRNO.ENOENT;
        return this.folders.add(key) ? 0 : -ERRNO.ENOSPC;
      },
      this.settings.opTimeoutMs,
      (r) => reply(r),
      reply,
    );
  }

  /** Removes an empty folder: one this mount remembers (a folder with keys is never empty). */
  rmdir(path: string, reply: Reply): void {
    const key = keyOfPath(path);
    if (typeof key === 'number') return reply(key);
    if (key === '') return reply(-ERRNO.EBUSY);
    if (this.readOnly) return reply(-ERRNO.EROFS);
    this.call(
      async () => {
        const kind = await this.kindOf(key);
        if (kind !== 'folder') return kind === 'file' ? -ERRNO.ENOTDIR : -ERRNO.ENOENT;
        if (this.folders.anyUnder(key) || (await anyUnder(this.fs, folderPrefix(key))))
          return -ERRNO.ENOTEMPTY;
        this.folders.delete(key);
        return 0;
      },
      this.settings.opTimeoutMs,
      (r) => reply(r),
      reply,
    );
  }

  mknod(_path: string, _mode: number, _dev: number, reply: Reply): void {
    reply(this.readOnly ? -ERRNO.EROFS : -ERRNO.EPERM);
  }

  symlink(_target: string, _path: string, reply: Reply): void {
    reply(this.readOnly ? -ERRNO.EROFS : -ERRNO.EPERM);
  }

  link(_from: string, _to: string, reply: Reply): void {
    reply(this.readOnly ? -ERRNO.EROFS : -ERRNO.EPERM);
  }

  // --- helpers ------------------------------------------------------------------------------------

  /**
   * Settles `work` within `timeoutMs`: `onValue` with its result, or `reply` with a negative errno
   * (EIO on timeout). Exactly one of them runs, once.
   */
  private call<T>(
    work: () => Promise<T>,
    timeoutMs: number,
    onValue: (v: T) => void,
    reply: Reply,
    onLate?: (v: T) => void,
    errnoFor: (err: unknown) => number = errnoOf,
  ): void {
    let settled = false;
    const fail = (errno: number): void => {
      this.stats.errors++;
      reply(errno);
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      this.stats.timeouts++;
      fail(-ERRNO.EIO);
    }, timeoutMs);
    let promise: Promise<T>;
    try {
      promise = work();
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (v) => {
        if (settled) return onLate?.(v);
        settled = true;
        clearTimeout(timer);
        try {
          onValue(v);
        } catch (err) {
          fail(errnoFor(err));
        }
      },
      (err: unknown) => {
        if (isFerryError(err) && LOST_CODES.has(err.code)) this.markLost(err.code);
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fail(errnoFor(err));
      },
    );
  }

  private openHandle(work: () => Promise<number>, name: string, reply: HandleReply): void {
    const closeLate = (h: number): void => void this.fs.closeFile(h).catch(() => undefined);
    this.call(
      work,
      this.settings.opTimeoutMs,
      (h) => {
        const fh = this.files.add(h, name);
        if (fh === 0) {
          closeLate(h);
          return reply(-ERRNO.ENFILE);
        }
        reply(0, fh);
      },
      reply,
      closeLate,
      openErrno,
    );
  }

  /** libfuse's rename of an open file to its hidden name: really unlink it in the backend. */
  private unlinkOpen(name: string, hiddenName: string, reply: Reply): void {
    this.call(
      () => this.fs.unlink(name),
      this.settings.opTimeoutMs,
      () => {
        this.files.hide(name, hiddenName);
        this.hiddenNames.add(hiddenName);
        reply(0);
      },
      reply,
    );
  }

  /** A file, a folder (keys under it, or remembered), or nothing; the root is a folder. */
  private async kindOf(key: string): Promise<Kind> {
    if (key === '') return 'folder';
    try {
      await this.fs.stat(key);
      return 'file';
    } catch (err) {
      if (!isFerryError(err, 'NOT_FOUND')) throw err;
    }
    return (await this.isFolder(key)) ? 'folder' : null;
  }

  /** True when `key` is a folder: remembered, holding a remembered one, or some key under it. */
  private async isFolder(key: string): Promise<boolean> {
    if (this.folders.has(key) || this.folders.anyUnder(key)) return true;
    return anyUnder(this.fs, folderPrefix(key));
  }

  /**
   * One level of folder `key`: files from the listing's entries, folders from its prefixes (or
   * rolled up here) plus remembered empty ones; a negative errno when it is not a folder, or EIO
   * when it holds more than maxDirEntries.
   */
  private async listFolder(key: string): Promise<{ names: string[]; stats: FuseStat[] } | number> {
    const dir = this.rootStat();
    const names = ['.', '..'];
    const stats = [dir, dir];
    const taken = new Set<string>();
    for await (const level of listLevel(this.fs, folderPrefix(key), READDIR_PAGE_ITEMS)) {
      for (const f of level.files) {
        taken.add(f.name);
        names.push(f.name);
        stats.push(this.fileStat(f.stat));
      }
      for (const d of level.folders) {
        if (taken.has(d)) continue;
        taken.add(d);
        names.push(d);
        stats.push(dir);
      }
      if (names.length - 2 > this.settings.maxDirEntries) return -ERRNO.EIO;
    }
    for (const d of this.folders.childrenOf(key)) {
      if (taken.has(d)) continue;
      names.push(d);
      stats.push(dir);
    }
    if (names.length - 2 > this.settings.maxDirEntries) return -ERRNO.EIO;
    if (key !== '' && names.length === 2 && !this.folders.has(key)) {
      try {
        await this.fs.stat(key);
        return -ERRNO.ENOTDIR;
      } catch (err) {
        if (isFerryError(err, 'NOT_FOUND')) return -ERRNO.ENOENT;
        throw err;
      }
    }
    return { names, stats };
  }

  /** Renames a file; 'folder' when `from` is a folder (the caller then moves its keys). */
  private async renameFile(from: string, to: string): Promise<number | 'folder'> {
    if (this.folders.has(to) || this.folders.anyUnder(to)) {
      // `to` is a folder only this mount knows (no key to collide with in the backend).
      const kind = await this.kindOf(from);
      if (kind === 'folder') return 'folder';
      return kind === 'file' ? -ERRNO.EISDIR : -ERRNO.ENOENT;
    }
    try {
      await this.fs.rename(from, to);
    } catch (err) {
      if (isFerryError(err, 'NOT_FOUND') && (await this.isFolder(from))) return 'folder';
      throw err;
    }
    this.files.renamed(from, to);
    return 0;
  }

  /**
   * Renames folder `from` to `to` (absent, or an empty folder) by renaming every key under it, one
   * at a time. Not atomic: others may see it half moved; a failure moves back what had moved.
   */
  private async renameFolder(from: string, to: string): Promise<number> {
    if (to.startsWith(folderPrefix(from))) return -ERRNO.EINVAL;
    const target = await this.kindOf(to);
    if (target === 'file') return -ERRNO.ENOTDIR;
    if (target === 'folder' && (this.folders.anyUnder(to) || (await anyUnder(this.fs, folderPrefix(to))))) {
      return -ERRNO.ENOTEMPTY;
    }
    const keys = await allUnder(this.fs, folderPrefix(from), MAX_FOLDER_RENAME_FILES, READDIR_PAGE_ITEMS);
    if (keys === null) return -ERRNO.EXDEV;
    const moves = keys.map((k): [string, string] => [k, to + k.slice(from.length)]);
    for (const [, k] of moves) {
      const checked = keyOfPath('/' + k);
      if (typeof checked === 'number') return checked;
    }
    const done: Array<[string, string]> = [];
    try {
      for (const [a, b] of moves) {
        await this.fs.rename(a, b);
        done.push([a, b]);
        this.files.renamed(a, b);
      }
    } catch (err) {
      for (const [a, b] of done.reverse()) {
        await this.fs.rename(b, a).then(
          () => this.files.renamed(b, a),
          () => undefined, // left under its new name: the error below is what the caller sees
        );
      }
      throw err;
    }
    this.folders.delete(to);
    this.folders.moved(from, to);
    return 0;
  }

  private rootStat(): FuseStat {
    return {
      mode: S_IFDIR | (this.readOnly ? 0o555 : 0o755),
      uid: this.uid,
      gid: this.gid,
      sizeBytes: 0,
      nlink: 2,
      blockSizeBytes: this.settings.maxIoBytes,
      blocks512: 0,
      atimeMs: this.mountedAtMs,
      mtimeMs: this.mountedAtMs,
      ctimeMs: this.mountedAtMs,
    };
  }

  private fileStat(st: FileStat): FuseStat {
    return {
      // The file's own permission bits where the storage keeps them (uploads keep their source's).
      mode: S_IFREG | ((st.mode ?? 0o644) & (this.readOnly ? 0o555 : 0o777)),
      uid: this.uid,
      gid: this.gid,
      sizeBytes: st.sizeBytes,
      nlink: 1,
      blockSizeBytes: this.settings.maxIoBytes,
      // Reported as fully allocated: a lower count makes `cp` hunt for holes it cannot find here.
      blocks512: Math.ceil(st.sizeBytes / 512),
      atimeMs: st.atimeMs,
      mtimeMs: st.mtimeMs,
      ctimeMs: st.ctimeMs,
    };
  }

  /** statvfs counts are 32-bit in fuse-native: grow the fragment size until the total fits. */
  private fsStat(st: FsStat): FuseStatfs {
    let frag = 4096;
    while (st.totalBytes / frag > UINT32_MAX && frag < 2 ** 30) frag *= 2;
    const count = (bytes: number): number => Math.min(UINT32_MAX, Math.floor(Math.max(0, bytes) / frag));
    return {
      blockSizeBytes: frag,
      fragmentBytes: frag,
      blocks: count(st.totalBytes),
      blocksFree: count(st.freeBytes),
      blocksAvailable: this.readOnly ? 0 : count(st.freeBytes),
      files: Math.min(UINT32_MAX, st.files),
      filesFree: Math.max(0, UINT32_MAX - st.files),
      // namemax is per path component: the segment limit, not the whole key's.
      maxNameBytes: st.maxSegmentBytes ?? LIMITS.MAX_SEGMENT_BYTES,
    };
  }
}

/** Opening past the backend's handle limit is "too many open files", not an I/O error. */
function openErrno(err: unknown): number {
  return isFerryError(err, 'LIMIT_EXCEEDED') ? -ERRNO.ENFILE : errnoOf(err);
}
