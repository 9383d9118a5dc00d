/**
 * The flat filesystem interface: one namespace of files, no directories.
 *
 * Every backend (memory, host directory, and the remote client over ferry's wire) implements this
 * one interface and passes the one compliance suite in test/unit/flatfs/compliance.ts.
 *
 * Semantics, for every implementation:
 * - Names are UTF-8, 1..255 bytes, no `/`, no NUL, not `.` or `..` (BAD_NAME / NAME_TOO_LONG).
 *   Names that start with HIDDEN_PREFIX are internal (temporary files and journals of transfers in
 *   progress): they are valid, but `list` leaves them out unless asked, and servers refuse them in
 *   user requests.
 * - Files are sparse: a write past the end extends the file, the gap reads as zeros.
 * - Handles: `open`/`create` return a numeric handle; it stays valid after the file is unlinked or
 *   renamed over (POSIX semantics) until `closeFile`.
 * - `rename` is atomic and replaces an existing target.
 * - Durability: data written to a handle is durable after `fsync(handle)` resolves; a `rename` is
 *   durable when it resolves (directory backend: the directory is fsynced).
 * - A read-only filesystem refuses every change with READ_ONLY.
 * - A quota bounds the total bytes of all files (logical sizes); a change that would pass it fails
 *   with NO_SPACE before anything is written.
 */

/** Names starting with this are internal to ferry (in-progress uploads, journals). */
export const HIDDEN_PREFIX = '.ferry~';

export type FileHandle = number;

export interface FileStat {
  name: string;
  sizeBytes: number;
  /** Last data change, ms since the epoch. */
  mtimeMs: number;
  /** Last access (as kept by the backend), ms since the epoch. */
  atimeMs: number;
  /** Last metadata change, ms since the epoch. */
  ctimeMs: number;
}

export interface ListOptions {
  /** Return entries with names after this one (from a previous page's `nextCursor`). */
  cursor?: string;
  /** At most this many entries (default and ceiling: LIMITS.MAX_LIST_PAGE). */
  limit?: number;
  /** Include HIDDEN_PREFIX names (default false). */
  includeHidden?: boolean;
}

export interface ListPage {
  /** Sorted by name (by UTF-8 bytes). */
  entries: FileStat[];
  /** Pass as `cursor` to get the next page; null when this page is the last. */
  nextCursor: string | null;
}

export interface CreateOptions {
  /** Fail with EXISTS if the name exists (default false: an existing file is truncated to 0). */
  exclusive?: boolean;
  /** Initial size (sparse), space counted against the quota up front. Default 0. */
  sizeBytes?: number;
}

export interface OpenOptions {
  /** Open for writing (default false). Refused with READ_ONLY on a read-only filesystem. */
  write?: boolean;
}

export interface FsStat {
  /** Quota or capacity in bytes. */
  totalBytes: number;
  usedBytes: number;
  freeBytes: number;
  files: number;
  maxNameBytes: number;
  readOnly: boolean;
}

export interface FlatFs {
  readonly readOnly: boolean;

  /** Creates (or truncates) a file and opens it for reading and writing. */
  create(name: string, opts?: CreateOptions): Promise<FileHandle>;
  /** Opens an existing file (NOT_FOUND if none). */
  open(name: string, opts?: OpenOptions): Promise<FileHandle>;
  closeFile(handle: FileHandle): Promise<void>;
  stat(name: string): Promise<FileStat>;
  fstat(handle: FileHandle): Promise<FileStat>;
  list(opts?: ListOptions): Promise<ListPage>;
  /** Reads up to `length` bytes at `offset`; shorter only at end of file. */
  read(handle: FileHandle, offset: number, length: number): Promise<Buffer>;
  /** Reads into `target` (zero-copy path); resolves to bytes read (short only at end of file). */
  readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number>;
  /** Writes `data` at `offset`, extending the file if needed. */
  write(handle: FileHandle, offset: number, data: Uint8Array): Promise<void>;
  /** Writes `data` at the current end of file; resolves to the offset it landed at. */
  append(handle: FileHandle, data: Uint8Array): Promise<number>;
  /** Sets the size of a file by name; growing adds zeros (sparse). */
  truncate(name: string, sizeBytes: number): Promise<void>;
  /** Sets the size of an open file. */
  ftruncate(handle: FileHandle, sizeBytes: number): Promise<void>;
  /** Atomically renames, replacing an existing `to`. */
  rename(from: string, to: string): Promise<void>;
  unlink(name: string): Promise<void>;
  /** Sets access and modification times. */
  setTimes(name: string, atimeMs: number, mtimeMs: number): Promise<void>;
  /** Makes the file's data and size durable. */
  fsync(handle: FileHandle): Promise<void>;
  statfs(): Promise<FsStat>;
  /** Closes every handle and releases the backend; later calls fail with CLOSED. */
  close(): Promise<void>;
}
