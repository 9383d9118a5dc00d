/**
 * Read-ahead for a mount of a remote filesystem: a FlatFs in front of another one that, once an open
 * file is read sequentially, fetches a window from there in one backend call and answers the reads
 * that fall in it, fetching the window after while the reader is in the second half of the current
 * one. Windows start at a few requests and double up to `windowBytes`, so reading a small file costs
 * no large fetch.
 *
 * Why: the kernel hands a FUSE filesystem reads of at most 128 KiB, and over the network each one
 * costs a round trip; a reader then waits a round trip per 128 KiB. One call of a few MiB costs about
 * one round trip too, so sequential reading runs at the pace of the path instead of the latency.
 *
 * Consistency ("safe for one writer", the mount's `--cache full`): any change made through this
 * FlatFs (write, append, truncate, rename, unlink, create) drops the windows of that file, and no
 * window is fetched while a change to it is in flight, so this mount always reads its own writes.
 * Changes made by another client may be seen up to one window late. Memory: at most three windows per
 * open file and READ_AHEAD_TOTAL_BYTES over all files (no read-ahead beyond that).
 */
import { LIMITS, MiB } from '../core/index.js';
import type { Drainable } from './write-back.js';
import type {
  CreateOptions,
  FileHandle,
  FileStat,
  FlatFs,
  FsStat,
  ListOptions,
  ListPage,
  OpenOptions,
} from '../flatfs/types.js';

/** All read-ahead windows of one mount together hold at most this many bytes. */
export const READ_AHEAD_TOTAL_BYTES = 64 * MiB;
/** A reader's first window is at least this large (then each one doubles, up to the window size). */
const FIRST_WINDOW_BYTES = 512 * 1024;

interface Window {
  start: number;
  data: Buffer;
  /** Bytes the backend returned (less than data.length at the end of the file); -1 while fetching. */
  length: number;
  ready: Promise<void>;
}

interface OpenState {
  handle: FileHandle;
  name: string;
  /** Where a sequential reader reads next. */
  nextOffset: number;
  /** The window before `current`, kept while requests for its tail may still wait on it. */
  previous: Window | null;
  current: Window | null;
  next: Window | null;
}

export class ReadAheadFlatFs implements FlatFs {
  private readonly open_ = new Map<FileHandle, OpenState>();
  /** Changes in flight per file name: no window is fetched for a file while one runs. */
  private readonly changing = new Map<string, number>();
  private heldBytes = 0;
  /** Present when the backend has it (the FUSE adapter checks). */
  readonly fchmod?: (handle: FileHandle, mode: number) => Promise<void>;
  /** The backend's write-back drain, when it holds writes back (write-back.ts; the adapter checks). */
  readonly drain?: (handle: FileHandle) => Promise<void>;

  constructor(
    private readonly fs: FlatFs,
    private readonly windowBytes: number,
    private readonly totalBytes = READ_AHEAD_TOTAL_BYTES,
  ) {
    const fchmod = fs.fchmod?.bind(fs);
    if (fchmod) this.fchmod = fchmod;
    const inner = fs as Partial<Drainable>;
    if (typeof inner.drain === 'function') this.drain = inner.drain.bind(fs);
  }

  get readOnly(): boolean {
    return this.fs.readOnly;
  }

  /** Bytes the windows hold now (for tests and statistics). */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  // --- handles -------------------------------------------------------------------------------

  async create(name: string, opts?: CreateOptions): Promise<FileHandle> {
    const h = await this.changed(name, () => this.fs.create(name, opts));
    this.open_.set(h, { handle: h, name, nextOffset: 0, previous: null, current: null, next: null });
    return h;
  }

  async open(name: string, opts?: OpenOptions): Promise<FileHandle> {
    const h = await this.fs.open(name, opts);
    this.open_.set(h, { handle: h, name, nextOffset: 0, previous: null, current: null, next: null });
    return h;
  }

  async closeFile(handle: FileHandle): Promise<void> {
    const st = this.open_.get(handle);
    if (st) this.dropWindows(st);
    this.open_.delete(handle);
    await this.fs.closeFile(handle);
  }

  // --- data ----------------------------------------------------------------------------------

  async read(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
    // a length the backend refuses is refused by the backend, with its error
    if (
      !this.open_.has(handle) ||
      !Number.isSafeInteger(length) ||
      length <= 0 ||
      length > LIMITS.MAX_IO_BYTES
    )
      return this.fs.read(handle, offset, length);
    const out = Buffer.allocUnsafe(length);
    const n = await this.readInto(handle, offset, out);
    return out.subarray(0, n);
  }

