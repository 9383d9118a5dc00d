/**
 * The block device interface: a fixed-size array of bytes addressed by offset.
 *
 * Every backend (memory, file, and the remote client over ferry's wire) implements this one
 * interface and passes the one compliance suite in test/unit/blockdev/compliance.ts.
 *
 * Semantics, for every implementation:
 * - Offsets and lengths are byte counts, any alignment. `offset + length <= sizeBytes`, else
 *   OUT_OF_RANGE and nothing changes. Zero-length requests inside (or at the end of) the device
 *   succeed and do nothing.
 * - A write is visible to every later read as soon as its promise resolves; it is durable (survives
 *   a crash of the process or machine) only after a later `flush()` resolves.
 * - Never-written, trimmed and zeroed ranges read as zeros.
 * - A read-only device refuses write, trim and writeZeroes with READ_ONLY (flush succeeds).
 * - Several requests may be in flight at once; requests to overlapping ranges complete in an
 *   unspecified order (as on a disk), requests to disjoint ranges are independent.
 * - After `close()` every call fails with CLOSED.
 */

export interface BlockExtent {
  offset: number;
  length: number;
  /** True when the range holds no stored data (never written, or trimmed): it reads as zeros. */
  hole: boolean;
}

export interface BlockDevice {
  /** Total size in bytes (fixed for the life of the device). */
  readonly sizeBytes: number;
  /** Preferred I/O granularity in bytes (a power of two, 512..65536); requests need not align. */
  readonly blockBytes: number;
  readonly readOnly: boolean;

  /** Reads `length` bytes at `offset` into a new buffer. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Reads `target.length` bytes at `offset` straight into `target` (a packet buffer, say): the
   * zero-copy path. Resolves to the number of bytes read (always `target.length`).
   */
  readInto(offset: number, target: Uint8Array): Promise<number>;
  /** Writes `data` at `offset`. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes every write that resolved before this call durable. */
  flush(): Promise<void>;
  /** Discards a range: it reads as zeros afterwards and may free its storage. */
  trim(offset: number, length: number): Promise<void>;
  /** Sets a range to zeros (storage may be freed, as with trim). */
  writeZeroes(offset: number, length: number): Promise<void>;
  /** Which parts of [offset, offset+length) hold data and which are holes, in order, covering it. */
  extents(offset: number, length: number): Promise<BlockExtent[]>;
  /** Releases the backend; later calls fail with CLOSED. Does not flush. */
  close(): Promise<void>;
}
