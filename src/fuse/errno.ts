/**
 * FerryError code -> errno, for replies to the kernel.
 *
 * Why one table: a caller of the mount sees only errno, so each backend failure must map to the one a
 * local filesystem would give (`cp` to a full quota says "No space left on device", not "I/O error").
 * Anything not listed (a lost server, a timeout, a bug) is EIO: never a generic -1 (EPERM).
 */
import { isFerryError, type ErrorCode } from '../core/index.js';
import { ERRNO } from './native.js';

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  NOT_FOUND: ERRNO.ENOENT,
  EXISTS: ERRNO.EEXIST,
  NO_SPACE: ERRNO.ENOSPC,
  READ_ONLY: ERRNO.EROFS,
  NAME_TOO_LONG: ERRNO.ENAMETOOLONG,
  BAD_NAME: ERRNO.EINVAL,
  INVALID_ARGUMENT: ERRNO.EINVAL,
  BAD_HANDLE: ERRNO.EBADF,
  OUT_OF_RANGE: ERRNO.EFBIG,
  NOT_SUPPORTED: ERRNO.EOPNOTSUPP,
  NOT_A_FOLDER: ERRNO.ENOTDIR,
  IS_A_FOLDER: ERRNO.EISDIR,
};

/** The negative errno to reply for `err` (EIO for anything unexpected). */
export function errnoOf(err: unknown): number {
  if (!isFerryError(err)) return -ERRNO.EIO;
  return -(BY_CODE[err.code] ?? ERRNO.EIO);
}
