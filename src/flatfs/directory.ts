/**
 * DirectoryFlatFs: the flat filesystem as the regular files of one host directory tree.
 *
 * Why: `ferry serve --root DIR` serves real files, durably. A name `a/b/c` is the host file
 * `DIR/a/b/c`: folders are created as names need them and removed when their last file goes
 * (never the root), so the host tree holds no empty folders of ours. Names are validated before
 * they become paths (so no name leaves the root), every folder on a name's path is checked with
 * lstat to be a real directory and files are opened with O_NOFOLLOW and checked to be regular (so no
 * symlink or FIFO in the tree is followed or blocks us), and each handle is one host FileHandle
 * doing positional I/O, so reads go straight into the caller's buffer.
 *
 * Symlinks, and what is guaranteed: Node has no openat(), so a path is checked and then used. With
 * no one else changing the tree, no call follows a symlink. If a host user swaps a folder for a
 * symlink between the check and the use, a path call (mkdir, rename, unlink, rmdir) may act
 * through it; an opened file, though, is checked afterwards (Linux: /proc/self/fd) to be the file
 * inside the root that its name says, and refused otherwise, so no handle ever reads or writes
 * outside the root.
 *
 * Durability: `fsync(handle)` is FileHandle.sync, plus an fsync of the file's folders (up to the
 * root) the first time for a file this backend created (so its name survives a crash too);
 * `rename` and `unlink` fsync the folders they changed before they resolve.
 *
 * Concurrency: namespace changes (create, open, rename, unlink, truncate by name) run one at a
 * time; reads and writes run in parallel, and a size change of a file waits for its in-flight I/O.
 * Quota: the sum of file sizes, computed at open and kept up to date by every change; space is
 * reserved synchronously before any host call, so parallel writers cannot overshoot it.
 */
import { constants as C, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle as HostFile } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, isFerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { checkBytes, checkFileSize, checkIo, checkMode, checkQuota, checkTime } from './args.js';
import { HandleTable, type HandleEntry } from './handles.js';
import { isAFolder, notAFolder } from './folders.js';
import {
  allFileNames,
  fileStatOf,
  holdsFiles,
  hostPath,
  isOpenedAt,
  lstatOrNull,
  statRegularFiles,
  sumFileBytes,
} from './host-dir.js';
import { errnoOf, hostError } from './host-errors.js';
import { listHostPage } from './host-list.js';
import { checkRoot, readFully, writeFully } from './host-io.js';
import { isHiddenName, parentsOf, validateName } from './names.js';
import { checkListOptions } from './paginate.js';
import { RwLock } from './rw-lock.js';
import type {
  CreateOptions,
  FileHandle,
  FileStat,
  FlatFs,
  FsStat,
  ListOptions,
  ListPage,
  OpenOptions,
} from './types.js';
import { HIDDEN_FILE_MODE, NEW_FILE_MODE } from './types.js';

export interface DirectoryFlatFsOptions {
  /** The host directory holding the files; it must exist. */
  root: string;
  /** Bound on the total bytes of all files (their sizes); default: only the host's free space. */
  quotaBytes?: number;
  /** Refuse every change with READ_ONLY, and open host files read-only (default false). */
  readOnly?: boolean;
  /** Handle limit, 1..LIMITS.MAX_OPEN_FILES (default the limit); each handle is one host fd. */
  maxOpenFiles?: number;
}

/** What the backend knows of a file while handles are open on it. */
interface DirInode {
  /** Current name, or the last one once unlinked or renamed over. */
  name: string;
  linked: boolean;
  /** Handles (and internal users) holding it; at 0 the record goes. */
  openCount: number;
  /** Size as accounted in the quota; the host size once in-flight I/O settles. */
  sizeBytes: number;
  /** Created here and its directory entry not yet fsynced. */
  needsDirSync: boolean;
  /** Shared for reads and writes, exclusive for size changes. */
  readonly lock: RwLock;
}

