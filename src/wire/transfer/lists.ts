/**
 * Repeated records inside one reply: the entries of a LIST page, the extents of a block range and
 * the devices of BD_LIST. Each is a u32 count followed by that many records; the decoder checks the
 * count against the bytes present before building anything, so a lying count cannot make it
 * allocate.
 *
 * - list entry:   u64 sizeBytes | f64 mtimeMs | f64 atimeMs | f64 ctimeMs | u16 nameLen | name
 * - list folder:  u16 nameLen | name (a LIST page's `prefixes`, after its entries; see encodeListing)
 * - extent:       u64 offset | u64 length | u8 hole
 * - device:       u64 sizeBytes | u32 blockBytes | u8 readOnly | u16 nameLen | name
 */
import { FerryError } from '../../core/errors.js';

export interface WireFileStat {
  name: string;
  sizeBytes: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
}

export interface WireExtent {
  offset: number;
  length: number;
  hole: boolean;
}

export interface WireDevice {
  name: string;
  sizeBytes: number;
  blockBytes: number;
  readOnly: boolean;
}

const ENTRY_FIXED_BYTES = 8 + 8 + 8 + 8 + 2;
const EXTENT_BYTES = 17;
const DEVICE_FIXED_BYTES = 8 + 4 + 1 + 2;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(what: string): never {
  throw new FerryError('MALFORMED', `malformed record list: ${what}`);
}

function safe(big: bigint, what: string): number {
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) malformed(`${what} exceeds 2^53-1`);
  return Number(big);
}

class Reader {
  pos = 4;
  constructor(readonly buf: Buffer) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) malformed('record runs past the end');
  }
  str(): string {
    this.need(2);
    const n = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    this.need(n);
    try {
      return utf8.decode(this.buf.subarray(this.pos, (this.pos += n)));
    } catch {
      return malformed('name is not valid UTF-8');
    }
  }
}

function readCount(buf: Buffer, minRecordBytes: number): number {
  if (buf.length < 4) malformed('no count');
  const count = buf.readUInt32LE(0);
  if (count * minRecordBytes > buf.length - 4) malformed(`count ${count} larger than the bytes present`);
  return count;
}

export function encodeEntries(entries: readonly WireFileStat[]): Buffer {
  let size = 4;
  for (const e of entries) size += ENTRY_FIXED_BYTES + Buffer.byteLength(e.name, 'utf8');
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(entries.length, 0);
  let pos = 4;
  for (const e of entries) {
    buf.writeBigUInt64LE(BigInt(e.sizeBytes), pos);
    buf.writeDoubleLE(e.mtimeMs, pos + 8);
    buf.writeDoubleLE(e.atimeMs, pos + 16);
    buf.writeDoubleLE(e.ctimeMs, pos + 24);
    const n = buf.write(e.name, pos + 34, 'utf8');
    buf.writeUInt16LE(n, pos + 32);
    pos += ENTRY_FIXED_BYTES + n;
  }
  return buf;
}

export function decodeEntries(buf: Buffer): WireFileStat[] {
  const r = new Reader(buf);
  const out = readEntries(r);
  if (r.pos !== buf.length) malformed('trailing bytes');
  return out;
}

function readEntries(r: Reader): WireFileStat[] {
  const buf = r.buf;
  const count = readCount(buf, ENTRY_FIXED_BYTES);
  const out: WireFileStat[] = [];
  for (let i = 0; i < count; i++) {
    r.need(32);
    const sizeBytes = safe(buf.readBigUInt64LE(r.pos), 'sizeBytes');
    const mtimeMs = buf.readDoubleLE(r.pos + 8);
    const atimeMs = buf.readDoubleLE(r.pos + 16);
    const ctimeMs = buf.readDoubleLE(r.pos + 24);
    r.pos += 32;
    out.push({ name: r.str(), sizeBytes, mtimeMs, atimeMs, ctimeMs });
  }
  return out;
}

/**
 * A LIST page's `entries` field: the entry list, then, only when there are folders, a folder list
 * (u32 count, then u16 length + UTF-8 name each). Without folders the bytes are exactly an entry
 * list, so a reply to a request without a delimiter reads the same as before folders existed.
 */
