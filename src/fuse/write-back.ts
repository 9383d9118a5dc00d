/**
 * Write-back for a mount of a remote filesystem: a FlatFs in front of another one that answers a
 * write once it has a copy of the bytes and has sent them on, so the next write need not wait for the
 * server's answer; at most `limitBytes` of such writes are unanswered by the backend at once.
 *
 * Why: the kernel hands a FUSE filesystem writes of at most 128 KiB and waits for each answer; over
 * the network each answer is a round trip, so a writer ran at one 128 KiB write per round trip.
 *
 * What stays true (the mount's `--cache full`, safe for one writer):
 * - Order: writes to one file start in the order they were made, and a write that overlaps one still
 *   in flight waits for it, so the backend applies overlapping writes in order.
 * - Reads, stat, list, truncate, rename, unlink and append of a file first wait for its writes in
 *   flight: this mount always sees its own writes.
 * - Errors are not lost: a write the backend refused (or a session that ended) fails the file's next
 *   write, and its flush (close(2)), fsync and release, with that error - as a local filesystem
 *   reports a failed write-back. fsync and flush answer only once every write before them reached the
 *   backend.
 */
import { LIMITS } from '../core/index.js';
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

/** A FlatFs wrapper that holds writes back: flush(2) of a handle waits for them (the adapter checks). */
export interface Drainable {
  drain(handle: FileHandle): Promise<void>;
}

interface InFlight {
  offset: number;
  end: number;
  done: Promise<void>;
}

interface FileState {
  name: string;
  /** Opened for writing (a write through a read-only handle goes straight to the backend's refusal). */
  writable: boolean;
  inFlight: Set<InFlight>;
  /** Every write made so far has started (its gate passed): the next one waits on this. */
  gate: Promise<void>;
  /** The first write-back failure, reported by the next write, flush, fsync or close. */
  error: unknown;
}

export class WriteBackFlatFs implements FlatFs, Drainable {
  private readonly files = new Map<FileHandle, FileState>();
  private inFlightBytes = 0;
  private roomWaiters: Array<() => void> = [];
  /** Present when the backend has it (the FUSE adapter checks). */
  readonly fchmod?: (handle: FileHandle, mode: number) => Promise<void>;

  constructor(
    private readonly fs: FlatFs,
    private readonly limitBytes: number,
  ) {
    const fchmod = fs.fchmod?.bind(fs);
    if (fchmod) this.fchmod = fchmod;
  }

  get readOnly(): boolean {
    return this.fs.readOnly;
  }

  /** Bytes written and not yet answered by the backend (for tests and statistics). */
  get bytesInFlight(): number {
    return this.inFlightBytes;
  }

  // --- writes --------------------------------------------------------------------------------

  async write(handle: FileHandle, offset: number, data: Uint8Array): Promise<void> {
    const st = this.files.get(handle);
    // what the backend would refuse, it refuses itself (same error, nothing held)
    if (
      !st ||
      !st.writable ||
      this.fs.readOnly ||
      !(data instanceof Uint8Array) ||
      data.length === 0 ||
      data.length > LIMITS.MAX_IO_BYTES ||
      !Number.isSafeInteger(offset) ||
      offset < 0
    )
      return this.fs.write(handle, offset, data);
    const before = st.gate;
    let pass!: () => void;
    st.gate = new Promise((resolve) => (pass = resolve));
    try {
      await before;
      this.throwIfFailed(st);
      const end = offset + data.length;
      for (;;) {
        const overlap = [...st.inFlight].find((w) => w.offset < end && offset < w.end);
        if (!overlap) break;
        await overlap.done;
      }
      while (this.inFlightBytes > 0 && this.inFlightBytes + data.length > this.limitBytes)
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      this.throwIfFailed(st);
      this.start(handle, st, offset, Buffer.from(data)); // a copy: the caller reuses its buffer
    } finally {
      pass();
    }
  }

  private start(handle: FileHandle, st: FileState, offset: number, copy: Buffer): void {
    this.inFlightBytes += copy.length;
    const w: InFlight = { offset, end: offset + copy.length, done: Promise.resolve() };
    w.done = this.fs.write(handle, offset, copy).then(
      () => this.finished(st, w, copy.length),
      (err: unknown) => {
        st.error ??= err;
        this.finished(st, w, copy.length);
      },
    );
    st.inFlight.add(w);
  }