interface DirHandle extends HandleEntry {
  readonly inode: DirInode;
  readonly file: HostFile;
}

/** Open flags that never follow a symlink and never block on a FIFO. */
const SAFE_OPEN = C.O_NOFOLLOW | C.O_NONBLOCK;

/**
 * A flat filesystem over the regular files of one existing host directory; open it with `open`.
 *
 * @example
 * const fs = await DirectoryFlatFs.open({ root: '/srv/ferry', quotaBytes: 10 * GiB });
 * const h = await fs.create('notes.txt');
 * await fs.write(h, 0, Buffer.from('hello'));
 * await fs.fsync(h); // data and name are durable
 * await fs.closeFile(h);
 * await fs.close();
 */
/** A folder's fsync under way, and the one queued behind it that later callers join. */
interface FolderSync {
  running: Promise<void> | null;
  queued: Promise<void> | null;
}

function ignoreNotFound(err: unknown): void {
  if (!isFerryError(err, 'NOT_FOUND')) throw err;
}

export class DirectoryFlatFs implements FlatFs {
  readonly readOnly: boolean;
  readonly root: string;
  readonly quotaBytes: number | null;
  private readonly handles: HandleTable<DirHandle>;
  /** Inodes with open handles, by current name. */
  private readonly inodes = new Map<string, DirInode>();
  private readonly namespace = new RwLock();
  /** Folder fsyncs under way and the one queued behind each (see syncFolderJoined). */
  private readonly folderSyncs = new Map<string, FolderSync>();
  /** Bytes counted against the quota; meaningful only with a quota (statfs asks the host otherwise). */
  private usedBytes: number;
  private closed = false;

  private constructor(
    opts: DirectoryFlatFsOptions,
    root: string,
    private readonly dir: HostFile,
    /** The root with symlinks resolved: what /proc/self/fd shows for files inside it. */
    private readonly realRoot: string,
    usedBytes: number,
  ) {
    this.root = root;
    this.readOnly = opts.readOnly === true;
    this.quotaBytes = opts.quotaBytes ?? null;
    this.handles = new HandleTable<DirHandle>(opts.maxOpenFiles);
    this.usedBytes = usedBytes;
  }

  /** Opens the backend on an existing directory (NOT_FOUND if it is missing). */
  static async open(opts: DirectoryFlatFsOptions): Promise<DirectoryFlatFs> {
    const root = await checkRoot(opts?.root);
    if (opts.quotaBytes !== undefined) checkQuota(opts.quotaBytes);
    const dir = await fsp.open(root, C.O_RDONLY | C.O_DIRECTORY).catch((err: unknown) => {
      throw hostError(err, `opening the root directory '${root}'`);
    });
    try {
      const realRoot = await fsp.realpath(root);
      const usedBytes = opts.quotaBytes === undefined ? 0 : await sumFileBytes(root);
      return new DirectoryFlatFs(opts, root, dir, realRoot, usedBytes);
    } catch (err) {
      await dir.close().catch(() => undefined);
      throw err;
    }
  }

  async create(name: string, opts?: CreateOptions): Promise<FileHandle> {
    this.checkOpen();
    validateName(name);
    const sizeBytes = opts?.sizeBytes ?? 0;
    checkFileSize(sizeBytes);
    this.checkWritable();
    const exclusive = opts?.exclusive === true;
    return this.namespace.exclusive(async () => {
      this.checkOpen();
      this.handles.ensureRoom();
      const missing = await this.foldersToMake(name);
      const existing = missing.length > 0 ? null : await this.fileOrNothingAt(name);
      if (existing !== null && exclusive) {
        throw new FerryError('EXISTS', `a file named '${name}' exists: pick another name or remove it`, {
          name,
        });
      }
      const inode = this.pin(name, existing?.size ?? 0);
      try {
        const file = await inode.lock.exclusive(() => this.recreate(inode, sizeBytes, exclusive, missing));
        if (existing === null) inode.needsDirSync = true;
        return this.handles.add({ inode, file, writable: true });
      } catch (err) {
        this.unpin(inode);
        throw hostError(err, `creating '${name}'`);
      }
    });
  }

