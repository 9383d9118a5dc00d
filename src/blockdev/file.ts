/**
 * A block device stored in a regular file or served from a host block device node.
 *
 * Why: `ferry serve --blockdev NAME=file:PATH[:SIZE]` exports disk images and real devices. I/O is
 * positional (pread/pwrite through one fs.promises FileHandle), so many requests run at once on
 * libuv's thread pool and `readInto` lands straight in the caller's buffer (a packet buffer).
 *
 * Durability: `flush()` is fsync(2), not fdatasync(2). The size never changes after open, so
 * fdatasync would cover plain overwrites, but trim changes the file's block map (hole punching) and
 * fsync makes that durable on every file system without relying on how each one reads "metadata
 * needed to retrieve the data". A created file and its directory entry are fsynced before open
 * returns (see file-open.ts).
 *
 * Trim and writeZeroes: ranges of at least `punchMinBytes` punch a hole (fallocate via hole-punch.ts)
 * in a regular file, freeing its blocks; shorter ranges, device nodes, and hosts where punching fails
 * write zeros in BLOCKDEV_FILE_ZERO_WRITE_BYTES pieces from one shared zero buffer. After a failed
 * punch the device stops trying. Either way the range reads as zeros when the promise resolves.
 *
 * Extents: a regular file with no allocated blocks is one hole (cheap: one fstat). Otherwise up to
 * BLOCKDEV_FILE_EXTENTS_SCAN_BYTES of the range are read and all-zero blocks reported as holes; the
 * rest of a longer range is reported as data. "Hole" on this backend therefore means "reads as
 * zeros", which is what the contract promises callers may rely on.
 *
 * close() waits for requests in flight, then closes the handle; it does not flush.
 */
import type { FileHandle } from 'node:fs/promises';
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { pushExtent } from './extents.js';
import { openTarget, type FileTargetOptions } from './file-open.js';
import { fromFsError } from './fs-errors.js';
import { punchHole } from './hole-punch.js';
import { checkBytes, checkOpen, checkRange } from './range.js';
import type { BlockDevice, BlockExtent } from './types.js';

export interface FileBlockDeviceOptions extends FileTargetOptions {
  /**
   * Trims and zeroings at least this long punch holes; shorter ones write zeros. Default
   * BLOCKDEV_FILE_PUNCH_MIN_BYTES; `Infinity` never punches (always writes zeros).
   */
  punchMinBytes?: number;
}

/** Shared source of zeros for trim/writeZeroes; only ever read from. */
const ZEROES = Buffer.alloc(LIMITS.BLOCKDEV_FILE_ZERO_WRITE_BYTES);

export class FileBlockDevice implements BlockDevice {
  readonly path: string;
  readonly sizeBytes: number;
  readonly blockBytes: number;
  readonly readOnly: boolean;
  /** 'file' for a regular file, 'device' for a block device node. */
  readonly kind: 'file' | 'device';
  private readonly handle: FileHandle;
  private readonly punchMinBytes: number;
  private punchWorks: boolean;
  private isClosed = false;
  private inFlight = 0;
  private onIdle: (() => void) | null = null;

  private constructor(path: string, handle: FileHandle, geometry: Geometry, options: FileBlockDeviceOptions) {
    this.path = path;
    this.handle = handle;
    this.sizeBytes = geometry.sizeBytes;
    this.blockBytes = geometry.blockBytes;
    this.kind = geometry.kind;
    this.readOnly = options.readOnly ?? false;
    this.punchMinBytes = options.punchMinBytes ?? LIMITS.BLOCKDEV_FILE_PUNCH_MIN_BYTES;
    this.punchWorks = geometry.kind === 'file';
  }

