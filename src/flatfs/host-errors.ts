/**
 * Host filesystem errors (Node errno codes) turned into ferry's stable codes, for the directory
 * backend.
 *
 * Why: callers branch on FerryError codes, never on errno strings; a disk-full host must look like
 * a full quota (NO_SPACE), a missing file like NOT_FOUND, whatever the host platform.
 */
import { FerryError, type ErrorCode } from '../core/errors.js';

const BY_ERRNO: Readonly<Record<string, ErrorCode>> = {
  ENOENT: 'NOT_FOUND',
  ENOTDIR: 'NOT_FOUND',
  ELOOP: 'NOT_FOUND',
  EEXIST: 'EXISTS',
  ENOTEMPTY: 'EXISTS',
  EISDIR: 'EXISTS',
  ENOSPC: 'NO_SPACE',
  EDQUOT: 'NO_SPACE',
  EROFS: 'READ_ONLY',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  ENAMETOOLONG: 'NAME_TOO_LONG',
  EFBIG: 'OUT_OF_RANGE',
  EMFILE: 'LIMIT_EXCEEDED',
  ENFILE: 'LIMIT_EXCEEDED',
};

export function errnoOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
}

/** A FerryError for a failed host call; FerryErrors pass through unchanged. */
export function hostError(err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err;
  const errno = errnoOf(err);
  const reason = err instanceof Error ? err.message : String(err);
  return new FerryError(BY_ERRNO[errno] ?? 'IO_ERROR', `${what}: ${reason}`, { errno }, err);
}
