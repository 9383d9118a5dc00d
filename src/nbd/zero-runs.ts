/**
 * Finds the all-zero stretches of a read, so a structured READ reply can send them as
 * NBD_REPLY_TYPE_OFFSET_HOLE chunks (12 bytes) instead of the zeros themselves.
 *
 * Why look at the data rather than ask the device for extents: the answer "reads as zeros" is
 * exactly what a hole chunk promises, it costs no second device call (a file device would read the
 * range twice to find zeros; a remote one would add a round trip), and a block of random data is
 * rejected at its first byte. Only runs of at least `minRunBytes`, on `grainBytes` boundaries of
 * the export, count: short runs are cheaper to send than to describe.
 */

/** One piece of a read: data to send, or a hole (all zeros). Offsets are relative to the read. */
export interface ReadPiece {
  start: number;
  length: number;
  hole: boolean;
}

const ZERO_GRAIN = Buffer.alloc(4096);

/**
 * Splits `data[0, length)` (the bytes of the export at `exportOffset`) into data and hole pieces,
 * in order, covering it. Holes are runs of whole zero grains (grainBytes <= 4096, a power of two,
 * aligned to the export) at least `minRunBytes` long.
 */
export function splitZeroRuns(
  data: Buffer,
  length: number,
  exportOffset: number,
  grainBytes: number,
  minRunBytes: number,
): ReadPiece[] {
  const pieces: ReadPiece[] = [];
  let dataStart = 0;
  let runStart = -1;
  // First grain boundary of the export inside the read.
  let p = (grainBytes - (exportOffset % grainBytes)) % grainBytes;
  const closeRun = (end: number): void => {
    if (runStart >= 0 && end - runStart >= minRunBytes) {
      if (runStart > dataStart) pieces.push({ start: dataStart, length: runStart - dataStart, hole: false });
      pieces.push({ start: runStart, length: end - runStart, hole: true });
      dataStart = end;
    }
    runStart = -1;
  };
  for (; p + grainBytes <= length; p += grainBytes) {
    const zero = data[p] === 0 && data.compare(ZERO_GRAIN, 0, grainBytes, p, p + grainBytes) === 0;
    if (zero && runStart < 0) runStart = p;
    else if (!zero) closeRun(p);
  }
  closeRun(p);
  if (dataStart < length) pieces.push({ start: dataStart, length: length - dataStart, hole: false });
  return pieces;
}