  /**
   * Opens a file or block device path. A missing file is created sparse at `sizeBytes` when `create`
   * is true. Throws FerryError (NOT_FOUND, EXISTS, INVALID_ARGUMENT, PERMISSION_DENIED, IO_ERROR).
   *
   * @example
   * const dev = await FileBlockDevice.open('/tmp/disk.img', { sizeBytes: 1 << 30, create: true });
   * await dev.write(0, Buffer.from('hello'));
   * await dev.flush();
   * await dev.close();
   */
  static async open(path: string, options: FileBlockDeviceOptions = {}): Promise<FileBlockDevice> {
    const punchMinBytes = options.punchMinBytes;
    if (punchMinBytes !== undefined && !isPunchThreshold(punchMinBytes)) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `punchMinBytes must be a positive integer, or Infinity to never punch holes; got ${punchMinBytes}`,
      );
    }
    const target = await openTarget(path, options);
    return new FileBlockDevice(path, target.handle, target, options);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, 'read', offset, length);
    const out = Buffer.allocUnsafe(length);
    await this.tracked(this.readFully(offset, out));
    return out;
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    checkBytes(this, 'readInto', target);
    checkRange(this, 'readInto', offset, target.length);
    await this.tracked(this.readFully(offset, target));
    return target.length;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkBytes(this, 'write', data);
    checkRange(this, 'write', offset, data.length);
    await this.tracked(this.writeFully(offset, data));
  }

  async flush(): Promise<void> {
    checkOpen(this, 'flush');
    if (this.readOnly) return;
    await this.tracked(this.sync());
  }

  async trim(offset: number, length: number): Promise<void> {
    checkRange(this, 'trim', offset, length);
    await this.tracked(this.zeroRange(offset, length));
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    checkRange(this, 'writeZeroes', offset, length);
    await this.tracked(this.zeroRange(offset, length));
  }

  async extents(offset: number, length: number): Promise<BlockExtent[]> {
    checkRange(this, 'extents', offset, length);
    return this.tracked(this.findExtents(offset, length));
  }

  async close(): Promise<void> {
    checkOpen(this, 'close');
    this.isClosed = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    try {
      await this.handle.close();
    } catch (err) {
      throw fromFsError(err, `file block device: closing ${this.path}`);
    }
  }

  /** Counts a request in flight so close() can wait for it. */
  private async tracked<T>(work: Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await work;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.onIdle) {
        this.onIdle();
        this.onIdle = null;
      }
    }
  }

  private async readFully(offset: number, target: Uint8Array): Promise<void> {
    let done = 0;
    try {
      while (done < target.length) {
        const { bytesRead } = await this.handle.read(target, done, target.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (err) {
      throw fromFsError(err, `file block device: reading ${this.path} at ${offset + done}`);
    }
    if (done < target.length) {
      throw new FerryError(
        'IO_ERROR',
        `file block device: ${this.path} ends at ${offset + done}, before the device's ${this.sizeBytes} bytes; ` +
          'was it truncated by another program?',
      );
    }
  }

  private async writeFully(offset: number, data: Uint8Array): Promise<void> {
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
        if (bytesWritten === 0) throw new Error('the host wrote 0 bytes');
        done += bytesWritten;
      }
    } catch (err) {
      throw fromFsError(err, `file block device: writing ${this.path} at ${offset + done}`);
    }
  }

  private async sync(): Promise<void> {
    try {
      await this.handle.sync();
    } catch (err) {
      throw fromFsError(err, `file block device: fsync of ${this.path}`);
    }
  }

  private async zeroRange(offset: number, length: number): Promise<void> {
    if (length === 0) return;
    if (this.punchWorks && length >= this.punchMinBytes) {
      const punched = await punchHole(this.handle.fd, offset, length, LIMITS.BLOCKDEV_FILE_PUNCH_TIMEOUT_MS);
      if (punched.ok) return;
      this.punchWorks = false;
    }
    for (let done = 0; done < length;) {
      const n = Math.min(ZEROES.length, length - done);
      await this.writeFully(offset + done, ZEROES.subarray(0, n));
      done += n;
    }
  }

  private async findExtents(offset: number, length: number): Promise<BlockExtent[]> {
    const out: BlockExtent[] = [];
    if (length === 0) return out;
    if (this.kind === 'file' && (await this.allocatedBlocks()) === 0) {
      pushExtent(out, offset, length, true);
      return out;
    }
    const scanBytes = Math.min(length, LIMITS.BLOCKDEV_FILE_EXTENTS_SCAN_BYTES);
    const piece = Buffer.allocUnsafe(Math.min(scanBytes, LIMITS.BLOCKDEV_FILE_ZERO_WRITE_BYTES));
    for (let at = offset; at < offset + scanBytes;) {
      const n = Math.min(piece.length, offset + scanBytes - at);
      await this.readFully(at, piece.subarray(0, n));
      this.classifyBlocks(out, at, piece.subarray(0, n));
      at += n;
    }
    pushExtent(out, offset + scanBytes, length - scanBytes, false);
    return out;
  }

  /** Appends extents for `data` read at `offset`: all-zero blocks (aligned to blockBytes) are holes. */
  private classifyBlocks(out: BlockExtent[], offset: number, data: Buffer): void {
    for (let i = 0; i < data.length;) {
      const at = offset + i;
      const n = Math.min(this.blockBytes - (at % this.blockBytes), data.length - i);
      const zero = data.subarray(i, i + n).equals(ZEROES.subarray(0, n));
      pushExtent(out, at, n, zero);
      i += n;
    }
  }

  private async allocatedBlocks(): Promise<number> {
    try {
      return (await this.handle.stat()).blocks;
    } catch (err) {
      throw fromFsError(err, `file block device: stat of ${this.path}`);
    }
  }
}

interface Geometry {
  sizeBytes: number;
  blockBytes: number;
  kind: 'file' | 'device';
}

function isPunchThreshold(bytes: number): boolean {
  return bytes === Infinity || (Number.isSafeInteger(bytes) && bytes > 0);
}
