/**
 * The contents of one memory file: a sparse byte array of fixed-size chunks.
 *
 * Why: files are sparse (a write at 6 GiB must not allocate 6 GiB), so only chunks that were
 * written exist; a missing chunk reads as zeros. Invariant: bytes at or past `sizeBytes` inside an
 * existing chunk are zero, so growing a file never exposes old data.
 */
import { LIMITS } from '../core/limits.js';

export class SparseData {
  private readonly chunks = new Map<number, Buffer>();
  private size = 0;

  constructor(private readonly chunkBytes: number = LIMITS.FLATFS_MEMORY_CHUNK_BYTES) {}

  get sizeBytes(): number {
    return this.size;
  }

  /** Chunks holding data (for tests of sparseness and memory use). */
  get chunkCount(): number {
    return this.chunks.size;
  }

  /** Copies up to target.length bytes at `offset` into `target`; returns bytes copied (short at EOF). */
  readInto(offset: number, target: Uint8Array): number {
    const end = Math.min(this.size, offset + target.length);
    let pos = offset;
    while (pos < end) {
      const index = Math.floor(pos / this.chunkBytes);
      const within = pos - index * this.chunkBytes;
      const n = Math.min(this.chunkBytes - within, end - pos);
      const chunk = this.chunks.get(index);
      const at = pos - offset;
      if (chunk === undefined) target.fill(0, at, at + n);
      else target.set(chunk.subarray(within, within + n), at);
      pos += n;
    }
    return Math.max(0, end - offset);
  }

  /** Writes `data` at `offset`, extending the size when it ends past it. */
  write(offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    let pos = offset;
    while (pos < end) {
      const index = Math.floor(pos / this.chunkBytes);
      const within = pos - index * this.chunkBytes;
      const n = Math.min(this.chunkBytes - within, end - pos);
      this.chunkAt(index, n === this.chunkBytes).set(data.subarray(pos - offset, pos - offset + n), within);
      pos += n;
    }
    if (end > this.size) this.size = end;
  }

  /** Sets the size; shrinking drops whole chunks past it and zeroes the tail of the last one. */
  truncate(sizeBytes: number): void {
    if (sizeBytes < this.size) this.dropFrom(sizeBytes);
    this.size = sizeBytes;
  }

  private dropFrom(sizeBytes: number): void {
    const lastIndex = Math.floor(sizeBytes / this.chunkBytes);
    for (const index of [...this.chunks.keys()]) {
      if (index > lastIndex) this.chunks.delete(index);
    }
    const within = sizeBytes - lastIndex * this.chunkBytes;
    if (within === 0) this.chunks.delete(lastIndex);
    else this.chunks.get(lastIndex)?.fill(0, within);
  }

  /** The chunk at `index`, allocated if missing; unzeroed only when the caller overwrites all of it. */
  private chunkAt(index: number, whole: boolean): Buffer {
    let chunk = this.chunks.get(index);
    if (chunk === undefined) {
      chunk = whole ? Buffer.allocUnsafeSlow(this.chunkBytes) : Buffer.alloc(this.chunkBytes);
      this.chunks.set(index, chunk);
    }
    return chunk;
  }
}