  async readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    const st = this.open_.get(handle);
    if (
      !st ||
      !(target instanceof Uint8Array) ||
      target.length === 0 ||
      !Number.isSafeInteger(offset) ||
      offset < 0
    )
      return this.fs.readInto(handle, offset, target);
    // The kernel sends a sequential reader's requests several at a time, in order: a request that
    // starts where the one before ended (when it was asked, not answered) is sequential.
    const sequential = offset === st.nextOffset;
    st.nextOffset = offset + target.length;
    let w = this.windowAt(st, offset);
    if (!w && sequential) {
      // a sequential reader outside the windows: fetch from here, this request included
      this.dropWindows(st);
      st.current = this.fetch(st, offset, this.firstWindowBytes(target.length));
      w = st.current;
    }
    if (w) {
      const n = await this.fromWindow(st, w, offset, target);
      if (n >= 0) return n;
    }
    return this.fs.readInto(handle, offset, target);
  }

  /** The window holding `offset`; reaching the next one retires the one before the current one. */
  private windowAt(st: OpenState, offset: number): Window | null {
    if (st.current && covers(st.current, offset)) return st.current;
    if (st.previous && covers(st.previous, offset)) return st.previous;
    if (st.next && covers(st.next, offset)) {
      // the reader moved on; requests for the tail of the current window may still be waiting on
      // it, so it stays (as previous) until the reader moves on once more
      if (st.previous) this.release(st.previous);
      st.previous = st.current;
      st.current = st.next;
      st.next = null;
      return st.current;
    }
    return null;
  }

  /** Answers from `w` when it holds [offset, offset + target.length) or the file's end; else -1. */
  private async fromWindow(st: OpenState, w: Window, offset: number, target: Uint8Array): Promise<number> {
    await w.ready;
    // dropped meanwhile (a change, a close), or the fetch failed: the caller reads straight
    if (w.length < 0 || w.data.length === 0) return -1;
    const at = offset - w.start;
    const avail = w.length - at;
    const atEnd = w.length < w.data.length;
    if (avail < target.length && !atEnd) return -1; // runs past the window: read it straight
    const n = Math.max(0, Math.min(avail, target.length));
    target.set(w.data.subarray(at, at + n));
    if (!atEnd && w === st.current && st.next === null) {
      // grows window by window up to windowBytes, like the kernel's own read-ahead
      st.next = this.fetch(st, w.start + w.data.length, Math.min(2 * w.data.length, this.windowBytes));
    }
    return n;
  }

  /** A reader's first window: a few of its requests, at least FIRST_WINDOW_BYTES, at most windowBytes. */
  private firstWindowBytes(requestBytes: number): number {
    return Math.min(this.windowBytes, Math.max(FIRST_WINDOW_BYTES, 4 * requestBytes));
  }

  /** Starts fetching `bytes` at `start`; null when memory or a change in flight forbids it. */
  private fetch(st: OpenState, start: number, bytes: number): Window | null {
    if ((this.changing.get(st.name) ?? 0) > 0) return null;
    if (this.heldBytes + bytes > this.totalBytes) return null;
    this.heldBytes += bytes;
    const w: Window = { start, data: Buffer.allocUnsafe(bytes), length: -1, ready: Promise.resolve() };
    w.ready = this.fs.readInto(st.handle, start, w.data).then(
      (n) => {
        w.length = n;
      },
      () => {
        w.length = -1; // a failed fetch answers nothing: the reader reads straight and sees the error
        if (st.current === w) st.current = null;
        if (st.next === w) st.next = null;
        if (st.previous === w) st.previous = null;
        this.release(w);
      },
    );
    return w;
  }

  private release(w: Window): void {
    if (w.data.length === 0) return;
    this.heldBytes -= w.data.length;
    w.data = Buffer.alloc(0);
  }

  private dropWindows(st: OpenState): void {
    for (const w of [st.previous, st.current, st.next]) if (w) this.release(w);
    st.previous = null;
    st.current = null;
    st.next = null;
  }

  /** Drops every window of `name`'s open files, and keeps new ones from starting until `work` ends. */
  private async changed<T>(name: string, work: () => Promise<T>): Promise<T> {
    this.changing.set(name, (this.changing.get(name) ?? 0) + 1);
    for (const st of this.open_.values()) if (st.name === name) this.dropWindows(st);
    try {
      return await work();
    } finally {
      const n = (this.changing.get(name) ?? 1) - 1;
      if (n === 0) this.changing.delete(name);
      else this.changing.set(name, n);
      // a window fetched before the change started may hold older bytes: drop it once more
      for (const st of this.open_.values()) if (st.name === name) this.dropWindows(st);
    }
  }

  private nameOf(handle: FileHandle): string | null {
    return this.open_.get(handle)?.name ?? null;
  }

  private changedByHandle<T>(handle: FileHandle, work: () => Promise<T>): Promise<T> {
    const name = this.nameOf(handle);
    return name === null ? work() : this.changed(name, work);
  }

  write(handle: FileHandle, offset: number, data: Uint8Array): Promise<void> {
    return this.changedByHandle(handle, () => this.fs.write(handle, offset, data));
  }

  append(handle: FileHandle, data: Uint8Array): Promise<number> {
    return this.changedByHandle(handle, () => this.fs.append(handle, data));
  }

  ftruncate(handle: FileHandle, sizeBytes: number): Promise<void> {
    return this.changedByHandle(handle, () => this.fs.ftruncate(handle, sizeBytes));
  }

  truncate(name: string, sizeBytes: number): Promise<void> {
    return this.changed(name, () => this.fs.truncate(name, sizeBytes));
  }

  async rename(from: string, to: string): Promise<void> {
    await this.changed(from, () => this.changed(to, () => this.fs.rename(from, to)));
    // open files keep their handle; the name they are found by for later changes follows the rename
    for (const st of this.open_.values()) if (st.name === from) st.name = to;
  }

  unlink(name: string): Promise<void> {
    return this.changed(name, () => this.fs.unlink(name));
  }

  // --- passed through ------------------------------------------------------------------------

  stat(name: string): Promise<FileStat> {
    return this.fs.stat(name);
  }

  fstat(handle: FileHandle): Promise<FileStat> {
    return this.fs.fstat(handle);
  }

  list(opts?: ListOptions): Promise<ListPage> {
    return this.fs.list(opts);
  }

  setTimes(name: string, atimeMs: number, mtimeMs: number): Promise<void> {
    return this.fs.setTimes(name, atimeMs, mtimeMs);
  }

  fsync(handle: FileHandle): Promise<void> {
    return this.fs.fsync(handle);
  }

  statfs(): Promise<FsStat> {
    return this.fs.statfs();
  }

  async close(): Promise<void> {
    for (const st of this.open_.values()) this.dropWindows(st);
    this.open_.clear();
    await this.fs.close();
  }
}

function covers(w: Window, offset: number): boolean {
  return offset >= w.start && offset < w.start + w.data.length;
}