  async open(name: string, opts?: OpenOptions): Promise<FileHandle> {
    this.checkOpen();
    validateName(name);
    const writable = opts?.write === true;
    if (writable) this.checkWritable();
    return this.namespace.exclusive(async () => {
      this.checkOpen();
      this.handles.ensureRoom();
      const stat = await this.lookup(name);
      const inode = this.pin(name, stat.size);
      try {
        const file = await this.openHost(name, writable ? C.O_RDWR : C.O_RDONLY);
        return this.handles.add({ inode, file, writable });
      } catch (err) {
        this.unpin(inode);
        throw err;
      }
    });
  }

  async closeFile(handle: FileHandle): Promise<void> {
    this.checkOpen();
    const { inode, file } = this.handles.remove(handle);
    this.unpin(inode);
    await file.close().catch((err: unknown) => {
      throw hostError(err, `closing '${inode.name}'`);
    });
  }

  async stat(name: string): Promise<FileStat> {
    this.checkOpen();
    validateName(name);
    return fileStatOf(name, await this.lookup(name));
  }

  async fstat(handle: FileHandle): Promise<FileStat> {
    this.checkOpen();
    const { inode, file } = this.handles.get(handle);
    return fileStatOf(inode.name, await this.host(file.stat(), 'stat', inode));
  }

  async list(opts?: ListOptions): Promise<ListPage> {
    this.checkOpen();
    const page = await listHostPage(this.root, checkListOptions(opts));
    const found = await statRegularFiles(this.root, page.names);
    return {
      entries: found.map((f) => fileStatOf(f.name, f.stat)),
      prefixes: page.prefixes,
      nextCursor: page.nextCursor,
    };
  }

  async read(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    const { inode } = this.handles.get(handle);
    checkIo(offset, length);
    const target = Buffer.allocUnsafe(Math.max(0, Math.min(length, inode.sizeBytes - offset)));
    const n = await this.readInto(handle, offset, target);
    return n === target.length ? target : target.subarray(0, n);
  }