  private finished(st: FileState, w: InFlight, bytes: number): void {
    st.inFlight.delete(w);
    this.inFlightBytes -= bytes;
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private throwIfFailed(st: FileState): void {
    if (st.error !== undefined) throw st.error;
  }

  /** Waits until every write made so far through `st` has been answered by the backend. */
  private async settle(st: FileState): Promise<void> {
    await st.gate;
    while (st.inFlight.size > 0) await Promise.all([...st.inFlight].map((w) => w.done));
  }

  /** Waits for the writes in flight of every open file called `name`. */
  private async settleName(name: string): Promise<void> {
    for (const st of [...this.files.values()]) if (st.name === name) await this.settle(st);
  }

  private async settleAll(): Promise<void> {
    for (const st of [...this.files.values()]) await this.settle(st);
  }

  private nameOf(handle: FileHandle): string | null {
    return this.files.get(handle)?.name ?? null;
  }

  private async settleHandle(handle: FileHandle): Promise<void> {
    const name = this.nameOf(handle);
    if (name !== null) await this.settleName(name);
  }

  /** flush(2) of the mount (close of a descriptor): every write before it reached the backend. */
  async drain(handle: FileHandle): Promise<void> {
    const st = this.files.get(handle);
    if (!st) return;
    await this.settle(st);
    this.throwIfFailed(st);
  }

  async fsync(handle: FileHandle): Promise<void> {
    await this.drain(handle);
    await this.settleHandle(handle);
    await this.fs.fsync(handle);
  }

  async closeFile(handle: FileHandle): Promise<void> {
    const st = this.files.get(handle);
    if (st) await this.settle(st);
    this.files.delete(handle);
    await this.fs.closeFile(handle);
    if (st) this.throwIfFailed(st);
  }

  // --- handles and names ---------------------------------------------------------------------

  private track(handle: FileHandle, name: string, writable: boolean): FileHandle {
    this.files.set(handle, {
      name,
      writable,
      inFlight: new Set(),
      gate: Promise.resolve(),
      error: undefined,
    });
    return handle;
  }

  async create(name: string, opts?: CreateOptions): Promise<FileHandle> {
    await this.settleName(name);
    return this.track(await this.fs.create(name, opts), name, true);
  }

  async open(name: string, opts?: OpenOptions): Promise<FileHandle> {
    return this.track(await this.fs.open(name, opts), name, opts?.write === true);
  }

  async read(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
    await this.settleHandle(handle);
    return this.fs.read(handle, offset, length);
  }

  async readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    await this.settleHandle(handle);
    return this.fs.readInto(handle, offset, target);
  }

  async append(handle: FileHandle, data: Uint8Array): Promise<number> {
    await this.settleHandle(handle);
    return this.fs.append(handle, data);
  }

  async ftruncate(handle: FileHandle, sizeBytes: number): Promise<void> {
    await this.settleHandle(handle);
    return this.fs.ftruncate(handle, sizeBytes);
  }

  async truncate(name: string, sizeBytes: number): Promise<void> {
    await this.settleName(name);
    return this.fs.truncate(name, sizeBytes);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.settleName(from);
    await this.settleName(to);
    await this.fs.rename(from, to);
    for (const st of this.files.values()) if (st.name === from) st.name = to;
  }

  async unlink(name: string): Promise<void> {
    await this.settleName(name);
    return this.fs.unlink(name);
  }

  async setTimes(name: string, atimeMs: number, mtimeMs: number): Promise<void> {
    await this.settleName(name);
    return this.fs.setTimes(name, atimeMs, mtimeMs);
  }

  async stat(name: string): Promise<FileStat> {
    await this.settleName(name);
    return this.fs.stat(name);
  }

  async fstat(handle: FileHandle): Promise<FileStat> {
    await this.settleHandle(handle);
    return this.fs.fstat(handle);
  }

  async list(opts?: ListOptions): Promise<ListPage> {
    await this.settleAll(); // listed sizes include every write made
    return this.fs.list(opts);
  }

  statfs(): Promise<FsStat> {
    return this.fs.statfs();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.files.values()].map((st) => this.settle(st)));
    this.files.clear();
    await this.fs.close();
  }
}
