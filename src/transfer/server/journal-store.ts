/**
 * Reads and atomically replaces an upload's resume journal through the FlatFs interface.
 *
 * Why: the journal's promise is "what I claim is durable". It is written under a temporary name,
 * fsynced, then renamed over the old journal (rename is atomic and durable when it resolves), so a
 * crash at any instant leaves either the previous claim or the new one.
 */
import { isFerryError } from '../../core/errors.js';
import type { FlatFs } from '../../flatfs/types.js';
import {
  decodeJournal,
  encodeJournal,
  JOURNAL_HEADER_BYTES,
  type JournalRecord,
} from '../../wire/transfer/index.js';

export async function writeJournal(
  fs: FlatFs,
  name: string,
  tmpName: string,
  rec: JournalRecord,
): Promise<void> {
  const buf = Buffer.allocUnsafe(JOURNAL_HEADER_BYTES + rec.bitmap.length);
  const n = encodeJournal(rec, buf);
  const h = await fs.create(tmpName);
  try {
    await fs.write(h, 0, buf.subarray(0, n));
    await fs.fsync(h);
  } finally {
    await fs.closeFile(h);
  }
  await fs.rename(tmpName, name);
}

/** The journal, or null when it is missing or not intact. */
export async function readJournal(fs: FlatFs, name: string): Promise<JournalRecord | null> {
  let h: number;
  try {
    h = await fs.open(name);
  } catch (err) {
    if (isFerryError(err, 'NOT_FOUND')) return null;
    throw err;
  }
  try {
    const { sizeBytes } = await fs.fstat(h);
    if (sizeBytes > JOURNAL_HEADER_BYTES + (1 << 20)) return null;
    return decodeJournal(await fs.read(h, 0, sizeBytes));
  } finally {
    await fs.closeFile(h);
  }
}

/** Removes a file if it exists (journals, part files). */
export async function removeQuietly(fs: FlatFs, name: string): Promise<void> {
  try {
    await fs.unlink(name);
  } catch (err) {
    if (!isFerryError(err, 'NOT_FOUND')) throw err;
  }
}
