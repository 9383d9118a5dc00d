/**
 * The one request check every block device backend runs before it touches anything.
 *
 * Why one module: the memory, file and (later) remote backends must refuse the same requests with the
 * same codes, in the same order, so a caller (the NBD server, the transfer engine) can rely on the
 * code whatever serves it. Checks, first failure wins:
 *   1. CLOSED            the device was closed;
 *   2. INVALID_ARGUMENT  offset/length are not non-negative safe integers, data is not bytes;
 *   3. LIMIT_EXCEEDED    a read or write longer than LIMITS.MAX_IO_BYTES (trim, writeZeroes and
 *                        extents carry no data and may span the whole device);
 *   4. READ_ONLY         a change (write, trim, writeZeroes) on a read-only device;
 *   5. OUT_OF_RANGE      offset + length past the end of the device.
 * Every check runs before any state changes, so a refused request changes nothing.
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';

/** The kinds of request a block device serves, as named in error messages. */
export type BlockOp = 'read' | 'readInto' | 'write' | 'trim' | 'writeZeroes' | 'extents' | 'flush' | 'close';

/** What the check needs to know about a device. */
export interface DeviceGate {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly closed: boolean;
}

const CHANGES: ReadonlySet<BlockOp> = new Set<BlockOp>(['write', 'trim', 'writeZeroes']);
const CARRIES_DATA: ReadonlySet<BlockOp> = new Set<BlockOp>(['read', 'readInto', 'write']);

/** Throws CLOSED when the device is closed; for flush and close, which take no range. */
export function checkOpen(dev: DeviceGate, op: BlockOp): void {
  if (dev.closed) throw new FerryError('CLOSED', `block device ${op}: the device is closed; open it again`);
}

/** Checks a ranged request (see the module comment for the order). Throws FerryError; changes nothing. */
export function checkRange(dev: DeviceGate, op: BlockOp, offset: number, length: number): void {
  checkOpen(dev, op);
  if (!isByteCount(offset) || !isByteCount(length)) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `block device ${op}: offset and length must be non-negative integers, got offset=${offset} length=${length}`,
      { op, offset, length },
    );
  }
  if (CARRIES_DATA.has(op) && length > LIMITS.MAX_IO_BYTES) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `block device ${op}: ${length} bytes is more than MAX_IO_BYTES (${LIMITS.MAX_IO_BYTES}); split the request`,
      { op, length, limit: LIMITS.MAX_IO_BYTES },
    );
  }
  if (CHANGES.has(op) && dev.readOnly) {
    throw new FerryError('READ_ONLY', `block device ${op}: the device is read-only; open it read-write`, {
      op,
    });
  }
  if (offset + length > dev.sizeBytes) {
    throw new FerryError(
      'OUT_OF_RANGE',
      `block device ${op}: [${offset}, ${offset + length}) is outside the device of ${dev.sizeBytes} bytes`,
      { op, offset, length, sizeBytes: dev.sizeBytes },
    );
  }
}

/** Checks that `data` is a byte array before its length is used as a request length. */
export function checkBytes(dev: DeviceGate, op: BlockOp, data: unknown): asserts data is Uint8Array {
  checkOpen(dev, op);
  if (!(data instanceof Uint8Array)) {
    throw new FerryError('INVALID_ARGUMENT', `block device ${op}: data must be a Buffer or Uint8Array`, {
      op,
    });
  }
}

/** Validates a device's geometry at construction (control path: throws INVALID_ARGUMENT). */
export function checkGeometry(sizeBytes: number, blockBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes > LIMITS.MAX_FILE_BYTES) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `block device size must be an integer from 1 to MAX_FILE_BYTES (${LIMITS.MAX_FILE_BYTES}), got ${sizeBytes}`,
      { sizeBytes },
    );
  }
  if (!isValidBlockBytes(blockBytes)) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `block device blockBytes must be a power of two from 512 to 65536, got ${blockBytes}`,
      { blockBytes },
    );
  }
}

export function isValidBlockBytes(blockBytes: number): boolean {
  return (
    Number.isSafeInteger(blockBytes) &&
    blockBytes >= MIN_BLOCK_BYTES &&
    blockBytes <= MAX_BLOCK_BYTES &&
    (blockBytes & (blockBytes - 1)) === 0
  );
}

/** Bounds of BlockDevice.blockBytes, from the contract. */
export const MIN_BLOCK_BYTES = 512;
export const MAX_BLOCK_BYTES = 65536;
/** blockBytes when the backend has no better answer: the page size of common hosts. */
export const DEFAULT_BLOCK_BYTES = 4096;

function isByteCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
