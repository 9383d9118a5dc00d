/**
 * S3FlatFs: the flat filesystem on an S3 bucket (Ceph's RADOS Gateway, or any S3 store), one object
 * per file, named by the file's name.
 *
 * Why this shape: the flat namespace already is an object namespace, so a file is an object that
 * any S3 tool can read, and several ferry servers in front of one bucket see the same files.
 * S3 cannot change part of an object, so an open file is cut into slots (S3_LIMITS: at least 5 MiB); a
 * slot that is written is first copied into a local spool (copy on write, by a ranged GET), and the
 * object is rebuilt as a multipart upload when the file is settled: changed slots are uploaded as
 * parts, unchanged ones copied server-side from the old object (UploadPartCopy), holes uploaded as
 * zeros. A file of one slot is one PutObject.
 *
 * When what is visible where (the consistency the README promises):
 * - create, rename and unlink act on the bucket at once (rename is a copy then a delete, so another
 *   server may see both names for a moment; S3 has no atomic rename).
 * - Written bytes are seen by this server's handles at once; other servers see them when the last
 *   handle closes (the upload is completed), or at fsync for a file of one slot.
 * - fsync of a larger file uploads its changed slots as parts of a pending multipart upload: durable
 *   in the cluster, completed into the object at close. A server that dies before leaves that upload
 *   pending; `ferry serve --s3 --gc` aborts pending uploads older than the part TTL.
 * - list gets each closed file's times and mode with a HEAD (S3 lists no metadata), as stat does.
 * - The quota is this server's: the bucket's bytes counted at start, plus this server's changes.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FerryError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { checkBytes, checkFileSize, checkIo, checkMode, checkQuota, checkTime } from '../args.js';
import { isAFolder, notAFolder } from '../folders.js';
import { HandleTable, type HandleEntry } from '../handles.js';
import { SEPARATOR, compareNames, isHiddenName, isValidName, parentsOf, validateName } from '../names.js';
import { PageBuilder, afterCursor, checkListOptions, entryOf, isFolderEntry } from '../paginate.js';
import type {
  CreateOptions,
  FileHandle,
  FileStat,
  FlatFs,
  FsStat,
  ListOptions,
  ListPage,
  OpenOptions,
} from '../types.js';
import { HIDDEN_FILE_MODE, NEW_FILE_MODE } from '../types.js';
import { S3_LIMITS } from './limits.js';
import { Spool } from './spool.js';
import {
  S3Store,
  type ListedObject,
  type ObjectHead,
  type S3StoreOptions,
  type UploadedPart,
} from './store.js';

export interface S3FlatFsOptions extends S3StoreOptions {
  /** Bound on the total bytes of all files (default S3_LIMITS.DEFAULT_QUOTA_BYTES: S3 does not tell a bucket's size). */
  quotaBytes?: number;
  readOnly?: boolean;
  /** Create the bucket when missing (default false: a missing bucket is NOT_FOUND). */
  createBucket?: boolean;
  /** Folder for the spool files of open files (default the system temp folder). */
  spoolDir?: string;
  /** Handle limit, 1..LIMITS.MAX_OPEN_FILES (default the limit). */
  maxOpenFiles?: number;
}

/** Serialises async sections (one at a time, in call order). */
class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** An uploaded part of a slot: its ETag and the slot length it was uploaded at. */
interface SlotPart {
  etag: string;
  lengthBytes: number;
}

/** One file while this server has it open (or settles it): it lives while it has a handle. */
interface S3Inode {
  readonly id: number;
  name: string;
  linked: boolean;
  openCount: number;
  sizeBytes: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
  mode: number;
  /** The object holding the bytes of slots not in the spool, or null (they are zeros). */
  baseKey: string | null;
  /** Bytes of the base object that still belong to the file (past it: zeros). */
  baseLimit: number;
  readonly partBytes: number;
  /** Slots copied into the spool (the promise settles once the copy is there). */
  readonly loaded: Map<number, Promise<void>>;
  /** Slots that differ from the base object. */
  readonly stale: Set<number>;
  /** Slots that differ from their uploaded part (or have none). */
  readonly dirty: Set<number>;
  /** Parts of the pending upload, by slot. */
  readonly parts: Map<number, SlotPart>;
  uploadId: string | null;
  /** Set while the pending upload is being started (one start, however many callers). */
  uploadStarting: Promise<void> | null;
  /** Bytes written into each slot since its last upload: a full slot is uploaded at once, behind. */
  readonly filled: Map<number, number>;
  /** The end of the furthest write into each slot (what an fsync of a half-written slot sends). */
  readonly writtenEnd: Map<number, number>;
  /** Uploads behind the writes, in flight; and full slots waiting for one of them to end. */
  readonly behind: Set<Promise<void>>;
  readonly behindQueue: number[];
  /** The first failure of an upload behind, thrown by the next fsync or close. */
  behindFailure: unknown;
  /** The upload of each slot in flight: uploads of one slot run one after another. */
  readonly slotUploads: Map<number, Promise<void>>;
  /** The metadata the pending upload was started with (JSON), to know whether it is stale. */
  uploadMeta: string;
  /** Counts changes; the file is settled when it equals savedGen. */
  gen: number;
  savedGen: number;
  spool: Promise<Spool> | null;
  readonly flushLock: Mutex;
}

interface S3Handle extends HandleEntry {
  readonly inode: S3Inode;
}

