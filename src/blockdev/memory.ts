/**
 * A block device held in memory, sparse: only chunks that were written hold memory.
 *
 * Why: tests, demos and `ferry serve --blockdev NAME=memory:SIZE` want a device of any size (a 1 TiB
 * device written in three places holds three chunks) without touching a disk. Storage is a Map from
 * chunk index to a chunk buffer of BLOCKDEV_MEMORY_CHUNK_BYTES; an absent chunk reads as zeros.
 * Trim and writeZeroes free whole chunks and zero partial ones. Memory is bounded by
 * `memoryLimitBytes`: a write that would need more chunks fails with NO_SPACE before anything changes.
 *
 * Every request completes synchronously inside its promise, so a single write is never seen half
 * done, and the device's content is exactly the writes in the order their calls were made.
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { pushExtent } from './extents.js';
import { checkBytes, checkGeometry, checkOpen, checkRange, DEFAULT_BLOCK_BYTES } from './range.js';
import type { BlockDevice, BlockExtent } from './types.js';

/** The unit of allocation, freeing and extents of the memory backend. */
export const MEMORY_CHUNK_BYTES = LIMITS.BLOCKDEV_MEMORY_CHUNK_BYTES;

export interface MemoryBlockDeviceOptions {
  sizeBytes: number;
  /** Preferred I/O size reported to users (power of two, 512..65536). Default 4096. */
  blockBytes?: number;
  /** Refuse write, trim and writeZeroes with READ_ONLY. The device then reads as zeros. */
  readOnly?: boolean;
  /** Most bytes of chunk memory the device may hold. Default BLOCKDEV_MEMORY_DEFAULT_LIMIT_BYTES. */
  memoryLimitBytes?: number;
}

/**
 * A sparse block device in memory: only written chunks hold memory, up to `memoryLimitBytes`.
 *
 * @example
 * const dev = new MemoryBlockDevice({ sizeBytes: 1 * GiB });
 * await dev.write(4096, Buffer.from('hello'));
 * console.log((await dev.read(4096, 5)).toString()); // hello
 * await dev.close();
 */
export class MemoryBlockDevice implements BlockDevice {
  readonly sizeBytes: number;
  readonly blockBytes: number;
  readonly readOnly: boolean;
  readonly memoryLimitBytes: number;
  private readonly chunks = new Map<number, Buffer>();
  private allocatedBytes = 0;
  private isClosed = false;

