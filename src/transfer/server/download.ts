/**
 * The sending side of a download: reads served straight into pooled packet buffers, and the
 * whole-file xxhash64 the client checks at the end.
 *
 * Why a class: a download is a transfer the server holds between requests (open, reads, close),
 * with its file handle, its counters for the log line and its running hash.
 *
 * The hash (the shared InOrderHasher) is kept along the way while reads arrive in order (the usual
 * case: the client asks in order); whatever was not hashed in order is read once more at close.
 */
import { FerryError } from '../../core/errors.js';
import type { FileHandle, FlatFs } from '../../flatfs/types.js';
import { InOrderHasher } from '../in-order.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';

const REHASH_CHUNK_BYTES = 1 << 20;

export class Download {
  private readonly hasher = new InOrderHasher();
  bytesServed = 0;
  closed = false;

  constructor(
    private readonly fs: FlatFs,
    readonly name: string,
    private readonly handle: FileHandle,
    readonly sizeBytes: number,
    readonly mtimeMs: number,
  ) {}

  static async open(fs: FlatFs, name: string): Promise<Download> {
    const handle = await fs.open(name);
    try {
      const st = await fs.fstat(handle);
      return new Download(fs, name, handle, st.sizeBytes, st.mtimeMs);
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
    this.hasher.offer(offset, target);
    this.bytesServed += n;
    return n;
  }

  /** The whole-file hash (reading what was not hashed in order), then closes the file. */
  async close(verify: boolean): Promise<bigint> {
    if (this.closed) throw new FerryError('UNKNOWN_TRANSFER', `the download of ${this.name} is closed`);
    this.closed = true;
    try {
      if (!verify) return 0n;
      const buf = Buffer.allocUnsafe(
        Math.min(REHASH_CHUNK_BYTES, Math.max(1, this.sizeBytes - this.hasher.cursor)),
      );
      await this.hasher.readUpTo(
        this.sizeBytes,
        (offset, target) => this.fs.readInto(this.handle, offset, target),
        buf,
        () => new FerryError('IO_ERROR', `${this.name} changed size while being read`),
      );
      return this.hasher.digest();
    } finally {
      await this.fs.closeFile(this.handle).catch(() => undefined);
    }
  }

  async release(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fs.closeFile(this.handle).catch(() => undefined);
  }
}
