/**
 * The sending side of a download: reads served straight into pooled packet buffers, and the
 * whole-file xxhash64 the client checks at the end.
 *
 * Why a class: a download is a transfer the server holds between requests (open, reads, close),
 * with its file handle, its counters for the log line and its running hash.
 *
 * The hash (the shared InOrderHasher) is kept along the way: a read that completes at the hash
 * cursor is hashed from the packet buffer it was read into. A read that completes ahead of the cursor
 * (the client's requests overtook each other, or the storage finished them out of order) is copied
 * and hashed once the cursor reaches it (past DOWNLOAD_EARLY_COPY_BYTES of copies it is read back
 * then instead), so the file is never read twice. At close, whatever was never served (a client that skipped blocks, or more
 * early reads than DOWNLOAD_MAX_EARLY_READS) is read once.
 */
import { FerryError } from '../../core/errors.js';
import { NEW_FILE_MODE, type FileHandle, type FlatFs } from '../../flatfs/types.js';
import { InOrderHasher } from '../in-order.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';

const REHASH_CHUNK_BYTES = 1 << 20;
/** Reads served ahead of the hash cursor that one download remembers, to hash when it gets there. */
export const DOWNLOAD_MAX_EARLY_READS = 1024;
/** Bytes of early reads one download keeps as copies; past it they are read back from the file. */
export const DOWNLOAD_EARLY_COPY_BYTES = 8 * 1024 * 1024;

export class Download {
  private readonly hasher = new InOrderHasher();
  /** Reads served ahead of the hash cursor: offset -> a copy of the bytes, or their length. */
  private readonly early = new Map<number, Buffer | number>();
  private readonly freeCopies: Buffer[] = [];
  private copyBytes = 0;
  /** Set and cleared in the same synchronous steps that start and end the catch-up loop. */
  private rehashing = false;
  private catchingUp: Promise<void> | null = null;
  private rehashBuf: Buffer | null = null;
  private failure: unknown = null;
  bytesServed = 0;
  /** Bytes read a second time only to hash them (reads that completed ahead of the cursor). */
  bytesReread = 0;
  closed = false;

  constructor(
    private readonly fs: FlatFs,
    readonly name: string,
    private readonly handle: FileHandle,
    readonly sizeBytes: number,
    readonly mtimeMs: number,
    /** Permission bits the client gives its copy (0o644 where the storage keeps none). */
    readonly mode: number = NEW_FILE_MODE,
  ) {}

  static async open(fs: FlatFs, name: string): Promise<Download> {
    const handle = await fs.open(name);
    try {
      const st = await fs.fstat(handle);
      return new Download(fs, name, handle, st.sizeBytes, st.mtimeMs, (st.mode ?? NEW_FILE_MODE) & 0o777);
    } catch (err) {
      await fs.closeFile(handle);
      throw err;
    }
  }

  /** Checks a read request; throws OUT_OF_RANGE. */
  check(offset: number, length: number): void {
    if (this.closed) throw new FerryError('UNKNOWN_TRANSFER', `the download of ${this.name} is closed`);
    if (length > TRANSFER_LIMITS.MAX_BLOCK_BYTES || length <= 0) {
      throw new FerryError(
        'OUT_OF_RANGE',
        `read of ${length} bytes: ask for 1..${TRANSFER_LIMITS.MAX_BLOCK_BYTES}`,
      );
    }
    if (offset + length > this.sizeBytes) {
      throw new FerryError(
        'OUT_OF_RANGE',
        `read [${offset}, ${offset + length}) past the end (${this.sizeBytes} bytes)`,
      );
    }
  }

  /** Reads into `target` (a packet buffer's data part); hashes it when it is next in order. */
  async readInto(offset: number, target: Buffer): Promise<number> {
    const n = await this.fs.readInto(this.handle, offset, target);
    if (n !== target.length) throw new FerryError('IO_ERROR', `${this.name} changed size while being read`);
    this.bytesServed += n;
    this.hashOrNote(offset, n, target);
    return n;
  }

  /**
   * Hashes a read at the cursor from its buffer, then whatever early reads now follow it. A read
   * ahead of the cursor is kept as a copy (within DOWNLOAD_EARLY_COPY_BYTES) or, past that, noted to
   * be read back when the cursor reaches it.
   */
  private hashOrNote(offset: number, n: number, data: Buffer): void {
    if (offset < this.hasher.cursor || this.early.has(offset)) return; // a repeat of a read already seen
    if (!this.rehashing && this.hasher.offer(offset, data)) {
      this.hashEarly();
      return;
    }
    if (this.early.size >= DOWNLOAD_MAX_EARLY_READS) return; // left for close
    const copy = this.takeCopy(n);
    if (copy) data.copy(copy, 0, 0, n);
    this.early.set(offset, copy ?? n);
  }

  /** A buffer of `n` bytes for an early read, or null past DOWNLOAD_EARLY_COPY_BYTES. */
  private takeCopy(n: number): Buffer | null {
    const free = this.freeCopies.pop();
    if (free && free.length === n) return free;
    if (free) this.copyBytes -= free.length; // a different size (the last block): let it go
    if (this.copyBytes + n > DOWNLOAD_EARLY_COPY_BYTES) return null;
    this.copyBytes += n;
    return Buffer.allocUnsafe(n);
  }

  /** Hashes the early reads at the cursor: copies at once, noted ones by reading them back. */
  private hashEarly(): void {
    for (
      let e = this.early.get(this.hasher.cursor);
      e !== undefined;
      e = this.early.get(this.hasher.cursor)
    ) {
      this.early.delete(this.hasher.cursor);
      if (typeof e !== 'number') {
        this.hasher.offer(this.hasher.cursor, e);
        this.freeCopies.push(e);
        continue;
      }
      this.rehashing = true;
      this.catchingUp = this.readBack(this.hasher.cursor + e);
      return;
    }
  }

  /** Reads back one noted early read, then goes on hashing early reads. */
  private async readBack(end: number): Promise<void> {
    try {
      const from = this.hasher.cursor;
      await this.hashFromFile(end, (this.rehashBuf ??= Buffer.allocUnsafe(REHASH_CHUNK_BYTES)));
      this.bytesReread += end - from;
    } catch (err) {
      this.failure ??= err;
      return;
    } finally {
      this.rehashing = false;
    }
    this.hashEarly();
  }

  private hashFromFile(end: number, buf: Buffer): Promise<void> {
    return this.hasher.readUpTo(
      end,
      (offset, target) => this.fs.readInto(this.handle, offset, target),
      buf,
      () => new FerryError('IO_ERROR', `${this.name} changed size while being read`),
    );
  }

  /** The whole-file hash (reading what was not hashed in order), then closes the file. */
  async close(verify: boolean): Promise<bigint> {
    if (this.closed) throw new FerryError('UNKNOWN_TRANSFER', `the download of ${this.name} is closed`);
    this.closed = true;
    try {
      while (this.rehashing) await this.catchingUp;
      if (!verify) return 0n;
      if (this.failure) throw this.failure;
      const rest = this.sizeBytes - this.hasher.cursor;
      this.bytesReread += rest;
      const buf = this.rehashBuf ?? Buffer.allocUnsafe(Math.min(REHASH_CHUNK_BYTES, Math.max(1, rest)));
      await this.hashFromFile(this.sizeBytes, buf);
      return this.hasher.digest();
    } finally {
      await this.fs.closeFile(this.handle).catch(() => undefined);
    }
  }

  async release(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.rehashing) await this.catchingUp;
    await this.fs.closeFile(this.handle).catch(() => undefined);
  }
}