  async readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    this.checkOpen();
    const { inode, file } = this.handles.get(handle);
    checkBytes('target', target);
    checkIo(offset, target.length);
    return inode.lock.shared(() => this.host(readFully(file, offset, target), 'read', inode));
  }

  async write(handle: FileHandle, offset: number, data: Uint8Array): Promise<void> {
    this.checkOpen();
    const entry = this.handles.getWritable(handle);
    checkBytes('data', data);
    checkIo(offset, data.length);
    if (data.length === 0) return;
    await entry.inode.lock.shared(() => this.writeAt(entry, offset, data));
  }

  async append(handle: FileHandle, data: Uint8Array): Promise<number> {
    this.checkOpen();
    const entry = this.handles.getWritable(handle);
    checkBytes('data', data);
    return entry.inode.lock.shared(async () => {
      const offset = entry.inode.sizeBytes;
      checkIo(offset, data.length);
      if (data.length > 0) await this.writeAt(entry, offset, data);
      return offset;
    });
  }

  async truncate(name: string, sizeBytes: number): Promise<void> {
    this.checkOpen();
    validateName(name);
    checkFileSize(sizeBytes);
    this.checkWritable();
    await this.namespace.exclusive(async () => {
      this.checkOpen();
      const inode = this.pin(name, (await this.lookup(name)).size);
      try {
        await inode.lock.exclusive(async () => {
          const file = await this.openHost(name, C.O_WRONLY);
          try {
            await this.resize(inode, file, sizeBytes);
          } finally {
            await file.close().catch(() => undefined);
          }
        });
      } finally {
        this.unpin(inode);
      }
    });
  }

  async ftruncate(handle: FileHandle, sizeBytes: number): Promise<void> {
    this.checkOpen();
    const { inode, file } = this.handles.getWritable(handle);
    checkFileSize(sizeBytes);
    await inode.lock.exclusive(() => this.resize(inode, file, sizeBytes));
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkOpen();
    validateName(from);
    validateName(to);
    this.checkWritable();
    let changed = new Set<string>();
    await this.namespace.exclusive(async () => {
      this.checkOpen();
      await this.lookup(from);
      if (from === to) return;
      const missing = await this.foldersToMake(to);
      const target = missing.length > 0 ? null : await this.fileOrNothingAt(to);
      await this.makeFolders(to, missing);
      try {
        await this.host(fsp.rename(this.pathOf(from), this.pathOf(to)), `renaming '${from}' to '${to}'`);
      } catch (err) {
        await this.removeEmptyFolders(to).catch(() => undefined);
        throw err;
      }
      this.forgetName(to, target?.size ?? 0);
      this.moveInode(from, to);
      changed = new Set([parentOf(to), ...missing.map(parentOf), await this.removeEmptyFolders(from)]);
    });
    // The folders are synced after the namespace is let go, so renames into many folders overlap
    // their fsyncs (and share them: syncFolderJoined); the rename still resolves only once they are
    // durable. A folder gone by then was emptied and removed by a later call, which synced its parent.
    await Promise.all([...changed].map((folder) => this.syncFolderJoined(folder, true)));
  }

  async unlink(name: string): Promise<void> {
    this.checkOpen();
    validateName(name);
    this.checkWritable();
    await this.namespace.exclusive(async () => {
      this.checkOpen();
      const stat = await this.lookup(name);
      await this.host(fsp.unlink(this.pathOf(name)), `removing '${name}'`);
      this.forgetName(name, stat.size);
      await this.syncFolder(await this.removeEmptyFolders(name));
    });
  }

  async setTimes(name: string, atimeMs: number, mtimeMs: number): Promise<void> {
    this.checkOpen();
    validateName(name);
    checkTime('atimeMs', atimeMs);
    checkTime('mtimeMs', mtimeMs);
    this.checkWritable();
    await this.namespace.exclusive(async () => {
      this.checkOpen();
      await this.lookup(name);
      // lutimes: never follows a symlink that replaced the file since the lookup.
      await this.host(
        fsp.lutimes(this.pathOf(name), atimeMs / 1000, mtimeMs / 1000),
        `setting times of '${name}'`,
      );
    });
  }

  async fsync(handle: FileHandle): Promise<void> {
    this.checkOpen();
    const { inode, file } = this.handles.get(handle);
    await this.host(file.sync(), 'fsync', inode);
    if (!inode.needsDirSync || !inode.linked) return;
    inode.needsDirSync = false;
    try {
      for (const folder of ['', ...parentsOf(inode.name)]) await this.syncFolderJoined(folder, false);
    } catch (err) {
      inode.needsDirSync = true;
      throw err;
    }
  }

  /** Sets the host file's permission bits through its open descriptor (fchmod: no path, no symlink). */
  async fchmod(handle: FileHandle, mode: number): Promise<void> {
    this.checkOpen();
    this.checkWritable();
    checkMode(mode);
    const { inode, file } = this.handles.getWritable(handle);
    await this.host(file.chmod(mode), 'chmod', inode);
  }

  /** Sets the host file's times through its open descriptor (futimes: no path, no namespace lock). */
  async futimes(handle: FileHandle, atimeMs: number, mtimeMs: number): Promise<void> {
    this.checkOpen();
    this.checkWritable();
    checkTime('atimeMs', atimeMs);
    checkTime('mtimeMs', mtimeMs);
    const { inode, file } = this.handles.getWritable(handle);
    await this.host(file.utimes(atimeMs / 1000, mtimeMs / 1000), 'setting times', inode);
  }

  async statfs(): Promise<FsStat> {
    this.checkOpen();
    const files = (await allFileNames(this.root)).length;
    const base = {
      files,
      maxNameBytes: LIMITS.MAX_NAME_BYTES,
      maxSegmentBytes: LIMITS.MAX_SEGMENT_BYTES,
      readOnly: this.readOnly,
    };
    if (this.quotaBytes !== null) {
      const freeBytes = Math.max(0, this.quotaBytes - this.usedBytes);
      return { ...base, totalBytes: this.quotaBytes, usedBytes: this.usedBytes, freeBytes };
    }
    const host = await this.host(fsp.statfs(this.root), 'statfs of the root directory');
    const totalBytes = host.blocks * host.bsize;
    const freeBytes = host.bavail * host.bsize;
    return { ...base, totalBytes, usedBytes: Math.max(0, totalBytes - freeBytes), freeBytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const open = this.handles.drain();
    this.inodes.clear();
    await Promise.all(open.map((h) => h.file.close().catch(() => undefined)));
    await this.dir.close().catch(() => undefined);
  }

  // --- data path helpers ---

  /** Reserves the growth synchronously (so parallel writers see it), then writes. */
  private async writeAt(entry: DirHandle, offset: number, data: Uint8Array): Promise<void> {
    const { inode, file } = entry;
    const endBytes = offset + data.length;
    const growthBytes = Math.max(0, endBytes - inode.sizeBytes);
    this.reserve(growthBytes);
    inode.sizeBytes += growthBytes;
    try {
      await writeFully(file, offset, data);
    } catch (err) {
      await this.resync(inode, file);
      throw hostError(err, `writing '${inode.name}'`);
    }
  }

  /** Sets the size; caller holds the inode's exclusive lock. */
  private async resize(inode: DirInode, file: HostFile, sizeBytes: number): Promise<void> {
    const deltaBytes = sizeBytes - inode.sizeBytes;
    this.reserve(deltaBytes);
    inode.sizeBytes = sizeBytes;
    try {
      await file.truncate(sizeBytes);
    } catch (err) {
      await this.resync(inode, file);
      throw hostError(err, `truncating '${inode.name}'`);
    }
  }

  /**
   * create's work under the inode's exclusive lock: space is reserved before the host file is
   * opened or created, so NO_SPACE changes nothing.
   */
  private async recreate(
    inode: DirInode,
    sizeBytes: number,
    exclusive: boolean,
    missingFolders: readonly string[],
  ): Promise<HostFile> {
    const deltaBytes = sizeBytes - inode.sizeBytes;
    this.reserve(deltaBytes);
    inode.sizeBytes = sizeBytes;
    let file: HostFile;
    try {
      await this.makeFolders(inode.name, missingFolders);
      file = await this.openHost(inode.name, C.O_RDWR | C.O_CREAT | (exclusive ? C.O_EXCL : 0));
    } catch (err) {
      this.usedBytes -= deltaBytes;
      inode.sizeBytes -= deltaBytes;
      await this.removeEmptyFolders(inode.name).catch(() => undefined);
      throw err;
    }
    try {
      await file.truncate(0);
      await file.truncate(sizeBytes);
      return file;
    } catch (err) {
      await this.resync(inode, file);
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  /** After a failed host change: account the size the host really has. */
  private async resync(inode: DirInode, file: HostFile): Promise<void> {
    try {
      const realBytes = (await file.stat()).size;
      this.usedBytes += realBytes - inode.sizeBytes;
      inode.sizeBytes = realBytes;
    } catch {
      // The host cannot even stat the file: keep the (pessimistic) reservation.
    }
  }

  /** Accounts `deltaBytes` more (or fewer); NO_SPACE, changing nothing, past the quota. */
  private reserve(deltaBytes: number): void {
    if (this.quotaBytes !== null && deltaBytes > 0 && this.usedBytes + deltaBytes > this.quotaBytes) {
      throw new FerryError(
        'NO_SPACE',
        `${deltaBytes} more bytes would pass the quota of ${this.quotaBytes} (${this.usedBytes} used): delete files or raise quotaBytes`,
        { deltaBytes, usedBytes: this.usedBytes, quotaBytes: this.quotaBytes },
      );
    }
    this.usedBytes += deltaBytes;
  }

  // --- namespace helpers (callers hold the namespace lock) ---

  /** The inode record for `name`, created if none, with one more holder. */
  private pin(name: string, sizeBytes: number): DirInode {
    let inode = this.inodes.get(name);
    if (inode === undefined) {
      inode = { name, linked: true, openCount: 0, sizeBytes, needsDirSync: false, lock: new RwLock() };
      this.inodes.set(name, inode);
    }
    inode.openCount++;
    return inode;
  }

  /** One holder fewer; the last one drops the record, and an unlinked file's bytes leave the quota. */
  private unpin(inode: DirInode): void {
    inode.openCount--;
    if (inode.openCount > 0) return;
    if (!inode.linked) {
      this.usedBytes -= inode.sizeBytes;
      return;
    }
    if (this.inodes.get(inode.name) === inode) this.inodes.delete(inode.name);
  }

  /** `name` no longer names its file: open handles keep it (and its bytes) until they close. */
  private forgetName(name: string, hostSizeBytes: number): void {
    const inode = this.inodes.get(name);
    if (inode === undefined) {
      this.usedBytes -= hostSizeBytes;
      return;
    }
    inode.linked = false;
    this.inodes.delete(name);
  }

  private moveInode(from: string, to: string): void {
    const inode = this.inodes.get(from);
    if (inode === undefined) return;
    this.inodes.delete(from);
    inode.name = to;
    this.inodes.set(to, inode);
  }

  /**
   * The host entry for `name`, which must be a regular file in a chain of real folders (NOT_FOUND
   * otherwise: a symlink on the way is not a folder).
   */
  private async lookup(name: string): Promise<Stats> {
    for (const folder of parentsOf(name)) {
      if (!(await lstatOrNull(this.pathOf(folder)))?.isDirectory()) throw notFound(name);
    }
    const stat = await lstatOrNull(this.pathOf(name));
    if (stat?.isFile()) return stat;
    throw notFound(name);
  }

  /**
   * The folders of `name` that do not exist yet, outermost first; NOT_A_FOLDER when a file holds one
   * of them, EXISTS when another host entry (a symlink, a device) does.
   */
  private async foldersToMake(name: string): Promise<string[]> {
    const parents = parentsOf(name);
    for (const [i, folder] of parents.entries()) {
      const stat = await lstatOrNull(this.pathOf(folder));
      if (stat === null) return parents.slice(i);
      if (stat.isDirectory()) continue;
      if (stat.isFile()) throw notAFolder(name, folder);
      throw inTheWay(folder);
    }
    return [];
  }

  /**
   * The file at `name` (to be replaced), or null when nothing is there. IS_A_FOLDER when it is a
   * folder holding files; a folder holding none (left by a crash) is removed; any other host entry
   * is EXISTS.
   */
  private async fileOrNothingAt(name: string): Promise<Stats | null> {
    const stat = await lstatOrNull(this.pathOf(name));
    if (stat === null || stat.isFile()) return stat;
    if (!stat.isDirectory()) throw inTheWay(name);
    if (await holdsFiles(this.root, `${name}/`)) throw isAFolder(name);
    // rmdir only removes an empty directory, and never follows a symlink.
    await fsp.rmdir(this.pathOf(name)).catch(() => {
      throw inTheWay(name);
    });
    return null;
  }

  /** Creates `folders` (outermost first) for `name`. */
  private async makeFolders(name: string, folders: readonly string[]): Promise<void> {
    for (const folder of folders) {
      await fsp.mkdir(this.pathOf(folder)).catch((err: unknown) => {
        if (errnoOf(err) !== 'EEXIST') throw hostError(err, `creating the folder '${folder}' for '${name}'`);
      });
    }
  }

  /**
   * Removes the folders of `name` that are empty now, innermost first, never the root; resolves to
   * the innermost folder that stays (`''` for the root): the one whose entries changed last.
   */
  private async removeEmptyFolders(name: string): Promise<string> {
    const folders = parentsOf(name).reverse();
    for (const folder of folders) {
      const removed = await fsp.rmdir(this.pathOf(folder)).then(
        () => true,
        () => false,
      );
      if (!removed) return folder;
    }
    return '';
  }

  /** Opens a host file without following symlinks, and makes sure it is a regular file. */
  private async openHost(name: string, flags: number): Promise<HostFile> {
    let file: HostFile;
    try {
      file = await fsp.open(
        this.pathOf(name),
        flags | SAFE_OPEN,
        isHiddenName(name) ? HIDDEN_FILE_MODE : NEW_FILE_MODE,
      );
    } catch (err) {
      if (errnoOf(err) === 'ELOOP') throw inTheWay(name);
      throw hostError(err, `opening '${name}'`);
    }
    const stat = await file.stat().catch(async (err: unknown) => {
      await file.close().catch(() => undefined);
      throw hostError(err, `opening '${name}'`);
    });
    if (stat.isFile() && (await isOpenedAt(file, path.join(this.realRoot, name)))) return file;
    await file.close().catch(() => undefined);
    throw inTheWay(name);
  }

  /**
   * fsync of a folder shared by concurrent callers (group commit): a caller whose change is done
   * joins the next sync of the folder that has not started yet, or queues one behind the sync under
   * way (which may have started before its change). With `goneIsFine`, a folder removed meanwhile
   * counts as synced (its removal is synced in its parent by whoever removed it).
   */
  private syncFolderJoined(folder: string, goneIsFine: boolean): Promise<void> {
    let state = this.folderSyncs.get(folder);
    if (state === undefined) {
      state = { running: null, queued: null };
      this.folderSyncs.set(folder, state);
    }
    const s = state;
    const queued =
      s.queued ??
      (s.queued = (s.running ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => {
          s.running = queued;
          s.queued = null;
          return this.syncFolder(folder);
        })
        .finally(() => {
          if (s.running !== queued) return;
          s.running = null;
          if (s.queued === null) this.folderSyncs.delete(folder);
        }));
    return goneIsFine ? queued.catch((err: unknown) => ignoreNotFound(err)) : queued;
  }

  /** fsync of a folder (`''` is the root), opened without following a symlink. */
  private async syncFolder(folder: string): Promise<void> {
    if (folder === '') {
      await this.host(this.dir.sync(), 'fsync of the root directory');
      return;
    }
    const what = `fsync of the folder '${folder}'`;
    const dir = await this.host(
      fsp.open(this.pathOf(folder), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW),
      what,
    );
    try {
      await this.host(dir.sync(), what);
    } finally {
      await dir.close().catch(() => undefined);
    }
  }

  private pathOf(name: string): string {
    return hostPath(this.root, name);
  }

  /** Awaits a host call, turning its failure into a FerryError naming what failed. */
  private async host<R>(promise: Promise<R>, what: string, inode?: DirInode): Promise<R> {
    try {
      return await promise;
    } catch (err) {
      if (this.closed) throw closedError();
      throw hostError(err, inode === undefined ? what : `${what} of '${inode.name}'`);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }

  private checkWritable(): void {
    if (this.readOnly) throw new FerryError('READ_ONLY', 'the filesystem is read-only: nothing was changed');
  }
}

function notFound(name: string): FerryError {
  return new FerryError('NOT_FOUND', `no file named '${name}': check the name with list`, { name });
}

/** The folder holding `name` (`''` for the root). */
function parentOf(name: string): string {
  return parentsOf(name).pop() ?? '';
}

/** A host entry that is not a regular file (directory, symlink, FIFO...) holds the name. */
function inTheWay(name: string): FerryError {
  return new FerryError(
    'EXISTS',
    `'${name}' is taken by a host entry that is not a regular file (a directory, symlink or device): remove it on the host or pick another name`,
    { name },
  );
}

function closedError(): FerryError {
  return new FerryError('CLOSED', 'the directory filesystem was closed: open it again');
}
