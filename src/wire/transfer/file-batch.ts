/**
 * The `files` field of UPLOAD_FILES (and of DOWNLOAD_FILES replies, asked for by a name list):
 * several whole small files in one message, each with what its
 * single-file upload would have carried (name, permission bits, times, whole-file xxhash64, bytes).
 *
 * Why: a small file sent alone costs its own begin, block and commit round trips; a tree of many
 * small files is then bound by round trips, not bytes. One message carries up to
 * FILE_BATCH_MAX_FILES files and FILE_BATCH_MAX_BYTES of records.
 *
 * ```
 *  u32 count, then per file:
 *  0        4                12               20               28       32     34
 *  +--------+----------------+----------------+----------------+--------+------+------+------+
 *  |  mode  |  mtimeMs (f64) |  atimeMs (f64) |  hash (h64)    |dataLen |nameLen| name | data |
 *  +--------+----------------+----------------+----------------+--------+------+------+------+
 * ```
 * Little-endian. The decoder checks the count against the limits and the bytes present before it
 * builds anything; each file's data is a view into the message (no copy).
 */
import { FerryError } from '../../core/errors.js';

/** Most files in one UPLOAD_FILES message. */
export const FILE_BATCH_MAX_FILES = 256;
/** Most bytes of records (count included) in one UPLOAD_FILES message. */
export const FILE_BATCH_MAX_BYTES = 4 * 1024 * 1024;
/** Bytes of a record before its name and data. */
export const FILE_RECORD_FIXED_BYTES = 4 + 8 + 8 + 8 + 4 + 2;

export interface BatchFile {
  name: string;
  /** Permission bits (mode & 0o777). */
  mode: number;
  mtimeMs: number;
  atimeMs: number;
  /** xxhash64 of `data`. */
  hash: bigint;
  data: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(what: string): never {
  throw new FerryError('MALFORMED', `malformed file batch: ${what}`);
}

/** Bytes one file takes in a batch's records. */
export function batchRecordBytes(nameBytes: number, dataBytes: number): number {
  return FILE_RECORD_FIXED_BYTES + nameBytes + dataBytes;
}

/** Encodes files into one `files` field; throws LIMIT_EXCEEDED past the batch limits. */
export function encodeFileBatch(files: readonly BatchFile[]): Buffer {
  if (files.length > FILE_BATCH_MAX_FILES) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `${files.length} files in one batch: at most ${FILE_BATCH_MAX_FILES}`,
    );
  }
  let size = 4;
  for (const f of files) size += batchRecordBytes(Buffer.byteLength(f.name, 'utf8'), f.data.length);
  if (size > FILE_BATCH_MAX_BYTES) {
    throw new FerryError('LIMIT_EXCEEDED', `a batch of ${size} bytes: at most ${FILE_BATCH_MAX_BYTES}`);
  }
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(files.length, 0);
  let pos = 4;
  for (const f of files) {
    buf.writeUInt32LE(f.mode, pos);
    buf.writeDoubleLE(f.mtimeMs, pos + 4);
    buf.writeDoubleLE(f.atimeMs, pos + 12);
    buf.writeBigUInt64LE(f.hash, pos + 20);
    buf.writeUInt32LE(f.data.length, pos + 28);
    const n = buf.write(f.name, pos + FILE_RECORD_FIXED_BYTES, 'utf8');
    if (n > 0xffff) throw new FerryError('BAD_NAME', `a name of ${n} bytes cannot be sent`);
    buf.writeUInt16LE(n, pos + 32);
    pos += FILE_RECORD_FIXED_BYTES + n;
    buf.set(f.data, pos);
    pos += f.data.length;
  }
  return buf;
}

/** Decodes a `files` field; data are views into `buf`. Throws MALFORMED or LIMIT_EXCEEDED. */
export function decodeFileBatch(buf: Buffer): BatchFile[] {
  if (buf.length < 4) malformed('no count');
  if (buf.length > FILE_BATCH_MAX_BYTES) {
    throw new FerryError('LIMIT_EXCEEDED', `a batch of ${buf.length} bytes: at most ${FILE_BATCH_MAX_BYTES}`);
  }
  const count = buf.readUInt32LE(0);
  if (count > FILE_BATCH_MAX_FILES) {
    throw new FerryError('LIMIT_EXCEEDED', `${count} files in one batch: at most ${FILE_BATCH_MAX_FILES}`);
  }
  if (count * FILE_RECORD_FIXED_BYTES > buf.length - 4)
    malformed(`count ${count} larger than the bytes present`);
  const out: BatchFile[] = [];
  let pos = 4;
  for (let i = 0; i < count; i++) {
    if (pos + FILE_RECORD_FIXED_BYTES > buf.length) malformed('record runs past the end');
    const mode = buf.readUInt32LE(pos);
    const mtimeMs = buf.readDoubleLE(pos + 4);
    const atimeMs = buf.readDoubleLE(pos + 12);
    const hash = buf.readBigUInt64LE(pos + 20);
    const dataLen = buf.readUInt32LE(pos + 28);
    const nameLen = buf.readUInt16LE(pos + 32);
    pos += FILE_RECORD_FIXED_BYTES;
    if (pos + nameLen + dataLen > buf.length) malformed('record runs past the end');
    let name: string;
    try {
      name = utf8.decode(buf.subarray(pos, pos + nameLen));
    } catch {
      return malformed('name is not valid UTF-8');
    }
    pos += nameLen;
    out.push({ name, mode, mtimeMs, atimeMs, hash, data: buf.subarray(pos, pos + dataLen) });
    pos += dataLen;
  }
  if (pos !== buf.length) malformed('trailing bytes');
  return out;
}

/** Encodes the name list of DOWNLOAD_FILES: u32 count, then u16 length + UTF-8 name each. */
export function encodeNameList(names: readonly string[]): Buffer {
  if (names.length > FILE_BATCH_MAX_FILES) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `${names.length} names in one batch: at most ${FILE_BATCH_MAX_FILES}`,
    );
  }
  let size = 4;
  for (const n of names) size += 2 + Buffer.byteLength(n, 'utf8');
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(names.length, 0);
  let pos = 4;
  for (const n of names) {
    const len = buf.write(n, pos + 2, 'utf8');
    if (len > 0xffff) throw new FerryError('BAD_NAME', `a name of ${len} bytes cannot be sent`);
    buf.writeUInt16LE(len, pos);
    pos += 2 + len;
  }
  return buf;
}

/** Decodes a DOWNLOAD_FILES name list. Throws MALFORMED or LIMIT_EXCEEDED. */
export function decodeNameList(buf: Buffer): string[] {
  if (buf.length < 4) malformed('no count');
  const count = buf.readUInt32LE(0);
  if (count > FILE_BATCH_MAX_FILES) {
    throw new FerryError('LIMIT_EXCEEDED', `${count} names in one batch: at most ${FILE_BATCH_MAX_FILES}`);
  }
  if (count * 2 > buf.length - 4) malformed(`count ${count} larger than the bytes present`);
  const out: string[] = [];
  let pos = 4;
  for (let i = 0; i < count; i++) {
    if (pos + 2 > buf.length) malformed('name runs past the end');
    const n = buf.readUInt16LE(pos);
    pos += 2;
    if (pos + n > buf.length) malformed('name runs past the end');
    try {
      out.push(utf8.decode(buf.subarray(pos, pos + n)));
    } catch {
      malformed('name is not valid UTF-8');
    }
    pos += n;
  }
  if (pos !== buf.length) malformed('trailing bytes');
  return out;
}
