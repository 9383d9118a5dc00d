/**
 * Folders made with `mkdir` that hold nothing yet, remembered by the mount for its lifetime.
 *
 * Why: the flat filesystem has no directory objects, a folder exists only while some key starts
 * with it. `mkdir d; cp f d/` must still work, so the mount remembers `d` (in memory, this mount
 * only) until `rmdir`; the first file created in it makes it real on the backend. A remembered
 * folder also keeps its parents visible (they hold it). Bounded by MAX_REMEMBERED_FOLDERS: more
 * `mkdir`s of empty folders fail with ENOSPC.
 */
import { SEPARATOR } from '../flatfs/names.js';

/** Empty folders one mount remembers at most. */
export const MAX_REMEMBERED_FOLDERS = 65_536;

export class RememberedFolders {
  private readonly keys = new Set<string>();

  constructor(private readonly max = MAX_REMEMBERED_FOLDERS) {}

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Remembers `key`; false when the set is full. */
  add(key: string): boolean {
    if (this.keys.has(key)) return true;
    if (this.keys.size >= this.max) return false;
    this.keys.add(key);
    return true;
  }

  delete(key: string): boolean {
    return this.keys.delete(key);
  }

  /** True when some remembered folder lies inside `key` (`` for the root). */
  anyUnder(key: string): boolean {
    const prefix = key === '' ? '' : key + SEPARATOR;
    for (const k of this.keys) if (k.startsWith(prefix) && k !== key) return true;
    return false;
  }

  /** The segments of remembered folders directly or indirectly inside `key`, one level deep. */
  childrenOf(key: string): Set<string> {
    const prefix = key === '' ? '' : key + SEPARATOR;
    const out = new Set<string>();
    for (const k of this.keys) {
      if (k === key || !k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const cut = rest.indexOf(SEPARATOR);
      out.add(cut < 0 ? rest : rest.slice(0, cut));
    }
    return out;
  }

  /** After folder `from` became `to`: `from` and everything remembered inside it move along. */
  moved(from: string, to: string): void {
    const prefix = from + SEPARATOR;
    for (const k of [...this.keys]) {
      if (k !== from && !k.startsWith(prefix)) continue;
      this.keys.delete(k);
      this.keys.add(to + k.slice(from.length));
    }
  }
}