const META_MTIME = 'ferry-mtime';
const META_ATIME = 'ferry-atime';
const META_CTIME = 'ferry-ctime';
const META_MODE = 'ferry-mode';

/** Runs `tasks` with at most `limit` in flight; rejects with the first failure once all settled. */
async function runLimited(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failure !== null) throw failure;
}

/**
 * A flat filesystem on an S3 bucket.
 *
 * @example
 * const fs = await S3FlatFs.open({
 *   endpoint: 'http://127.0.0.1:7480',
 *   bucket: 'ferry',
 *   credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! },
 *   createBucket: true,
 * });
 * const h = await fs.create('notes.txt');
 * await fs.write(h, 0, Buffer.from('hello'));
 * await fs.closeFile(h); // the object notes.txt now holds 'hello'
 * await fs.close();
 */
export class S3FlatFs implements FlatFs {
  readonly readOnly: boolean;
  readonly quotaBytes: number;
  /** True when open() created the bucket. */
  bucketCreated = false;
  private readonly handles: HandleTable<S3Handle>;
  /** Open files by name (linked ones only). */
  private readonly openByName = new Map<string, S3Inode>();
  /** Namespace changes and opens, one at a time: they check, then act, on the bucket. */
  private readonly namespace = new Mutex();
  private usedBytes = 0;
  private fileCount = 0;
  private nextInodeId = 1;
  private closed = false;
  private zeros: Buffer | null = null;

  private constructor(
    readonly store: S3Store,
    private readonly spoolDir: string,
    opts: S3FlatFsOptions,
  ) {
    this.readOnly = opts.readOnly === true;
    this.quotaBytes = opts.quotaBytes ?? S3_LIMITS.DEFAULT_QUOTA_BYTES;
    this.handles = new HandleTable<S3Handle>(opts.maxOpenFiles);
  }

  /** Connects to the bucket (creating it if asked), counts its bytes and files, makes the spool folder. */
  static async open(opts: S3FlatFsOptions): Promise<S3FlatFs> {
    if (opts.quotaBytes !== undefined) checkQuota(opts.quotaBytes);
    const store = await S3Store.connect(opts);
    let spoolDir: string | null = null;
    try {
      const created =
        opts.createBucket === true ? await store.ensureBucket() : (await store.checkBucket(), false);
      const spoolParent = opts.spoolDir ?? os.tmpdir();
      await removeDeadSpools(spoolParent);
      spoolDir = await fsp.mkdtemp(path.join(spoolParent, `${SPOOL_DIR_PREFIX}${process.pid}-`));
      const fs = new S3FlatFs(store, spoolDir, opts);
      fs.bucketCreated = created;
      await fs.countBucket();
      return fs;
    } catch (err) {
      store.destroy();
      if (spoolDir !== null) await fsp.rm(spoolDir, { recursive: true, force: true });
      throw err;
    }
  }

  async create(name: string, opts?: CreateOptions): Promise<FileHandle> {
    this.checkOpen();
    validateName(name);
    const sizeBytes = opts?.sizeBytes ?? 0;
    checkFileSize(sizeBytes);
    this.checkWritable();
    this.handles.ensureRoom();
    return this.namespace.run(async () => {
      this.handles.ensureRoom();
      await this.checkCreatable(name);
      const open = this.openByName.get(name);
      const head = open === undefined ? await this.store.head(name) : null;
      const exists = open !== undefined || head !== null;
      if (exists && opts?.exclusive === true) {
        throw new FerryError('EXISTS', `a file named '${name}' exists: pick another name or remove it`, {
          name,
        });
      }
      if (open !== undefined) {
        this.reserve(sizeBytes - open.sizeBytes);
        await this.resizeReserved(open, 0);
        await this.resizeReserved(open, sizeBytes);
        open.openCount++;
        return this.handles.add({ inode: open, writable: true });
      }
      this.reserve(sizeBytes - (head?.sizeBytes ?? 0));
      const inode = this.newInode(name, null, 0, sizeBytes);
      try {
        // The empty object makes the name exist in the bucket at once (folders, listings, others).
        await this.store.put(name, Buffer.alloc(0), metaOf(inode));
      } catch (err) {
        this.usedBytes -= sizeBytes - (head?.sizeBytes ?? 0);
        throw err;
      }
      if (head === null) this.fileCount++;
      inode.gen++;
      inode.openCount++;
      this.openByName.set(name, inode);
      return this.handles.add({ inode, writable: true });
    });
  }

  async open(name: string, opts?: OpenOptions): Promise<FileHandle> {
    this.checkOpen();
    validateName(name);
    const writable = opts?.write === true;
    if (writable) this.checkWritable();
    this.handles.ensureRoom();
    return this.namespace.run(async () => {
      this.handles.ensureRoom();
      const inode = await this.inodeOf(name);
      inode.openCount++;
      return this.handles.add({ inode, writable });
    });
  }

  async closeFile(handle: FileHandle): Promise<void> {
    this.checkOpen();
    const { inode } = this.handles.remove(handle);
    inode.openCount--;
    if (inode.openCount > 0) return;
    try {
      await this.settle(inode);
    } finally {
      if (inode.openCount === 0) await this.release(inode);
    }
  }

  async stat(name: string): Promise<FileStat> {
    this.checkOpen();
    validateName(name);
    const open = this.openByName.get(name);
    if (open !== undefined) return statOf(open);
    const head = await this.store.head(name);
    if (head === null) throw notFound(name);
    return statOfHead(name, head);
  }

