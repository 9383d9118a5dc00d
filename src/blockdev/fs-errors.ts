/**
 * Host file system errors (Node `errno` codes) turned into ferry's stable codes.
 *
 * Why: callers of a block device branch on FerryError codes, whatever backend serves them; a raw
 * ENOSPC or EROFS leaking out would make the file backend behave differently from the others.
 */
import { FerryError, type ErrorCode } from '../core/errors.js';

const BY_ERRNO: Readonly<Record<string, ErrorCode>> = {
  ENOENT: 'NOT_FOUND',
  EEXIST: 'EXISTS',
  ENOSPC: 'NO_SPACE',
  EDQUOT: 'NO_SPACE',
  EFBIG: 'NO_SPACE',
  EROFS: 'READ_ONLY',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  EISDIR: 'INVALID_ARGUMENT',
  ENOTDIR: 'INVALID_ARGUMENT',
};

/** Wraps a host error: `what` says what was being done and to which path. */
export function fromFsError(err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err;
  const errno = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const code = BY_ERRNO[errno] ?? 'IO_ERROR';
  const reason = err instanceof Error ? err.message : String(err);
  return new FerryError(code, `${what}: ${reason}`, { errno }, err);
}
