/**
 * A fixed pool of equal-sized buffers carved from one allocation.
 *
 * Why: hot paths (packet send/receive, block reads) must not allocate per packet. A pool sized from
 * the configured limits hands out preallocated slices and takes them back; when it is empty,
 * `acquire` returns null so the caller can report back-pressure instead of allocating more.
 */
import { FerryError } from './errors.js';

export class BufferPool {
  readonly bufferBytes: number;
  readonly capacity: number;
  private readonly slab: Buffer;
  private readonly free: Int32Array;
  private freeCount: number;
  private readonly inUse: Uint8Array;

  constructor(bufferBytes: number, capacity: number) {
    if (!Number.isSafeInteger(bufferBytes) || bufferBytes <= 0) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `BufferPool bufferBytes must be a positive integer, got ${bufferBytes}`,
      );
    }
    if (!Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `BufferPool capacity must be a positive integer, got ${capacity}`,
      );
    }
    this.bufferBytes = bufferBytes;
    this.capacity = capacity;
    this.slab = Buffer.allocUnsafeSlow(bufferBytes * capacity);
    this.free = new Int32Array(capacity);
    this.inUse = new Uint8Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeCount = capacity;
  }

  /** Buffers currently handed out. */
  get used(): number {
    return this.capacity - this.freeCount;
  }

  get available(): number {
    return this.freeCount;
  }

  /** A buffer of exactly `bufferBytes`, or null when the pool is empty (never allocates). */
  acquire(): Buffer | null {
    if (this.freeCount === 0) return null;
    const index = this.free[--this.freeCount]!;
    this.inUse[index] = 1;
    const start = index * this.bufferBytes;
    return this.slab.subarray(start, start + this.bufferBytes);
  }

  /** Returns a buffer obtained from `acquire`. Releasing a foreign or already-free buffer throws. */
  release(buf: Buffer): void {
    const rel = buf.byteOffset - this.slab.byteOffset;
    const index = rel / this.bufferBytes;
    if (buf.buffer !== this.slab.buffer || !Number.isInteger(index) || index < 0 || index >= this.capacity) {
      throw new FerryError('INVALID_ARGUMENT', 'BufferPool.release: buffer does not belong to this pool');
    }
    if (this.inUse[index] === 0) {
      throw new FerryError('INVALID_ARGUMENT', 'BufferPool.release: buffer released twice');
    }
    this.inUse[index] = 0;
    this.free[this.freeCount++] = index;
  }
}