  constructor(options: MemoryBlockDeviceOptions) {
    const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
    checkGeometry(options.sizeBytes, blockBytes);
    const limit = options.memoryLimitBytes ?? LIMITS.BLOCKDEV_MEMORY_DEFAULT_LIMIT_BYTES;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `memoryLimitBytes must be a non-negative integer, got ${limit}`,
        { memoryLimitBytes: limit },
      );
    }
    this.sizeBytes = options.sizeBytes;
    this.blockBytes = blockBytes;
    this.readOnly = options.readOnly ?? false;
    this.memoryLimitBytes = limit;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Chunks holding data now (for tests and statistics). */
  get chunkCount(): number {
    return this.chunks.size;
  }

  /** Bytes of chunk memory held now. */
  get bytesAllocated(): number {
    return this.allocatedBytes;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, 'read', offset, length);
    const out = Buffer.allocUnsafe(length);
    this.copyOut(offset, out);
    return out;
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    checkBytes(this, 'readInto', target);
    checkRange(this, 'readInto', offset, target.length);
    this.copyOut(offset, target);
    return target.length;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkBytes(this, 'write', data);
    checkRange(this, 'write', offset, data.length);
    if (data.length === 0) return;
    this.reserveChunks(offset, data.length);
    let done = 0;
    while (done < data.length) {
      const at = offset + done;
      const index = Math.floor(at / MEMORY_CHUNK_BYTES);
      const within = at - index * MEMORY_CHUNK_BYTES;
      const chunk = this.chunkFor(index);
      const n = Math.min(chunk.length - within, data.length - done);
      chunk.set(data.subarray(done, done + n), within);
      done += n;
    }
  }

  async flush(): Promise<void> {
    checkOpen(this, 'flush');
  }

  async trim(offset: number, length: number): Promise<void> {
    checkRange(this, 'trim', offset, length);
    this.discard(offset, length);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    checkRange(this, 'writeZeroes', offset, length);
    this.discard(offset, length);
  }

  async extents(offset: number, length: number): Promise<BlockExtent[]> {
    checkRange(this, 'extents', offset, length);
    const out: BlockExtent[] = [];
    const end = offset + length;
    let cursor = offset;
    for (const index of this.presentChunks(offset, length)) {
      const dataStart = Math.max(index * MEMORY_CHUNK_BYTES, offset);
      const dataEnd = Math.min((index + 1) * MEMORY_CHUNK_BYTES, end);
      if (dataStart > cursor) pushExtent(out, cursor, dataStart - cursor, true);
      pushExtent(out, dataStart, dataEnd - dataStart, false);
      cursor = dataEnd;
    }
    if (cursor < end) pushExtent(out, cursor, end - cursor, true);
    return out;
  }

  async close(): Promise<void> {
    checkOpen(this, 'close');
    this.isClosed = true;
    this.chunks.clear();
    this.allocatedBytes = 0;
  }

  /** Copies [offset, offset + target.length) into target; absent chunks give zeros. */
  private copyOut(offset: number, target: Uint8Array): void {
    let done = 0;
    while (done < target.length) {
      const at = offset + done;
      const index = Math.floor(at / MEMORY_CHUNK_BYTES);
      const within = at - index * MEMORY_CHUNK_BYTES;
      const n = Math.min(MEMORY_CHUNK_BYTES - within, target.length - done);
      const chunk = this.chunks.get(index);
      if (chunk) target.set(chunk.subarray(within, within + n), done);
      else target.fill(0, done, done + n);
      done += n;
    }
  }

  /** Fails with NO_SPACE, changing nothing, when the chunks a write would add pass the limit. */
  private reserveChunks(offset: number, length: number): void {
    const first = Math.floor(offset / MEMORY_CHUNK_BYTES);
    const last = Math.floor((offset + length - 1) / MEMORY_CHUNK_BYTES);
    let addBytes = 0;
    for (let index = first; index <= last; index++) {
      if (!this.chunks.has(index)) addBytes += this.chunkLength(index);
    }
    if (this.allocatedBytes + addBytes <= this.memoryLimitBytes) return;
    throw new FerryError(
      'NO_SPACE',
      `memory block device full: this write needs ${addBytes} more bytes, ${this.allocatedBytes} of the ` +
        `memoryLimitBytes ${this.memoryLimitBytes} are in use; trim unused ranges or raise memoryLimitBytes`,
      { needBytes: addBytes, allocatedBytes: this.allocatedBytes, memoryLimitBytes: this.memoryLimitBytes },
    );
  }

  private chunkFor(index: number): Buffer {
    const existing = this.chunks.get(index);
    if (existing) return existing;
    const chunk = Buffer.alloc(this.chunkLength(index));
    this.chunks.set(index, chunk);
    this.allocatedBytes += chunk.length;
    return chunk;
  }

  /** Chunk size, shorter for the last chunk of a device whose size is not a multiple of it. */
  private chunkLength(index: number): number {
    return Math.min(MEMORY_CHUNK_BYTES, this.sizeBytes - index * MEMORY_CHUNK_BYTES);
  }

  /** Zeros a range: whole chunks are freed, the covered part of partial ones is zero-filled. */
  private discard(offset: number, length: number): void {
    const end = offset + length;
    for (const index of this.presentChunks(offset, length)) {
      const chunkStart = index * MEMORY_CHUNK_BYTES;
      const chunk = this.chunks.get(index)!;
      const from = Math.max(offset, chunkStart) - chunkStart;
      const to = Math.min(end, chunkStart + chunk.length) - chunkStart;
      if (from === 0 && to === chunk.length) {
        this.chunks.delete(index);
        this.allocatedBytes -= chunk.length;
      } else {
        chunk.fill(0, from, to);
      }
    }
  }

  /**
   * Indices of the chunks present in a range, ascending. Walks whichever is smaller: the range's chunk
   * indices or the map, so trimming a whole 1 TiB device with three chunks costs three steps.
   */
  private presentChunks(offset: number, length: number): number[] {
    if (length === 0) return [];
    const first = Math.floor(offset / MEMORY_CHUNK_BYTES);
    const last = Math.floor((offset + length - 1) / MEMORY_CHUNK_BYTES);
    const found: number[] = [];
    if (last - first + 1 <= this.chunks.size) {
      for (let index = first; index <= last; index++) if (this.chunks.has(index)) found.push(index);
      return found;
    }
    for (const index of this.chunks.keys()) if (index >= first && index <= last) found.push(index);
    return found.sort((a, b) => a - b);
  }
}