  async fstat(handle: FileHandle): Promise<FileStat> {
    this.checkOpen();
    return statOf(this.handles.get(handle).inode);
  }

  async list(opts?: ListOptions): Promise<ListPage> {
    this.checkOpen();
    const req = checkListOptions(opts);
    const page = new PageBuilder(req);
    const objects = new Map<string, ListedObject>();
    let continuation: string | undefined;
    do {
      const got = await this.store.list({
        prefix: req.prefix,
        delimiter: req.delimited ? SEPARATOR : undefined,
        startAfter: req.cursor ?? undefined,
        continuation,
        maxKeys: Math.min(S3_LIMITS.LIST_KEYS, req.limit + 1),
      });
      const items: string[] = [];
      for (const o of got.objects) {
        if (!isValidName(o.key)) continue; // objects written by other tools under names ferry cannot serve
        objects.set(o.key, o);
        items.push(o.key);
      }
      items.push(...got.prefixes);
      items.sort(compareNames);
      let full = false;
      for (const item of items) {
        const entry = isFolderEntry(item) ? item : entryOf(item, req);
        if (!req.includeHidden && isHiddenName(entry)) continue;
        if (!afterCursor(entry, req)) continue;
        if (!page.offer(entry)) {
          full = true;
          break;
        }
      }
      if (full) break;
      continuation = got.continuation ?? undefined;
    } while (continuation !== undefined);
    const built = page.page();
    // S3 lists no metadata: the times and mode ferry set (what sync compares) come from a HEAD each.
    const entries: FileStat[] = built.names.map((n) => {
      const open = this.openByName.get(n);
      return open !== undefined ? statOf(open) : statOfListed(objects.get(n)!);
    });
    await runLimited(
      entries.map((e, i) => async () => {
        if (this.openByName.has(e.name)) return;
        const head = await this.store.head(e.name);
        if (head !== null) entries[i] = statOfHead(e.name, head);
      }),
      S3_LIMITS.LIST_HEAD_CONCURRENCY,
    );
    return { entries, prefixes: built.prefixes, nextCursor: built.nextCursor };
  }

  async read(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    const { inode } = this.handles.get(handle);
    checkIo(offset, length);
    const target = Buffer.alloc(Math.max(0, Math.min(length, inode.sizeBytes - offset)));
    await this.readRange(inode, offset, target);
    inode.atimeMs = Date.now();
    return target;
  }

