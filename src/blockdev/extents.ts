/**
 * Building extent lists: every backend reports extents in order, covering the asked range, with
 * neighbours of the same kind merged, so callers (the transfer engine skipping holes, NBD block
 * status) get the shortest list and never two adjacent entries that say the same thing.
 */
import type { BlockExtent } from './types.js';

/** Appends an extent, merging it into the previous one when both are of the same kind and touch. */
export function pushExtent(out: BlockExtent[], offset: number, length: number, hole: boolean): void {
  if (length === 0) return;
  const prev = out[out.length - 1];
  if (prev && prev.hole === hole && prev.offset + prev.length === offset) {
    prev.length += length;
    return;
  }
  out.push({ offset, length, hole });
}
