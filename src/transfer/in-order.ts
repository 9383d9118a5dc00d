/**
 * Bytes in offset order, whatever order they arrive in: the whole-file hash every copy checks
 * (InOrderHasher) and the reorder buffer a download feeds it and a pipe from (InOrder).
 *
 * Why one hasher: both upload kinds, downloads, and both ends of each compute the whole-file
 * xxhash64 the same way: bytes at the hash cursor are hashed straight from the message or buffer
 * they arrive in, and a stretch the cursor has not seen (blocks that arrived early, a resumed
 * prefix, reads that came out of order) is read back from where it lies once, in order.
 *
 * InOrder is for bytes that exist only in flight (a download's replies): a block at the cursor is
 * consumed straight from the message (no copy); one that arrives early is copied once into a
 * pooled buffer and consumed when the cursor reaches it. The pool bounds how far ahead blocks may
 * run.
 */
import { createXxh64, type Hasher64 } from '../core/checksum.js';
import type { FerryError } from '../core/errors.js';
import type { WaitingPool } from './waiting-pool.js';

/** Reads `target.length` bytes at `offset` into `target`; resolves to the bytes read (short only at the end). */
export type ReadAt = (offset: number, target: Buffer) => Promise<number>;

/** The whole-file xxhash64, taken in offset order. */
export class InOrderHasher {
  private readonly hasher: Hasher64 = createXxh64();
  private hashed = 0;

  /** Bytes hashed so far: where the next in-order bytes start. */
  get cursor(): number {
    return this.hashed;
  }

  /** Hashes `data` when it starts at the cursor; false (nothing hashed) when it does not. */
  offer(offset: number, data: Uint8Array): boolean {
    if (offset !== this.hashed) return false;
    this.hasher.update(data);
    this.hashed += data.length;
    return true;
  }

  /**
   * Hashes [cursor, end) by reading it back through `read`, a chunk of at most `buf.length` at a
   * time. A short read means the bytes are not there: throws what `shortRead(offset)` makes.
   */
  async readUpTo(
    end: number,
    read: ReadAt,
    buf: Buffer,
    shortRead: (offset: number) => FerryError,
  ): Promise<void> {
    while (this.hashed < end) {
      const chunk = buf.subarray(0, Math.min(buf.length, end - this.hashed));
      if ((await read(this.hashed, chunk)) !== chunk.length) throw shortRead(this.hashed);
      this.hasher.update(chunk);
      this.hashed += chunk.length;
    }
  }

  digest(): bigint {
    return this.hasher.digest();
  }
}

/** Feeds blocks to a consumer in offset order, holding early ones in pooled copies. */
export class InOrder {
  cursor = 0;
  private busy = false;
  /** Early blocks by offset: the pooled buffer and how many of its bytes are the block. */
  private readonly pending = new Map<number, Buffer>();
  private readonly pendingBytes = new Map<number, number>();

  constructor(
    private readonly pool: WaitingPool,
    private readonly process: (data: Buffer, offset: number) => Promise<void> | void,
  ) {}

  async offer(offset: number, data: Buffer): Promise<void> {
    if (!this.busy && offset === this.cursor) {
      this.busy = true;
      try {
        await this.process(data, offset);
      } catch (err) {
        this.busy = false;
        throw err;
      }
      this.cursor += data.length;
      return this.drain();
    }
    const buf = this.pool.tryAcquire() ?? (await this.pool.acquire());
    data.copy(buf);
    this.pending.set(offset, buf);
    this.pendingBytes.set(offset, data.length);
    if (this.busy) return;
    this.busy = true;
    return this.drain();
  }

  /**
   * Consumes held blocks from the cursor on; the caller has set `busy`. `busy` is cleared in the same
   * synchronous step that finds no block at the cursor: a block held after that step starts its own
   * drain, and one held before it is taken by this one (clearing it a microtask later would strand a
   * block held in between).
   */
  private async drain(): Promise<void> {
    try {
      for (let next = this.pending.get(this.cursor); next; next = this.pending.get(this.cursor)) {
        const length = this.pendingBytes.get(this.cursor)!;
        this.pending.delete(this.cursor);
        this.pendingBytes.delete(this.cursor);
        try {
          await this.process(length === next.length ? next : next.subarray(0, length), this.cursor);
        } finally {
          this.pool.release(next);
        }
        this.cursor += length;
      }
    } finally {
      this.busy = false;
    }
  }
}
