/**
 * The numbered-handle table every flat-filesystem backend uses.
 *
 * Why: callers (the transfer server, the FUSE adapter, a remote client) hold plain numbers, which
 * must be checked on every use: an unknown or closed number is BAD_HANDLE, never another file's
 * data. Numbers are never reused within one table's life, so a stale handle cannot alias a newer
 * file. The count of open handles is bounded by LIMITS.MAX_OPEN_FILES.
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import type { FileHandle } from './types.js';

export interface HandleEntry {
  /** Opened for writing (create, or open with { write: true }). */
  readonly writable: boolean;
}

export class HandleTable<E extends HandleEntry> {
  private readonly byHandle = new Map<FileHandle, E>();
  private nextHandle = 1;
  readonly maxOpen: number;

  constructor(maxOpen: number = LIMITS.MAX_OPEN_FILES) {
    if (!Number.isSafeInteger(maxOpen) || maxOpen < 1 || maxOpen > LIMITS.MAX_OPEN_FILES) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        `maxOpenFiles must be an integer in 1..${LIMITS.MAX_OPEN_FILES}, got ${maxOpen}`,
      );
    }
    this.maxOpen = maxOpen;
  }

  get size(): number {
    return this.byHandle.size;
  }

  /** Throws LIMIT_EXCEEDED when the table is full; call before acquiring anything for the entry. */
  ensureRoom(): void {
    if (this.byHandle.size < this.maxOpen) return;
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `${this.maxOpen} files are open already (MAX_OPEN_FILES): close some handles first`,
      { maxOpenFiles: this.maxOpen },
    );
  }

  add(entry: E): FileHandle {
    this.ensureRoom();
    const handle = this.nextHandle++;
    this.byHandle.set(handle, entry);
    return handle;
  }

  get(handle: FileHandle): E {
    const entry = typeof handle === 'number' ? this.byHandle.get(handle) : undefined;
    if (entry === undefined) {
      throw new FerryError('BAD_HANDLE', `file handle ${String(handle)} is not open: open the file again`, {
        handle,
      });
    }
    return entry;
  }

  /** The entry, refused with BAD_HANDLE unless the handle was opened for writing. */
  getWritable(handle: FileHandle): E {
    const entry = this.get(handle);
    if (entry.writable) return entry;
    throw new FerryError(
      'BAD_HANDLE',
      `file handle ${handle} was opened read-only: open the file with { write: true } to change it`,
      { handle },
    );
  }

  /** Removes and returns the entry (BAD_HANDLE if not open). */
  remove(handle: FileHandle): E {
    const entry = this.get(handle);
    this.byHandle.delete(handle);
    return entry;
  }

  /** Every open entry (a snapshot). */
  entries(): E[] {
    return [...this.byHandle.values()];
  }

  /** Removes and returns every entry. */
  drain(): E[] {
    const all = [...this.byHandle.values()];
    this.byHandle.clear();
    return all;
  }
}
