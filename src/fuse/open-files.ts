/**
 * The files open through the mount: FUSE file handle -> backend handle and current name.
 *
 * Why a table of our own: fuse-native carries handles as positive int32 and treats 0 as "none",
 * while a FlatFs handle is any number; and the adapter must know which names are open, because
 * libfuse unlinks an open file by renaming it to `.fuse_hiddenXXXXXXXXXXXXXXXX` and removing that name
 * on the last close. The adapter turns that rename into a real unlink in the backend (the backend
 * keeps the open handles valid, POSIX-style) and remembers the hidden name here, so the file vanishes
 * from listings at once and the hidden name never reaches the backend.
 */
import type { FileHandle } from '../flatfs/types.js';

export interface OpenFile {
  readonly backend: FileHandle;
  /** Current name; for an unlinked file, the `.fuse_hidden...` name libfuse gave it. */
  name: string;
  /** True once the file was unlinked while open. */
  unlinked: boolean;
}

/** libfuse 2's name for an open file that was unlinked (see hide_node in libfuse's fuse.c). */
const FUSE_HIDDEN_NAME = /^\.fuse_hidden[0-9a-f]{16}$/;

export function isFuseHiddenName(name: string): boolean {
  return FUSE_HIDDEN_NAME.test(name);
}

/** fuse-native reads handles as int32 and ignores 0. */
const MAX_FH = 0x7fff_ffff;

export class OpenFiles {
  private readonly byFh = new Map<number, OpenFile>();
  /** Open files by current name (lookups run on every getattr, so no scan of all open files). */
  private readonly byName = new Map<string, Set<OpenFile>>();
  private nextFh = 1;

  constructor(private readonly maxOpen: number) {}

  get size(): number {
    return this.byFh.size;
  }

  /** Registers an open backend handle; returns its FUSE handle, or 0 when the table is full. */
  add(backend: FileHandle, name: string): number {
    if (this.byFh.size >= this.maxOpen) return 0;
    while (this.byFh.has(this.nextFh)) this.advance();
    const fh = this.nextFh;
    this.advance();
    const f: OpenFile = { backend, name, unlinked: false };
    this.byFh.set(fh, f);
    this.index(f);
    return fh;
  }

  get(fh: number): OpenFile | undefined {
    return this.byFh.get(fh);
  }

  remove(fh: number): OpenFile | undefined {
    const f = this.byFh.get(fh);
    if (f === undefined) return undefined;
    this.byFh.delete(fh);
    this.unindex(f);
    return f;
  }

  /** Some open file currently called `name` (unlinked ones answer to their hidden name). */
  findByName(name: string): OpenFile | undefined {
    const set = this.byName.get(name);
    if (set === undefined) return undefined;
    for (const f of set) return f;
    return undefined;
  }

  /** After a rename in the backend: open files of `from` are now called `to`. */
  renamed(from: string, to: string): void {
    this.moveLinked(from, to, false);
  }

  /** After an unlink in the backend: open files of `name` answer to `hiddenName` only. */
  hide(name: string, hiddenName: string): void {
    this.moveLinked(name, hiddenName, true);
  }

  /** Every open backend handle (to close them all at unmount). */
  backendHandles(): FileHandle[] {
    return [...this.byFh.values()].map((f) => f.backend);
  }

  clear(): void {
    this.byFh.clear();
    this.byName.clear();
  }

  private moveLinked(from: string, to: string, unlink: boolean): void {
    const set = this.byName.get(from);
    if (set === undefined) return;
    for (const f of [...set]) {
      if (f.unlinked) continue;
      this.unindex(f);
      f.name = to;
      f.unlinked = unlink;
      this.index(f);
    }
  }

  private index(f: OpenFile): void {
    let set = this.byName.get(f.name);
    if (set === undefined) {
      set = new Set();
      this.byName.set(f.name, set);
    }
    set.add(f);
  }

  private unindex(f: OpenFile): void {
    const set = this.byName.get(f.name);
    if (set === undefined) return;
    set.delete(f);
    if (set.size === 0) this.byName.delete(f.name);
  }

  private advance(): void {
    this.nextFh = this.nextFh >= MAX_FH ? 1 : this.nextFh + 1;
  }
}
