/**
 * Maps ferry's error codes to the few error values NBD allows on the wire.
 *
 * Why one table: the block device (local or remote) fails with FerryError codes; NBD clients
 * understand only EPERM, EIO, ENOMEM, EINVAL, ENOSPC, EOVERFLOW, ENOTSUP and ESHUTDOWN. Anything
 * unexpected becomes EIO, which every client reports as an I/O error rather than a protocol fault.
 */
import { isFerryError, type ErrorCode } from '../core/index.js';
import { NBD_EINVAL, NBD_EIO, NBD_ENOSPC, NBD_EPERM, NBD_ESHUTDOWN } from './constants.js';

const ERRNO_OF: Partial<Record<ErrorCode, number>> = {
  OUT_OF_RANGE: NBD_EINVAL,
  INVALID_ARGUMENT: NBD_EINVAL,
  LIMIT_EXCEEDED: NBD_EINVAL,
  NOT_SUPPORTED: NBD_EINVAL,
  READ_ONLY: NBD_EPERM,
  PERMISSION_DENIED: NBD_EPERM,
  NO_SPACE: NBD_ENOSPC,
  CLOSED: NBD_ESHUTDOWN,
};

/** The NBD error value for a failure of a block device call. */
export function nbdErrnoOf(err: unknown): number {
  if (!isFerryError(err)) return NBD_EIO;
  return ERRNO_OF[err.code] ?? NBD_EIO;
}

/** A one-line message for the error chunk of a structured reply. */
export function nbdMessageOf(err: unknown): string {
  if (isFerryError(err)) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
