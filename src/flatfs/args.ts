/**
 * Range checks for offsets, lengths and sizes, shared by every backend.
 *
 * Why: each request must be refused before it touches storage when a number is not a byte count
 * (negative, fractional, NaN) or would take a file past LIMITS.MAX_FILE_BYTES, and one I/O request
 * may not exceed LIMITS.MAX_IO_BYTES; the same check in every backend gives the same error codes.
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';

function checkByteCount(what: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new FerryError('INVALID_ARGUMENT', `${what} must be a non-negative integer, got ${String(value)}`, {
      [what]: value,
    });
  }
}

/** A file size (truncate, create): 0..MAX_FILE_BYTES. */
export function checkFileSize(sizeBytes: unknown): asserts sizeBytes is number {
  checkByteCount('sizeBytes', sizeBytes);
  if (sizeBytes > LIMITS.MAX_FILE_BYTES) {
    throw new FerryError(
      'OUT_OF_RANGE',
      `sizeBytes ${sizeBytes} is past the largest file size ${LIMITS.MAX_FILE_BYTES}: use a smaller size`,
      { sizeBytes, maxFileBytes: LIMITS.MAX_FILE_BYTES },
    );
  }
}

/** An I/O request at `offset` of `lengthBytes`: length within MAX_IO_BYTES, end within MAX_FILE_BYTES. */
export function checkIo(offset: unknown, lengthBytes: unknown): asserts offset is number {
  checkByteCount('offset', offset);
  checkByteCount('lengthBytes', lengthBytes);
  if (lengthBytes > LIMITS.MAX_IO_BYTES) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `one request moves at most ${LIMITS.MAX_IO_BYTES} bytes, got ${lengthBytes}: split it`,
      { lengthBytes, maxIoBytes: LIMITS.MAX_IO_BYTES },
    );
  }
  if (offset + lengthBytes > LIMITS.MAX_FILE_BYTES) {
    throw new FerryError(
      'OUT_OF_RANGE',
      `offset ${offset} + length ${lengthBytes} is past the largest file size ${LIMITS.MAX_FILE_BYTES}`,
      { offset, lengthBytes, maxFileBytes: LIMITS.MAX_FILE_BYTES },
    );
  }
}

/** The data argument of write/append/readInto. */
export function checkBytes(what: string, data: unknown): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new FerryError('INVALID_ARGUMENT', `${what} must be a Buffer or Uint8Array`);
  }
}

/** A quota: a non-negative integer count of bytes. */
export function checkQuota(quotaBytes: unknown): asserts quotaBytes is number {
  if (typeof quotaBytes === 'number' && Number.isSafeInteger(quotaBytes) && quotaBytes >= 0) return;
  throw new FerryError(
    'INVALID_ARGUMENT',
    `quotaBytes must be a non-negative integer (the most bytes all files may hold), got ${String(quotaBytes)}`,
  );
}

/** A file time: finite ms since the epoch. */
export function checkTime(what: string, timeMs: unknown): asserts timeMs is number {
  if (typeof timeMs === 'number' && Number.isFinite(timeMs)) return;
  throw new FerryError('INVALID_ARGUMENT', `${what} must be a finite number of ms since the epoch`);
}

/** Permission bits of a file: 0..0o777 (no setuid, setgid or sticky bit: an upload may not ask for them). */
export function checkMode(mode: unknown): asserts mode is number {
  if (typeof mode === 'number' && Number.isInteger(mode) && mode >= 0 && mode <= 0o777) return;
  throw new FerryError(
    'INVALID_ARGUMENT',
    `mode must be permission bits 0..0o777, got ${String(mode)}: mask it with 0o777`,
  );
}
