/**
 * The flat filesystem interface: one namespace of files, no directories.
 *
 * Every backend (memory, host directory, and the remote client over ferry's wire) implements this
 * one interface and passes the one compliance suite in test/unit/flatfs/compliance.ts.
 *
 * Semantics, for every implementation:
 * - Names are keys, as in an object store: segments joined by `/` (`photos/2026/img.jpg`), UTF-8,
 *   1..MAX_NAME_BYTES in all and 1..MAX_SEGMENT_BYTES per segment, no empty, `.` or `..` segment,
 *   no leading or trailing `/`, no NUL (BAD_NAME / NAME_TOO_LONG; see names.ts).
 *   Names that start with HIDDEN_PREFIX are internal (temporary files and journals of transfers in
 *   progress): they are valid, but `list` leaves them out unless asked, and servers refuse them in
 *   user requests.
 * - No directory objects exist. A folder is a prefix ending in `/` that some file's name starts
 *   with: it exists while it holds a file, and goes with its last file. A name cannot be both a
 *   file and a folder: creating `a/b` (create, or rename onto it) while `a` is a file fails with
 *   NOT_A_FOLDER; creating `a` while files `a/...` exist fails with IS_A_FOLDER. Lookups of a name
 *   that is not a file (stat, open, unlink...) are NOT_FOUND, whatever the name's folders hold.
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

/** Permission bits of a new file (an upload then takes its source's). */
export const NEW_FILE_MODE = 0o644;
/** Permission bits of a new hidden file (part files, journals): the server's user's alone. */
export const HIDDEN_FILE_MODE = 0o600;

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
  /**
   * Permission bits (mode & 0o777), where the backend keeps them (memory and directory do; new
   * files are 0o644, hidden transfer files 0o600). Absent from remote stats.
   */
  mode?: number;
}

/**
 * What `list` returns, as S3's ListObjectsV2: the names that start with `prefix`, in UTF-8 byte
 * order; with `delimiter: '/'`, the names below the next `/` after the prefix are rolled up into
 * one folder each (`prefixes`, like CommonPrefixes), so one call lists one level of one folder.
 *
 * @example
 * // The top level of folder photos/: files photos/x.jpg and folders photos/2026/, page by page.
 * let cursor: string | undefined;
 * do {
 *   const page = await fs.list({ prefix: 'photos/', delimiter: '/', cursor, limit: 1000 });
 *   for (const f of page.entries) console.log(f.name, f.sizeBytes);
 *   for (const folder of page.prefixes ?? []) console.log(folder);
 *   cursor = page.nextCursor ?? undefined;
 * } while (cursor !== undefined);
 */
export interface ListOptions {
  /**
   * Only names after this one, in UTF-8 byte order: a valid name, or a folder (name + `/`). With
   * `delimiter: '/'` a folder cursor also skips everything inside that folder (the folder was the
   * last item of the page before); without a delimiter `a/x` still follows `a/`, as bytes do. A
   * page's `nextCursor` is the continuation token, and any name works as S3's StartAfter.
   */
  cursor?: string;
  /** At most this many entries and prefixes together (default and ceiling: LIMITS.MAX_LIST_PAGE). */
  limit?: number;
  /** Include HIDDEN_PREFIX names (default false). */
  includeHidden?: boolean;
  /** Only names that start with this string (default ''): `photos/` for the folder photos. */
  prefix?: string;
  /**
   * `/` to roll the names below the next `/` after `prefix` up into `prefixes` (one level of one
   * folder); absent for every name under `prefix`, at any depth. No other delimiter is supported.
   */
  delimiter?: '/';
}

export interface ListPage {
  /** Files, sorted by name (by UTF-8 bytes). */
  entries: FileStat[];
  /**
   * Folders (with `delimiter`): each distinct `prefix + segment + '/'` that holds files, sorted.
   * Always present from the memory and directory backends (empty without a delimiter); optional
   * only so that clients of older servers still type-check.
   */
  prefixes?: string[];
  /**
   * Pass as `cursor` to get the next page; null when this page is the last. It is the last entry
   * or prefix of this page, whichever sorts later.
   */
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
  /** Longest name (whole key), in UTF-8 bytes: LIMITS.MAX_NAME_BYTES. */
  maxNameBytes: number;
  /**
   * Longest segment of a name, in UTF-8 bytes: LIMITS.MAX_SEGMENT_BYTES (what a mount reports as
   * its `namemax`). Optional only for clients of servers that do not send it yet.
   */
  maxSegmentBytes?: number;
  readOnly: boolean;
  /**
   * Unfinished uploads on a ferry server and the bytes their part files hold (they count in
   * usedBytes); only from a server's STATFS, absent from local backends and servers from before.
   */
  partUploads?: number;
  partBytes?: number;
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
  /**
   * Sets an open file's permission bits (mode & 0o777; other bits are refused with
   * INVALID_ARGUMENT). Optional: backends without modes leave it out, and uploads land as they are.
   */
  fchmod?(handle: FileHandle, mode: number): Promise<void>;
  /**
   * Sets an open file's access and modification times (ms since the epoch). Optional: without it,
   * callers use setTimes by name (which waits for the namespace where a backend orders renames).
   */
  futimes?(handle: FileHandle, atimeMs: number, mtimeMs: number): Promise<void>;
  statfs(): Promise<FsStat>;
  /** Closes every handle and releases the backend; later calls fail with CLOSED. */
  close(): Promise<void>;
}
