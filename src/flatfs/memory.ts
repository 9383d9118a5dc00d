/**
 * MemoryFlatFs: the flat filesystem held in memory, with sparse files and a quota.
 *
 * Why: tests, demos and `ferry serve --memory` need a FlatFs with no disk behind it, and the
 * compliance suite needs a reference backend with exact POSIX-like semantics. Every operation runs
 * synchronously inside its promise, so operations never interleave halfway and need no locks.
 * Memory is bounded by the quota on logical bytes (a file's size, holes included): a hole costs no
 * memory but counts against the quota, which keeps the promise of `sizeBytes` honest.
 * Folders are the prefixes of names, counted per folder so that a name that collides with a file or
 * a folder is refused in a few map lookups, never a scan.
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { checkBytes, checkFileSize, checkIo, checkMode, checkQuota, checkTime } from './args.js';
import { HandleTable, type HandleEntry } from './handles.js';
import { compareNames, isHiddenName, parentsOf, validateName } from './names.js';
import { checkListOptions, pageOf } from './paginate.js';
import { isAFolder, notAFolder } from './folders.js';
import { SparseData } from './sparse-data.js';
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

export interface MemoryFlatFsOptions {
  /** Bound on the total logical bytes of all files (holes included), and so on memory use. */
  quotaBytes: number;
  /** Refuse every change with READ_ONLY (default false). */
  readOnly?: boolean;
  /** Files present from the start (counted against the quota); the way to fill a read-only fs. */
  files?: Iterable<readonly [string, Uint8Array]>;
  /** Handle limit, 1..LIMITS.MAX_OPEN_FILES (default the limit). */
  maxOpenFiles?: number;
  /** Wall clock for file times, ms since the epoch (default Date.now). */
  wallClockMs?: () => number;
}

/** One file: it lives while it has a name or an open handle. */
interface MemInode {
  readonly data: SparseData;
  /** The current name, or the last one once unlinked (reported by fstat). */
  name: string;
  linked: boolean;
  openCount: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
  /** Permission bits (kept for stat; the memory backend checks no permissions). */
  mode: number;
}

interface MemHandle extends HandleEntry {
  readonly inode: MemInode;
}

/**
 * A flat filesystem in memory, bounded by `quotaBytes` (holes count against it but cost nothing).
 *
 * @example
 * const fs = new MemoryFlatFs({ quotaBytes: 64 * MiB });
 * const h = await fs.create('notes.txt');
 * await fs.write(h, 0, Buffer.from('hello'));
 * console.log((await fs.read(h, 0, 5)).toString()); // hello
 * await fs.closeFile(h);
 * await fs.close();
 */
export class MemoryFlatFs implements FlatFs {
  readonly readOnly: boolean;
  readonly quotaBytes: number;
  private readonly files = new Map<string, MemInode>();
  /** Files under each folder (`a/b` counts in `a` and `a/b`), for the file/folder collision rules. */
  private readonly folderFiles = new Map<string, number>();
  private readonly handles: HandleTable<MemHandle>;
  private readonly nowMs: () => number;
  private sortedNames: string[] | null = null;
  private usedBytes = 0;
  private closed = false;

  constructor(opts: MemoryFlatFsOptions) {
    checkQuota(opts?.quotaBytes);
    this.quotaBytes = opts.quotaBytes;
    this.readOnly = opts.readOnly === true;
    this.handles = new HandleTable<MemHandle>(opts.maxOpenFiles);
    this.nowMs = opts.wallClockMs ?? Date.now;
    for (const [name, data] of opts.files ?? []) this.preload(name, data);
  }

  async create(name: string, opts?: CreateOptions): Promise<FileHandle> {
    this.checkOpen();
    validateName(name);
    const sizeBytes = opts?.sizeBytes ?? 0;
    checkFileSize(sizeBytes);
    this.checkWritable();
    this.handles.ensureRoom();
    this.checkCreatable(name);
    const existing = this.files.get(name);
    if (existing !== undefined && opts?.exclusive === true) {
      throw new FerryError('EXISTS', `a file named '${name}' exists: pick another name or remove it`, {
        name,
      });
    }
    this.reserve(sizeBytes - (existing?.data.sizeBytes ?? 0));
    const inode = existing ?? this.link(name, this.newInode(name));
    inode.data.truncate(0);
    inode.data.truncate(sizeBytes);
    this.touchData(inode);
    inode.openCount++;
    return this.handles.add({ inode, writable: true });
  }

  async open(name: string, opts?: OpenOptions): Promise<FileHandle> {
    this.checkOpen();
    validateName(name);
    const writable = opts?.write === true;
    if (writable) this.checkWritable();
    this.handles.ensureRoom();
    const inode = this.lookup(name);
    inode.openCount++;
    return this.handles.add({ inode, writable });
  }

  async closeFile(handle: FileHandle): Promise<void> {
    this.checkOpen();
    const { inode } = this.handles.remove(handle);
    inode.openCount--;
    this.forgetIfGone(inode);
  }

