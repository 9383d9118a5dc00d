/**
 * The resume journal: a small file beside a partial upload that says what of it is durable.
 *
 * Why: after a crash of either side, `--resume` must know which blocks need not be sent again. The
 * journal claims only what was fsynced before it was written, and it is replaced atomically
 * (written under a temporary name, then renamed over the old one), so a reader sees either the old
 * or the new claim, never a torn one; the checksum catches anything else (a bad journal is treated
 * as absent: the upload starts over, which is safe).
 *
 * ```
 *  0        4        5        6        8                16               24               32
 *  +--------+--------+--------+--------+----------------+----------------+----------------+
 *  | 'FRYJ' | version|  kind  |reserved| sizeBytes u64  | position u64   | sourceTag h64  |
 *  +--------+--------+--------+--------+----------------+----------------+----------------+
 *  32              36               40               44               48
 *  +----------------+----------------+----------------+----------------+--------...
 *  | blockBytes u32 | fileMode u32   | bitmapBytes u32| xxhash32       | bitmap
 *  +----------------+----------------+----------------+----------------+--------...
 * ```
 * - kind 1 (offset upload): sizeBytes = final size, position = block count, bitmap bit i (byte
 *   i>>3, LSB first) set = block i verified and durable.
 * - kind 2 (append sequence): sizeBytes = bytes applied and durable, position = next sequence
 *   number, blockBytes 0, no bitmap.
 * - xxhash32 (seed 0) covers bytes 0..44 and the bitmap. Little-endian throughout.
 */
import { createXxh32 } from '../../core/checksum.js';
import { FerryError } from '../../core/errors.js';

export const JOURNAL_MAGIC = 0x4a595246; // 'FRYJ' read as u32 LE
export const JOURNAL_VERSION = 1;
export const JOURNAL_KIND_OFFSET = 1;
export const JOURNAL_KIND_APPEND = 2;
export const JOURNAL_HEADER_BYTES = 48;

const OFF_MAGIC = 0;
const OFF_VERSION = 4;
const OFF_KIND = 5;
const OFF_SIZE = 8;
const OFF_POSITION = 16;
const OFF_SOURCE_TAG = 24;
const OFF_BLOCK_BYTES = 32;
const OFF_FILE_MODE = 36;
const OFF_BITMAP_BYTES = 40;
const OFF_CHECKSUM = 44;

export interface JournalRecord {
  kind: typeof JOURNAL_KIND_OFFSET | typeof JOURNAL_KIND_APPEND;
  sizeBytes: number;
  position: number;
  sourceTag: bigint;
  blockBytes: number;
  fileMode: number;
  /** Offset uploads: the verified-block bitmap; append: empty. */
  bitmap: Uint8Array;
}

function checksum(header: Uint8Array, bitmap: Uint8Array): number {
  return createXxh32(0).update(header.subarray(0, OFF_CHECKSUM)).update(bitmap).digest() >>> 0;
}

/** Encodes a journal into `out` (at least JOURNAL_HEADER_BYTES + bitmap length); returns bytes used. */
export function encodeJournal(rec: JournalRecord, out: Buffer): number {
  const total = JOURNAL_HEADER_BYTES + rec.bitmap.length;
  if (out.length < total) throw new FerryError('INTERNAL', 'journal buffer too small');
  out.writeUInt32LE(JOURNAL_MAGIC, OFF_MAGIC);
  out[OFF_VERSION] = JOURNAL_VERSION;
  out[OFF_KIND] = rec.kind;
  out.writeUInt16LE(0, 6);
  out.writeBigUInt64LE(BigInt(rec.sizeBytes), OFF_SIZE);
  out.writeBigUInt64LE(BigInt(rec.position), OFF_POSITION);
  out.writeBigUInt64LE(rec.sourceTag, OFF_SOURCE_TAG);
  out.writeUInt32LE(rec.blockBytes, OFF_BLOCK_BYTES);
  out.writeUInt32LE(rec.fileMode, OFF_FILE_MODE);
  out.writeUInt32LE(rec.bitmap.length, OFF_BITMAP_BYTES);
  out.set(rec.bitmap, JOURNAL_HEADER_BYTES);
  out.writeUInt32LE(checksum(out, rec.bitmap), OFF_CHECKSUM);
  return total;
}

/** Decodes a journal; returns null for anything that is not a whole, intact journal. */
export function decodeJournal(buf: Buffer): JournalRecord | null {
  if (buf.length < JOURNAL_HEADER_BYTES) return null;
  if (buf.readUInt32LE(OFF_MAGIC) !== JOURNAL_MAGIC || buf[OFF_VERSION] !== JOURNAL_VERSION) return null;
  const kind = buf[OFF_KIND];
  if (kind !== JOURNAL_KIND_OFFSET && kind !== JOURNAL_KIND_APPEND) return null;
  const bitmapBytes = buf.readUInt32LE(OFF_BITMAP_BYTES);
  if (buf.length !== JOURNAL_HEADER_BYTES + bitmapBytes) return null;
  const bitmap = buf.subarray(JOURNAL_HEADER_BYTES);
  if (buf.readUInt32LE(OFF_CHECKSUM) !== checksum(buf, bitmap)) return null;
  const sizeBytes = buf.readBigUInt64LE(OFF_SIZE);
  const position = buf.readBigUInt64LE(OFF_POSITION);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (sizeBytes > max || position > max) return null;
  return {
    kind,
    sizeBytes: Number(sizeBytes),
    position: Number(position),
    sourceTag: buf.readBigUInt64LE(OFF_SOURCE_TAG),
    blockBytes: buf.readUInt32LE(OFF_BLOCK_BYTES),
    fileMode: buf.readUInt32LE(OFF_FILE_MODE),
    bitmap: Buffer.from(bitmap),
  };
}