  async readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    this.checkOpen();
    const { inode } = this.handles.get(handle);
    checkBytes('target', target);
    checkIo(offset, target.length);
    const n = Math.max(0, Math.min(target.length, inode.sizeBytes - offset));
    await this.readRange(inode, offset, target.subarray(0, n));
    inode.atimeMs = Date.now();
    return n;
  }

  async write(handle: FileHandle, offset: number, data: Uint8Array): Promise<void> {
    this.checkOpen();
    const { inode } = this.handles.getWritable(handle);
    checkBytes('data', data);
    checkIo(offset, data.length);
    await this.writeAt(inode, offset, data);
  }

  async append(handle: FileHandle, data: Uint8Array): Promise<number> {
    this.checkOpen();
    const { inode } = this.handles.getWritable(handle);
    checkBytes('data', data);
    const offset = inode.sizeBytes;
    checkIo(offset, data.length);
    await this.writeAt(inode, offset, data);
    return offset;
  }

  async truncate(name: string, sizeBytes: number): Promise<void> {
    this.checkOpen();
    validateName(name);
    checkFileSize(sizeBytes);
    this.checkWritable();
    const inode = await this.namespace.run(async () => {
      const found = await this.inodeOf(name);
      found.openCount++;
      return found;
    });
    try {
      this.checkPartCount(inode, sizeBytes);
      this.reserve(sizeBytes - inode.sizeBytes);
      await this.resizeReserved(inode, sizeBytes);
    } finally {
      inode.openCount--;
      if (inode.openCount === 0) {
        try {
          await this.settle(inode);
        } finally {
          if (inode.openCount === 0) await this.release(inode);
        }
      }
    }
  }

  async ftruncate(handle: FileHandle, sizeBytes: number): Promise<void> {
    this.checkOpen();
    const { inode } = this.handles.getWritable(handle);
    checkFileSize(sizeBytes);
    this.checkPartCount(inode, sizeBytes);
    this.reserve(sizeBytes - inode.sizeBytes);
    await this.resizeReserved(inode, sizeBytes);
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkOpen();
    validateName(from);
    validateName(to);
    this.checkWritable();
    await this.namespace.run(async () => {
      const open = this.openByName.get(from);
      const head = open === undefined ? await this.store.head(from) : null;
      if (open === undefined && head === null) throw notFound(from);
      if (from === to) return;
      await this.checkCreatable(to);
      if (open !== undefined) await this.settle(open);
      const sizeBytes = open?.sizeBytes ?? head!.sizeBytes;
      const target = this.openByName.get(to);
      const targetHead = target === undefined ? await this.store.head(to) : null;
      if (target !== undefined) await this.detach(target);
      const nowMs = Date.now();
      const meta =
        open !== undefined
          ? metaOf({ ...open, ctimeMs: nowMs })
          : { ...head!.meta, [META_CTIME]: String(nowMs) };
      if (open === undefined && head!.meta[META_MTIME] === undefined)
        meta[META_MTIME] = String(head!.lastModifiedMs);
      await this.store.copy(from, to, sizeBytes, meta);
      await this.store.delete(from);
      if (targetHead !== null) this.usedBytes -= targetHead.sizeBytes;
      if (target !== undefined || targetHead !== null) this.fileCount--;
      if (open !== undefined) {
        this.openByName.delete(from);
        open.name = to;
        open.ctimeMs = nowMs;
        if (open.baseKey === from) open.baseKey = to;
        this.openByName.set(to, open);
      }
    });
  }

  async unlink(name: string): Promise<void> {
    this.checkOpen();
    validateName(name);
    this.checkWritable();
    await this.namespace.run(async () => {
      const open = this.openByName.get(name);
      if (open !== undefined) {
        await this.detach(open);
      } else {
        const head = await this.store.head(name);
        if (head === null) throw notFound(name);
        this.usedBytes -= head.sizeBytes;
      }
      await this.store.delete(name);
      this.fileCount--;
    });
  }

  async setTimes(name: string, atimeMs: number, mtimeMs: number): Promise<void> {
    this.checkOpen();
    validateName(name);
    checkTime('atimeMs', atimeMs);
    checkTime('mtimeMs', mtimeMs);
    this.checkWritable();
    await this.namespace.run(async () => {
      const open = this.openByName.get(name);
      if (open !== undefined) {
        open.atimeMs = atimeMs;
        open.mtimeMs = mtimeMs;
        open.ctimeMs = Date.now();
        open.gen++;
        return;
      }
      const head = await this.store.head(name);
      if (head === null) throw notFound(name);
      const meta = {
        ...head.meta,
        [META_ATIME]: String(atimeMs),
        [META_MTIME]: String(mtimeMs),
        [META_CTIME]: String(Date.now()),
      };
      await this.store.copy(name, name, head.sizeBytes, meta);
    });
  }

  async fsync(handle: FileHandle): Promise<void> {
    this.checkOpen();
    const { inode } = this.handles.get(handle);
    await inode.flushLock.run(() => this.uploadChanges(inode));
  }

  async fchmod(handle: FileHandle, mode: number): Promise<void> {
    this.checkOpen();
    this.checkWritable();
    checkMode(mode);
    const { inode } = this.handles.getWritable(handle);
    inode.mode = mode;
    inode.ctimeMs = Date.now();
    inode.gen++;
  }

  async statfs(): Promise<FsStat> {
    this.checkOpen();
    return {
      totalBytes: this.quotaBytes,
      usedBytes: this.usedBytes,
      freeBytes: Math.max(0, this.quotaBytes - this.usedBytes),
      files: this.fileCount,
      maxNameBytes: LIMITS.MAX_NAME_BYTES,
      maxSegmentBytes: LIMITS.MAX_SEGMENT_BYTES,
      readOnly: this.readOnly,
    };
  }

  /**
   * Aborts the bucket's unfinished multipart uploads started more than `olderThanMs` ago, except
   * this server's own: what a server that died mid-upload left (their parts cost space but no
   * name). Resolves to how many were aborted.
   */
  async abortStaleUploads(olderThanMs: number, nowMs: number = Date.now()): Promise<number> {
    this.checkOpen();
    this.checkWritable();
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
      throw new FerryError('INVALID_ARGUMENT', `olderThanMs must be a duration in ms, got ${olderThanMs}`);
    }
    const own = new Set(this.handles.entries().map((h) => h.inode.uploadId));
    let aborted = 0;
    for await (const u of this.store.pendingUploads()) {
      if (own.has(u.uploadId) || nowMs - u.initiatedMs <= olderThanMs) continue;
      await this.store.abortUpload(u.key, u.uploadId);
      aborted++;
    }
    return aborted;
  }

  /** Settles every open file into its object, drops the spool and the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const inodes = new Set(this.handles.drain().map((h) => h.inode));
    let failure: unknown = null;
    for (const inode of inodes) {
      try {
        await this.settle(inode);
      } catch (err) {
        failure ??= err;
      }
      inode.openCount = 0;
      await this.release(inode).catch(() => undefined);
    }
    this.openByName.clear();
    await fsp.rm(this.spoolDir, { recursive: true, force: true });
    this.store.destroy();
    if (failure !== null) throw failure;
  }

  // --- files ---

  private newInode(name: string, baseKey: string | null, baseBytes: number, sizeBytes: number): S3Inode {
    const nowMs = Date.now();
    const planBytes = Math.max(sizeBytes, 1) * S3_LIMITS.PART_GROWTH_FACTOR;
    const partBytes = Math.max(
      S3_LIMITS.MIN_PART_BYTES,
      Math.ceil(planBytes / S3_LIMITS.MAX_PARTS / S3_LIMITS.MIN_PART_BYTES) * S3_LIMITS.MIN_PART_BYTES,
    );
    return {
      id: this.nextInodeId++,
      name,
      linked: true,
      openCount: 0,
      sizeBytes,
      mtimeMs: nowMs,
      atimeMs: nowMs,
      ctimeMs: nowMs,
      mode: isHiddenName(name) ? HIDDEN_FILE_MODE : NEW_FILE_MODE,
      baseKey,
      baseLimit: baseBytes,
      partBytes,
      loaded: new Map(),
      stale: new Set(),
      dirty: new Set(),
      parts: new Map(),
      uploadId: null,
      uploadStarting: null,
      filled: new Map(),
      writtenEnd: new Map(),
      behind: new Set(),
      behindQueue: [],
      behindFailure: null,
      slotUploads: new Map(),
      uploadMeta: '',
      gen: 0,
      savedGen: 0,
      spool: null,
      flushLock: new Mutex(),
    };
  }

  /** The open inode of `name`, or a new one over its object (NOT_FOUND when none). Under `namespace`. */
  private async inodeOf(name: string): Promise<S3Inode> {
    const open = this.openByName.get(name);
    if (open !== undefined) return open;
    const head = await this.store.head(name);
    if (head === null) throw notFound(name);
    const inode = this.newInode(name, name, head.sizeBytes, head.sizeBytes);
    const st = statOfHead(name, head);
    inode.mtimeMs = st.mtimeMs;
    inode.atimeMs = st.atimeMs;
    inode.ctimeMs = st.ctimeMs;
    inode.mode = st.mode ?? inode.mode;
    this.openByName.set(name, inode);
    return inode;
  }

  /** Once the last handle is gone: the spool and any pending upload go; an unlinked file's bytes too. */
  private async release(inode: S3Inode): Promise<void> {
    if (inode.linked && this.openByName.get(inode.name) === inode) this.openByName.delete(inode.name);
    if (!inode.linked) this.usedBytes -= inode.sizeBytes;
    await this.drainBehind(inode).catch(() => undefined);
    if (inode.uploadId !== null) {
      const { uploadId } = inode;
      inode.uploadId = null;
      await this.store.abortUpload(inode.name, uploadId).catch(() => undefined);
    }
    const spool = inode.spool;
    inode.spool = null;
    if (spool !== null) await (await spool.catch(() => null))?.remove();
  }

  /**
   * An open file loses its name (unlink, or renamed over): it keeps its bytes in the spool, as its
   * object is about to go. Under `namespace`.
   */
  private async detach(inode: S3Inode): Promise<void> {
    await inode.flushLock.run(async () => {
      const slots = Math.ceil(Math.min(inode.baseLimit, inode.sizeBytes) / inode.partBytes);
      await runLimited(
        Array.from({ length: slots }, (_, s) => () => this.ensureLoaded(inode, s)),
        S3_LIMITS.PART_CONCURRENCY,
      );
      await this.drainBehind(inode).catch(() => undefined);
      if (inode.uploadId !== null) await this.store.abortUpload(inode.name, inode.uploadId);
      inode.uploadId = null;
      inode.parts.clear();
      inode.baseKey = null;
      inode.baseLimit = 0;
    });
    this.openByName.delete(inode.name);
    inode.linked = false;
    inode.ctimeMs = Date.now();
  }

  private spoolOf(inode: S3Inode): Promise<Spool> {
    inode.spool ??= Spool.create(this.spoolDir, inode.id);
    return inode.spool;
  }

  /** Copies slot `slot` from the base object into the spool, once. */
  private ensureLoaded(inode: S3Inode, slot: number): Promise<void> {
    let loading = inode.loaded.get(slot);
    if (loading === undefined) {
      loading = this.fill(inode, slot);
      inode.loaded.set(slot, loading);
      loading.catch(() => {
        if (inode.loaded.get(slot) === loading) inode.loaded.delete(slot);
      });
    }
    return loading;
  }

  private async fill(inode: S3Inode, slot: number): Promise<void> {
    const spool = await this.spoolOf(inode);
    const start = slot * inode.partBytes;
    const end = Math.min(start + inode.partBytes, inode.baseLimit);
    if (inode.baseKey === null || end <= start) return;
    const buf = Buffer.allocUnsafe(end - start);
    await this.readBase(inode.baseKey, start, buf);
    await spool.write(start, buf);
  }

  /** Ranged GETs of the base object into `target` (READ_PIECE_BYTES each, READ_CONCURRENCY in flight). */
  private async readBase(key: string, start: number, target: Uint8Array): Promise<void> {
    const tasks: Array<() => Promise<void>> = [];
    for (let at = 0; at < target.length; at += S3_LIMITS.READ_PIECE_BYTES) {
      const n = Math.min(S3_LIMITS.READ_PIECE_BYTES, target.length - at);
      tasks.push(() => this.store.getRange(key, start + at, start + at + n, target, at));
    }
    await runLimited(tasks, S3_LIMITS.READ_CONCURRENCY);
  }

  /** Fills `target` with the file's bytes at `offset` (the caller keeps it within the size). */
  private async readRange(inode: S3Inode, offset: number, target: Uint8Array): Promise<void> {
    const tasks: Array<() => Promise<void>> = [];
    const end = offset + target.length;
    for (let pos = offset; pos < end;) {
      const slot = Math.floor(pos / inode.partBytes);
      const segEnd = Math.min(end, (slot + 1) * inode.partBytes);
      const at = pos - offset;
      const length = segEnd - pos;
      const start = pos;
      tasks.push(async () => {
        const loading = inode.loaded.get(slot);
        if (loading !== undefined) {
          await loading;
          await (await this.spoolOf(inode)).read(start, target, at, length);
          return;
        }
        const baseEnd =
          inode.baseKey === null ? start : Math.min(start + length, Math.max(start, inode.baseLimit));
        if (baseEnd > start)
          await this.readBase(inode.baseKey!, start, target.subarray(at, at + baseEnd - start));
        target.fill(0, at + baseEnd - start, at + length);
      });
      pos = segEnd;
    }
    await runLimited(tasks, S3_LIMITS.READ_CONCURRENCY);
  }

  private async writeAt(inode: S3Inode, offset: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const end = offset + data.length;
    this.checkPartCount(inode, end);
    this.reserve(Math.max(0, end - inode.sizeBytes));
    if (end > inode.sizeBytes) inode.sizeBytes = end;
    this.touchData(inode);
    const tasks: Array<Promise<void>> = [];
    for (let pos = offset; pos < end;) {
      const slot = Math.floor(pos / inode.partBytes);
      const segEnd = Math.min(end, (slot + 1) * inode.partBytes);
      const piece = data.subarray(pos - offset, segEnd - offset);
      const at = pos;
      inode.stale.add(slot);
      inode.dirty.add(slot);
      tasks.push(
        (async () => {
          await this.ensureLoaded(inode, slot);
          await (await this.spoolOf(inode)).write(at, piece);
          // Marked again once the bytes are in the spool: an upload that ran meanwhile missed them.
          inode.stale.add(slot);
          inode.dirty.add(slot);
          inode.gen++;
          inode.filled.set(slot, (inode.filled.get(slot) ?? 0) + piece.length);
          inode.writtenEnd.set(slot, Math.max(inode.writtenEnd.get(slot) ?? 0, at + piece.length));
          this.uploadBehindIfFull(inode, slot);
        })(),
      );
      pos = segEnd;
    }
    await Promise.all(tasks);
  }

  /** Sets the size; the caller reserved the quota for it. */
  private async resizeReserved(inode: S3Inode, sizeBytes: number): Promise<void> {
    const old = inode.sizeBytes;
    if (sizeBytes === old) return;
    inode.sizeBytes = sizeBytes;
    this.touchData(inode);
    if (sizeBytes > old) return;
    const P = inode.partBytes;
    inode.baseLimit = Math.min(inode.baseLimit, sizeBytes);
    const keptSlots = Math.ceil(sizeBytes / P);
    for (const map of [inode.loaded, inode.parts, inode.filled, inode.writtenEnd])
      for (const s of [...map.keys()]) if (s >= keptSlots) map.delete(s);
    for (const set of [inode.stale, inode.dirty]) for (const s of [...set]) if (s >= keptSlots) set.delete(s);
    const cut = Math.floor(sizeBytes / P);
    const loading = sizeBytes % P === 0 ? undefined : inode.loaded.get(cut);
    if (sizeBytes % P !== 0) {
      inode.parts.delete(cut);
      inode.dirty.add(cut);
      inode.stale.add(cut);
    }
    if (inode.spool === null) return;
    const spool = await this.spoolOf(inode);
    if (loading !== undefined) {
      await loading;
      await spool.write(sizeBytes, this.zeroBytes(P).subarray(0, (cut + 1) * P - sizeBytes));
    }
    await spool.truncate(keptSlots * P);
  }

  // --- settling into the bucket ---

  /** fsync: a one-slot file is put whole; a larger one uploads its changed slots as parts. */
  private async uploadChanges(inode: S3Inode): Promise<void> {
    await this.drainBehind(inode);
    if (!inode.linked || inode.gen === inode.savedGen) return;
    if (inode.sizeBytes <= inode.partBytes) {
      await this.completeLocked(inode);
      return;
    }
    await this.ensureUpload(inode);
    const slots = [...inode.dirty].filter((s) => s * inode.partBytes < inode.sizeBytes);
    await runLimited(
      slots.map((s) => () => this.uploadSlot(inode, s, true)),
      S3_LIMITS.PART_CONCURRENCY,
    );
  }

  /** Makes the object hold the file (called when the last handle closes, before a rename, at close). */
  private async settle(inode: S3Inode): Promise<void> {
    await inode.flushLock.run(() => this.completeLocked(inode));
  }

  private async completeLocked(inode: S3Inode): Promise<void> {
    await this.drainBehind(inode);
    if (!inode.linked || inode.gen === inode.savedGen) return;
    const gen = inode.gen;
    const key = inode.name;
    const sizeBytes = inode.sizeBytes;
    const meta = metaOf(inode);
    const P = inode.partBytes;
    if (
      inode.stale.size === 0 &&
      inode.baseKey === key &&
      inode.baseLimit === sizeBytes &&
      inode.uploadId === null
    ) {
      await this.store.copy(key, key, sizeBytes, meta); // only the times or mode changed
    } else if (sizeBytes <= P) {
      const whole = Buffer.alloc(sizeBytes);
      await this.readRange(inode, 0, whole);
      await this.store.put(key, whole, meta);
      if (inode.uploadId !== null) await this.store.abortUpload(key, inode.uploadId);
    } else {
      await this.ensureUpload(inode);
      const slots = Math.ceil(sizeBytes / P);
      await runLimited(
        Array.from({ length: slots }, (_, s) => () => this.settleSlot(inode, s, sizeBytes)),
        S3_LIMITS.PART_CONCURRENCY,
      );
      const parts: UploadedPart[] = [];
      for (let s = 0; s < slots; s++) parts.push({ partNumber: s + 1, etag: inode.parts.get(s)!.etag });
      await this.store.completeUpload(key, inode.uploadId!, parts);
      if (inode.uploadMeta !== JSON.stringify(meta)) await this.store.copy(key, key, sizeBytes, meta);
    }
    inode.uploadId = null;
    inode.parts.clear();
    inode.baseKey = key;
    inode.baseLimit = sizeBytes;
    if (inode.gen === gen) {
      inode.stale.clear();
      inode.dirty.clear();
      inode.savedGen = gen;
    }
  }

  private ensureUpload(inode: S3Inode): Promise<void> {
    if (inode.uploadId !== null) return Promise.resolve();
    inode.uploadStarting ??= (async () => {
      const meta = metaOf(inode);
      const uploadId = await this.store.createUpload(inode.name, meta);
      inode.uploadId = uploadId;
      inode.uploadMeta = JSON.stringify(meta);
      inode.parts.clear();
    })().finally(() => {
      inode.uploadStarting = null;
    });
    return inode.uploadStarting;
  }

  /**
   * A slot written full is uploaded at once, behind the writes (at most PART_CONCURRENCY per file,
   * the rest queued), so that fsync and close find little left to send.
   */
  private uploadBehindIfFull(inode: S3Inode, slot: number): void {
    const lengthBytes = Math.min(inode.partBytes, inode.sizeBytes - slot * inode.partBytes);
    if (!inode.linked || inode.sizeBytes <= inode.partBytes || (inode.filled.get(slot) ?? 0) < lengthBytes)
      return;
    inode.filled.set(slot, 0);
    inode.behindQueue.push(slot);
    this.pumpBehind(inode);
  }

  private pumpBehind(inode: S3Inode): void {
    while (inode.behind.size < S3_LIMITS.PART_CONCURRENCY && inode.behindQueue.length > 0) {
      const slot = inode.behindQueue.shift()!;
      const upload: Promise<void> = (async () => {
        await this.ensureUpload(inode);
        if (inode.linked && inode.dirty.has(slot)) await this.uploadSlot(inode, slot);
      })()
        .catch((err: unknown) => {
          inode.behindFailure ??= err;
        })
        .finally(() => {
          inode.behind.delete(upload);
          this.pumpBehind(inode);
        });
      inode.behind.add(upload);
    }
  }

  /** Waits for the uploads behind (queued ones too); throws the first failure they had. */
  private async drainBehind(inode: S3Inode): Promise<void> {
    while (inode.behind.size > 0) await Promise.all([...inode.behind]);
    const failure = inode.behindFailure;
    inode.behindFailure = null;
    if (failure !== null) throw failure;
  }

  /** Uploads slot `slot` from the spool as its part, after any upload of it already in flight. */
  private async uploadSlot(inode: S3Inode, slot: number, upToWritten = false): Promise<void> {
    const before = inode.slotUploads.get(slot);
    const mine = (before ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.uploadSlotNow(inode, slot, upToWritten));
    inode.slotUploads.set(slot, mine);
    try {
      await mine;
    } finally {
      if (inode.slotUploads.get(slot) === mine) inode.slotUploads.delete(slot);
    }
  }

  /**
   * `upToWritten` (fsync of a half-written slot): only up to the end of what was written into the
   * slot; the rest is the base object's or zeros, and the full part is sent once the slot is full
   * or the file closes.
   */
  private async uploadSlotNow(inode: S3Inode, slot: number, upToWritten: boolean): Promise<void> {
    const start = slot * inode.partBytes;
    const slotBytes = Math.min(inode.partBytes, inode.sizeBytes - start);
    const writtenEnd = inode.writtenEnd.get(slot);
    const lengthBytes =
      upToWritten && writtenEnd !== undefined ? Math.min(slotBytes, writtenEnd - start) : slotBytes;
    if (lengthBytes <= 0) return;
    inode.dirty.delete(slot);
    await this.ensureLoaded(inode, slot);
    const body = Buffer.allocUnsafe(lengthBytes);
    await (await this.spoolOf(inode)).read(start, body, 0, lengthBytes);
    const etag = await this.store.uploadPart(inode.name, inode.uploadId!, slot + 1, body);
    inode.parts.set(slot, { etag, lengthBytes });
  }

  /** Gives slot `slot` its part for completion: kept, copied from the base, zeros, or from the spool. */
  private async settleSlot(inode: S3Inode, slot: number, sizeBytes: number): Promise<void> {
    const P = inode.partBytes;
    const start = slot * P;
    const lengthBytes = Math.min(P, sizeBytes - start);
    const part = inode.parts.get(slot);
    if (part !== undefined && part.lengthBytes === lengthBytes && !inode.dirty.has(slot)) return;
    if (!inode.stale.has(slot)) {
      const key = inode.name;
      const uploadId = inode.uploadId!;
      if (inode.baseKey !== null && start + lengthBytes <= inode.baseLimit) {
        const etag = await this.store.copyPart(
          key,
          uploadId,
          slot + 1,
          inode.baseKey,
          start,
          start + lengthBytes,
        );
        inode.parts.set(slot, { etag, lengthBytes });
        return;
      }
      if (inode.baseKey === null || start >= inode.baseLimit) {
        const etag = await this.store.uploadPart(
          key,
          uploadId,
          slot + 1,
          this.zeroBytes(P).subarray(0, lengthBytes),
        );
        inode.parts.set(slot, { etag, lengthBytes });
        return;
      }
    }
    await this.uploadSlot(inode, slot);
  }

  // --- namespace and accounting ---

  /** NOT_A_FOLDER when a file holds one of `name`'s folders, IS_A_FOLDER when `name` is a folder. */
  private async checkCreatable(name: string): Promise<void> {
    const parents = parentsOf(name);
    const heads = await Promise.all(
      parents.map((p) =>
        this.openByName.has(p) ? Promise.resolve(true) : this.store.head(p).then((h) => h !== null),
      ),
    );
    const holder = parents.find((_, i) => heads[i]);
    if (holder !== undefined) throw notAFolder(name, holder);
    const inside = await this.store.list({ prefix: `${name}${SEPARATOR}`, maxKeys: 1 });
    if (inside.objects.length > 0 || inside.prefixes.length > 0) throw isAFolder(name);
  }

  /** Counts the bucket's bytes and files (the quota's starting point). */
  private async countBucket(): Promise<void> {
    let continuation: string | undefined;
    do {
      const page = await this.store.list({ prefix: '', continuation, maxKeys: S3_LIMITS.LIST_KEYS });
      for (const o of page.objects) {
        if (!isValidName(o.key)) continue;
        this.usedBytes += o.sizeBytes;
        this.fileCount++;
      }
      continuation = page.continuation ?? undefined;
    } while (continuation !== undefined);
  }

  private checkPartCount(inode: S3Inode, endBytes: number): void {
    if (Math.ceil(endBytes / inode.partBytes) <= S3_LIMITS.MAX_PARTS) return;
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `'${inode.name}' would pass ${S3_LIMITS.MAX_PARTS} parts of ${inode.partBytes} bytes (S3's limit) at ${endBytes} bytes: create the file with its final sizeBytes so that larger parts are chosen`,
      { endBytes, partBytes: inode.partBytes },
    );
  }

  /** Accounts `deltaBytes` more (or fewer) bytes; NO_SPACE, changing nothing, past the quota. */
  private reserve(deltaBytes: number): void {
    if (deltaBytes > 0 && this.usedBytes + deltaBytes > this.quotaBytes) {
      throw new FerryError(
        'NO_SPACE',
        `${deltaBytes} more bytes would pass the quota of ${this.quotaBytes} (${this.usedBytes} used): delete files or raise --quota`,
        { deltaBytes, usedBytes: this.usedBytes, quotaBytes: this.quotaBytes },
      );
    }
    this.usedBytes += deltaBytes;
  }

  private touchData(inode: S3Inode): void {
    const nowMs = Date.now();
    inode.mtimeMs = nowMs;
    inode.ctimeMs = nowMs;
    inode.gen++;
  }

  private zeroBytes(n: number): Buffer {
    if (this.zeros === null || this.zeros.length < n) this.zeros = Buffer.alloc(n);
    return this.zeros;
  }

  private checkOpen(): void {
    if (this.closed) throw new FerryError('CLOSED', 'the S3 filesystem was closed: open a new one');
  }

  private checkWritable(): void {
    if (this.readOnly) throw new FerryError('READ_ONLY', 'the filesystem is read-only: nothing was changed');
  }
}