export function encodeListing(entries: readonly WireFileStat[], prefixes: readonly string[]): Buffer {
  const head = encodeEntries(entries);
  if (prefixes.length === 0) return head;
  let size = 4;
  for (const p of prefixes) size += 2 + Buffer.byteLength(p, 'utf8');
  const tail = Buffer.allocUnsafe(size);
  tail.writeUInt32LE(prefixes.length, 0);
  let pos = 4;
  for (const p of prefixes) {
    const n = tail.write(p, pos + 2, 'utf8');
    if (n > 0xffff) throw new FerryError('INVALID_ARGUMENT', `folder name of ${n} bytes: at most 65535`);
    tail.writeUInt16LE(n, pos);
    pos += 2 + n;
  }
  return Buffer.concat([head, tail]);
}

/** Decodes a LIST page's `entries` field (see encodeListing). Throws MALFORMED. */
export function decodeListing(buf: Buffer): { entries: WireFileStat[]; prefixes: string[] } {
  const r = new Reader(buf);
  const entries = readEntries(r);
  const prefixes: string[] = [];
  if (r.pos === buf.length) return { entries, prefixes };
  const rest = buf.subarray(r.pos);
  const count = readCount(rest, 2);
  const pr = new Reader(rest);
  for (let i = 0; i < count; i++) prefixes.push(pr.str());
  if (pr.pos !== rest.length) malformed('trailing bytes');
  return { entries, prefixes };
}

export function encodeExtents(extents: readonly WireExtent[]): Buffer {
  const buf = Buffer.allocUnsafe(4 + extents.length * EXTENT_BYTES);
  buf.writeUInt32LE(extents.length, 0);
  let pos = 4;
  for (const e of extents) {
    buf.writeBigUInt64LE(BigInt(e.offset), pos);
    buf.writeBigUInt64LE(BigInt(e.length), pos + 8);
    buf[pos + 16] = e.hole ? 1 : 0;
    pos += EXTENT_BYTES;
  }
  return buf;
}

export function decodeExtents(buf: Buffer): WireExtent[] {
  const count = readCount(buf, EXTENT_BYTES);
  if (buf.length !== 4 + count * EXTENT_BYTES) malformed('extent list size does not match its count');
  const out: WireExtent[] = [];
  for (let i = 0, pos = 4; i < count; i++, pos += EXTENT_BYTES) {
    out.push({
      offset: safe(buf.readBigUInt64LE(pos), 'offset'),
      length: safe(buf.readBigUInt64LE(pos + 8), 'length'),
      hole: buf[pos + 16] === 1,
    });
  }
  return out;
}

export function encodeDevices(devices: readonly WireDevice[]): Buffer {
  let size = 4;
  for (const d of devices) size += DEVICE_FIXED_BYTES + Buffer.byteLength(d.name, 'utf8');
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(devices.length, 0);
  let pos = 4;
  for (const d of devices) {
    buf.writeBigUInt64LE(BigInt(d.sizeBytes), pos);
    buf.writeUInt32LE(d.blockBytes, pos + 8);
    buf[pos + 12] = d.readOnly ? 1 : 0;
    const n = buf.write(d.name, pos + 15, 'utf8');
    buf.writeUInt16LE(n, pos + 13);
    pos += DEVICE_FIXED_BYTES + n;
  }
  return buf;
}

export function decodeDevices(buf: Buffer): WireDevice[] {
  const count = readCount(buf, DEVICE_FIXED_BYTES);
  const r = new Reader(buf);
  const out: WireDevice[] = [];
  for (let i = 0; i < count; i++) {
    r.need(13);
    const sizeBytes = safe(buf.readBigUInt64LE(r.pos), 'sizeBytes');
    const blockBytes = buf.readUInt32LE(r.pos + 8);
    const readOnly = buf[r.pos + 12] === 1;
    r.pos += 13;
    out.push({ name: r.str(), sizeBytes, blockBytes, readOnly });
  }
  if (r.pos !== buf.length) malformed('trailing bytes');
  return out;
}
