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
    this.byFh.set(fh, { backend, name, unlinked: false });
    return fh;
  }

  get(fh: number): OpenFile | undefined {
    return this.byFh.get(fh);
  }

  remove(fh: number): OpenFile | undefined {
    const f = this.byFh.get(fh);
    this.byFh.delete(fh);
    return f;
  }

  /** Some open file currently called `name` (unlinked ones answer to their hidden name). */
  findByName(name: string): OpenFile | undefined {
    for (const f of this.byFh.values()) if (f.name === name) return f;
    return undefined;
  }

  /** After a rename in the backend: open files of `from` are now called `to`. */
  renamed(from: string, to: string): void {
    for (const f of this.byFh.values()) if (f.name === from && !f.unlinked) f.name = to;
  }

  /** After an unlink in the backend: open files of `name` answer to `hiddenName` only. */
  hide(name: string, hiddenName: string): void {
    for (const f of this.byFh.values()) {
      if (f.name === name && !f.unlinked) {
        f.name = hiddenName;
        f.unlinked = true;
      }
    }
  }

  /** Every open backend handle (to close them all at unmount). */
  backendHandles(): FileHandle[] {
    return [...this.byFh.values()].map((f) => f.backend);
  }

  clear(): void {
    this.byFh.clear();
  }

  private advance(): void {
    this.nextFh = this.nextFh >= MAX_FH ? 1 : this.nextFh + 1;
  }
}