  async stat(name: string): Promise<FileStat> {
    this.checkOpen();
    validateName(name);
    return statOf(this.lookup(name));
  }

  async fstat(handle: FileHandle): Promise<FileStat> {
    this.checkOpen();
    return statOf(this.handles.get(handle).inode);
  }

  async list(opts?: ListOptions): Promise<ListPage> {
    this.checkOpen();
    const page = pageOf(this.sorted(), checkListOptions(opts));
    return {
      entries: page.names.map((n) => statOf(this.lookup(n))),
      prefixes: page.prefixes,
      nextCursor: page.nextCursor,
    };
  }

  async read(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    const { inode } = this.handles.get(handle);
    checkIo(offset, length);
    const target = Buffer.alloc(Math.max(0, Math.min(length, inode.data.sizeBytes - offset)));
    this.readFrom(inode, offset, target);
    return target;
  }

  async readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    this.checkOpen();
    const { inode } = this.handles.get(handle);
    checkBytes('target', target);
    checkIo(offset, target.length);
    return this.readFrom(inode, offset, target);
  }

  async write(handle: FileHandle, offset: number, data: Uint8Array): Promise<void> {
    this.checkOpen();
    const { inode } = this.handles.getWritable(handle);
    checkBytes('data', data);
    checkIo(offset, data.length);
    this.writeAt(inode, offset, data);
  }

  async append(handle: FileHandle, data: Uint8Array): Promise<number> {
    this.checkOpen();
    const { inode } = this.handles.getWritable(handle);
    checkBytes('data', data);
    const offset = inode.data.sizeBytes;
    checkIo(offset, data.length);
    this.writeAt(inode, offset, data);
    return offset;
  }

  async truncate(name: string, sizeBytes: number): Promise<void> {
    this.checkOpen();
    validateName(name);
    checkFileSize(sizeBytes);
    this.checkWritable();
    this.resize(this.lookup(name), sizeBytes);
  }

  async ftruncate(handle: FileHandle, sizeBytes: number): Promise<void> {
    this.checkOpen();
    const { inode } = this.handles.getWritable(handle);
    checkFileSize(sizeBytes);
    this.resize(inode, sizeBytes);
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkOpen();
    validateName(from);
    validateName(to);
    this.checkWritable();
    const inode = this.lookup(from);
    if (from === to) return;
    this.checkCreatable(to);
    const target = this.files.get(to);
    if (target !== undefined) this.unlinkInode(target);
    this.files.delete(from);
    this.countFolders(from, -1);
    this.link(to, inode);
    inode.ctimeMs = this.nowMs();
  }

  async unlink(name: string): Promise<void> {
    this.checkOpen();
    validateName(name);
    this.checkWritable();
    this.unlinkInode(this.lookup(name));
  }

  async setTimes(name: string, atimeMs: number, mtimeMs: number): Promise<void> {
    this.checkOpen();
    validateName(name);
    checkTime('atimeMs', atimeMs);
    checkTime('mtimeMs', mtimeMs);
    this.checkWritable();
    const inode = this.lookup(name);
    inode.atimeMs = atimeMs;
    inode.mtimeMs = mtimeMs;
    inode.ctimeMs = this.nowMs();
  }

  async futimes(handle: FileHandle, atimeMs: number, mtimeMs: number): Promise<void> {
    this.checkOpen();
    checkTime('atimeMs', atimeMs);
    checkTime('mtimeMs', mtimeMs);
    this.checkWritable();
    const { inode } = this.handles.getWritable(handle);
    inode.atimeMs = atimeMs;
    inode.mtimeMs = mtimeMs;
    inode.ctimeMs = this.nowMs();
  }

  async fsync(handle: FileHandle): Promise<void> {
    this.checkOpen();
    this.handles.get(handle);
  }

  async fchmod(handle: FileHandle, mode: number): Promise<void> {
    this.checkOpen();
    this.checkWritable();
    checkMode(mode);
    const { inode } = this.handles.getWritable(handle);
    inode.mode = mode;
    inode.ctimeMs = this.nowMs();
  }

  async statfs(): Promise<FsStat> {
    this.checkOpen();
    return {
      totalBytes: this.quotaBytes,
      usedBytes: this.usedBytes,
      freeBytes: Math.max(0, this.quotaBytes - this.usedBytes),
      files: this.files.size,
      maxNameBytes: LIMITS.MAX_NAME_BYTES,
      maxSegmentBytes: LIMITS.MAX_SEGMENT_BYTES,
      readOnly: this.readOnly,
    };
  }

  /** Memory actually held by file data (whole chunks), as opposed to the logical bytes of statfs. */
  allocatedBytes(): number {
    let chunks = 0;
    for (const inode of this.liveInodes()) chunks += inode.data.chunkCount;
    return chunks * LIMITS.FLATFS_MEMORY_CHUNK_BYTES;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handles.drain();
    this.files.clear();
    this.folderFiles.clear();
    this.sortedNames = null;
    this.usedBytes = 0;
  }

  private liveInodes(): Set<MemInode> {
    const inodes = new Set(this.files.values());
    for (const { inode } of this.handles.entries()) inodes.add(inode);
    return inodes;
  }

  private preload(name: string, data: Uint8Array): void {
    validateName(name);
    checkBytes('data', data);
    checkFileSize(data.length);
    this.checkCreatable(name);
    this.reserve(data.length - (this.files.get(name)?.data.sizeBytes ?? 0));
    const inode = this.files.get(name) ?? this.link(name, this.newInode(name));
    inode.data.truncate(0);
    inode.data.write(0, data);
  }

  private readFrom(inode: MemInode, offset: number, target: Uint8Array): number {
    const n = inode.data.readInto(offset, target);
    inode.atimeMs = this.nowMs();
    return n;
  }

  private writeAt(inode: MemInode, offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.reserve(Math.max(0, offset + data.length - inode.data.sizeBytes));
    inode.data.write(offset, data);
    this.touchData(inode);
  }

  private resize(inode: MemInode, sizeBytes: number): void {
    const deltaBytes = sizeBytes - inode.data.sizeBytes;
    if (deltaBytes === 0) return;
    this.reserve(deltaBytes);
    inode.data.truncate(sizeBytes);
    this.touchData(inode);
  }

  /** Accounts `deltaBytes` more (or, negative, fewer) bytes; NO_SPACE, changing nothing, past the quota. */
  private reserve(deltaBytes: number): void {
    if (deltaBytes > 0 && this.usedBytes + deltaBytes > this.quotaBytes) {
      throw new FerryError(
        'NO_SPACE',
        `${deltaBytes} more bytes would pass the quota of ${this.quotaBytes} (${this.usedBytes} used): delete files or raise quotaBytes`,
        { deltaBytes, usedBytes: this.usedBytes, quotaBytes: this.quotaBytes },
      );
    }
    this.usedBytes += deltaBytes;
  }

  private newInode(name: string): MemInode {
    const now = this.nowMs();
    return {
      data: new SparseData(),
      name,
      linked: false,
      openCount: 0,
      mtimeMs: now,
      atimeMs: now,
      ctimeMs: now,
      mode: isHiddenName(name) ? HIDDEN_FILE_MODE : NEW_FILE_MODE,
    };
  }

  private link(name: string, inode: MemInode): MemInode {
    inode.name = name;
    inode.linked = true;
    if (!this.files.has(name)) this.countFolders(name, 1);
    this.files.set(name, inode);
    this.sortedNames = null;
    return inode;
  }

  private unlinkInode(inode: MemInode): void {
    this.files.delete(inode.name);
    this.countFolders(inode.name, -1);
    this.sortedNames = null;
    inode.linked = false;
    inode.ctimeMs = this.nowMs();
    this.forgetIfGone(inode);
  }

  /** An inode with neither a name nor a handle is gone: its bytes leave the quota. */
  private forgetIfGone(inode: MemInode): void {
    if (inode.linked || inode.openCount > 0) return;
    this.usedBytes -= inode.data.sizeBytes;
    inode.data.truncate(0);
  }

  private touchData(inode: MemInode): void {
    const now = this.nowMs();
    inode.mtimeMs = now;
    inode.ctimeMs = now;
  }

  /** NOT_A_FOLDER when a file holds one of `name`'s folders, IS_A_FOLDER when `name` is a folder. */
  private checkCreatable(name: string): void {
    for (const folder of parentsOf(name)) if (this.files.has(folder)) throw notAFolder(name, folder);
    if (this.folderFiles.has(name)) throw isAFolder(name);
  }

  /** One file more (+1) or fewer (-1) in each folder of `name`; a folder at 0 files is gone. */
  private countFolders(name: string, delta: 1 | -1): void {
    for (const folder of parentsOf(name)) {
      const count = (this.folderFiles.get(folder) ?? 0) + delta;
      if (count === 0) this.folderFiles.delete(folder);
      else this.folderFiles.set(folder, count);
    }
  }

  private lookup(name: string): MemInode {
    const inode = this.files.get(name);
    if (inode !== undefined) return inode;
    throw new FerryError('NOT_FOUND', `no file named '${name}': check the name with list`, { name });
  }

  private sorted(): string[] {
    this.sortedNames ??= [...this.files.keys()].sort(compareNames);
    return this.sortedNames;
  }

  private checkOpen(): void {
    if (this.closed) throw new FerryError('CLOSED', 'the memory filesystem was closed: create a new one');
  }

  private checkWritable(): void {
    if (this.readOnly) throw new FerryError('READ_ONLY', 'the filesystem is read-only: nothing was changed');
  }
}

function statOf(inode: MemInode): FileStat {
  return {
    name: inode.name,
    sizeBytes: inode.data.sizeBytes,
    mtimeMs: inode.mtimeMs,
    atimeMs: inode.atimeMs,
    ctimeMs: inode.ctimeMs,
    mode: inode.mode,
  };
}