/** Spool folders are named `ferry-s3-spool-<pid>-<random>`: a folder whose process is gone is stale. */
const SPOOL_DIR_PREFIX = 'ferry-s3-spool-';

/** Removes the spool folders of ferry processes that died (killed servers leave theirs behind). */
async function removeDeadSpools(parent: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(parent);
  } catch {
    return; // a missing parent fails clearly at mkdtemp
  }
  for (const name of names) {
    const pid = Number(/^ferry-s3-spool-(\d+)-/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    await fsp.rm(path.join(parent, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function notFound(name: string): FerryError {
  return new FerryError('NOT_FOUND', `no file named '${name}': check the name with list`, { name });
}

function metaOf(inode: Pick<S3Inode, 'mtimeMs' | 'atimeMs' | 'ctimeMs' | 'mode'>): Record<string, string> {
  return {
    [META_MTIME]: String(inode.mtimeMs),
    [META_ATIME]: String(inode.atimeMs),
    [META_CTIME]: String(inode.ctimeMs),
    [META_MODE]: inode.mode.toString(8),
  };
}

function statOf(inode: S3Inode): FileStat {
  return {
    name: inode.name,
    sizeBytes: inode.sizeBytes,
    mtimeMs: inode.mtimeMs,
    atimeMs: inode.atimeMs,
    ctimeMs: inode.ctimeMs,
    mode: inode.mode,
  };
}

/** A number from ferry's metadata, or `fallback` for objects other tools wrote. */
function metaNumber(meta: Record<string, string>, key: string, fallback: number): number {
  const v = Number(meta[key]);
  return meta[key] !== undefined && Number.isFinite(v) ? v : fallback;
}

function statOfHead(name: string, head: ObjectHead): FileStat {
  const mtimeMs = metaNumber(head.meta, META_MTIME, head.lastModifiedMs);
  const mode = Number.parseInt(head.meta[META_MODE] ?? '', 8);
  return {
    name,
    sizeBytes: head.sizeBytes,
    mtimeMs,
    atimeMs: metaNumber(head.meta, META_ATIME, mtimeMs),
    ctimeMs: metaNumber(head.meta, META_CTIME, head.lastModifiedMs),
    mode:
      Number.isInteger(mode) && mode >= 0 && mode <= 0o777
        ? mode
        : isHiddenName(name)
          ? HIDDEN_FILE_MODE
          : NEW_FILE_MODE,
  };
}

function statOfListed(o: ListedObject): FileStat {
  return {
    name: o.key,
    sizeBytes: o.sizeBytes,
    mtimeMs: o.lastModifiedMs,
    atimeMs: o.lastModifiedMs,
    ctimeMs: o.lastModifiedMs,
  };
}
