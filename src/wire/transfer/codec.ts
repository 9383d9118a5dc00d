/**
 * A table-driven codec for transfer message bodies: each message lists its fields once, and the
 * byte layout follows from that list by one fixed rule, so the encoder, the decoder and the offset
 * tables in docs/protocol.md cannot drift apart.
 *
 * Layout rule (after the 8-byte header, little-endian):
 * 1. fixed-size fields in declared order at fixed offsets: u8 (1), u16 (2), u32 (4), u64 (8, an
 *    unsigned integer at most 2^53-1), h64 (8, a 64-bit hash as bigint), f64 (8, IEEE double);
 * 2. then `str` fields in declared order, each a u16 byte length and that many UTF-8 bytes;
 * 3. then at most one `bytes` field, which takes the rest of the message.
 * Declarations must follow that order (checked when the table is built).
 *
 * Decoders check every length before reading and refuse invalid UTF-8 and integers past 2^53-1 with
 * MALFORMED; they never allocate more than the message already holds.
 */
import { FerryError } from '../../core/errors.js';
import { HEADER_BYTES } from './header.js';

export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 'h64' | 'f64' | 'str' | 'bytes';
export type FieldDef = readonly [name: string, kind: FieldKind];
export type FieldList = readonly FieldDef[];

type ValueOf<K extends FieldKind> = K extends 'h64'
  ? bigint
  : K extends 'str'
    ? string
    : K extends 'bytes'
      ? Buffer
      : number;

/** The decoded (or to-be-encoded) object of a field list. */
export type FieldsOf<F extends FieldList> = { [E in F[number] as E[0]]: ValueOf<E[1]> };

const FIXED_BYTES: Partial<Record<FieldKind, number>> = { u8: 1, u16: 2, u32: 4, u64: 8, h64: 8, f64: 8 };
const MAX_UINT: Partial<Record<FieldKind, number>> = {
  u8: 0xff,
  u16: 0xffff,
  u32: 0xffff_ffff,
  u64: Number.MAX_SAFE_INTEGER,
};

/** One row of a layout's offset table; variable fields have `offset` -1 (they follow in order). */
export interface LayoutRow {
  name: string;
  kind: FieldKind;
  offset: number;
  sizeBytes: number;
}

export interface Layout {
  rows: LayoutRow[];
  /** Bytes of header plus fixed fields: where the first `str` field starts. */
  fixedEndBytes: number;
}

/** Computes (and checks) the layout of a field list. */
export function layoutOf(fields: FieldList): Layout {
  const rows: LayoutRow[] = [];
  let offset = HEADER_BYTES;
  let phase = 0; // 0 fixed, 1 str, 2 bytes
  for (const [name, kind] of fields) {
    const fixed = FIXED_BYTES[kind];
    const nextPhase = fixed !== undefined ? 0 : kind === 'str' ? 1 : 2;
    if (nextPhase < phase || (nextPhase === 2 && phase === 2)) {
      throw new FerryError('INTERNAL', `field ${name}: declare fixed fields, then str, then one bytes`);
    }
    phase = nextPhase;
    rows.push({ name, kind, offset: fixed !== undefined ? offset : -1, sizeBytes: fixed ?? -1 });
    if (fixed !== undefined) offset += fixed;
  }
  return { rows, fixedEndBytes: offset };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(what: string): never {
  throw new FerryError('MALFORMED', `malformed transfer message: ${what}`);
}

/** Size in bytes of the encoded message (header included). */
export function encodedSize(layout: Layout, values: Record<string, unknown>): number {
  let size = layout.fixedEndBytes;
  for (const row of layout.rows) {
    if (row.kind === 'str') size += 2 + Buffer.byteLength(values[row.name] as string, 'utf8');
    if (row.kind === 'bytes') size += (values[row.name] as Uint8Array).length;
  }
  return size;
}

/** Writes the body fields into `buf` (header space left for the caller). Throws INVALID_ARGUMENT. */
export function encodeBody(layout: Layout, values: Record<string, unknown>, buf: Buffer): void {
  let pos = layout.fixedEndBytes;
  for (const row of layout.rows) {
    const v = values[row.name];
    switch (row.kind) {
      case 'u8':
      case 'u16':
      case 'u32':
      case 'u64':
        writeUint(buf, row, v);
        break;
      case 'h64':
        if (typeof v !== 'bigint') throw badValue(row, v);
        buf.writeBigUInt64LE(BigInt.asUintN(64, v), row.offset);
        break;
      case 'f64':
        if (typeof v !== 'number') throw badValue(row, v);
        buf.writeDoubleLE(v, row.offset);
        break;
      case 'str': {
        if (typeof v !== 'string') throw badValue(row, v);
        const n = buf.write(v, pos + 2, 'utf8');
        if (n > 0xffff) throw badValue(row, v);
        buf.writeUInt16LE(n, pos);
        pos += 2 + n;
        break;
      }
      case 'bytes':
        if (!(v instanceof Uint8Array)) throw badValue(row, v);
        buf.set(v, pos);
        pos += v.length;
        break;
    }
  }
}

function writeUint(buf: Buffer, row: LayoutRow, v: unknown): void {
  const max = MAX_UINT[row.kind]!;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw badValue(row, v);
  if (row.kind === 'u8') buf[row.offset] = v;
  else if (row.kind === 'u16') buf.writeUInt16LE(v, row.offset);
  else if (row.kind === 'u32') buf.writeUInt32LE(v, row.offset);
  else buf.writeBigUInt64LE(BigInt(v), row.offset);
}

function badValue(row: LayoutRow, v: unknown): FerryError {
  return new FerryError('INVALID_ARGUMENT', `field ${row.name} (${row.kind}) cannot hold ${String(v)}`);
}

/**
 * Decodes the body of `buf`. `bytes` fields are views into `buf` (copy them to keep them past the
 * message handler). Throws MALFORMED on any inconsistency.
 */
export function decodeBody(layout: Layout, buf: Buffer): Record<string, unknown> {
  if (buf.length < layout.fixedEndBytes)
    malformed(`${buf.length} bytes, need at least ${layout.fixedEndBytes}`);
  const out: Record<string, unknown> = {};
  let pos = layout.fixedEndBytes;
  let sawBytes = false;
  for (const row of layout.rows) {
    switch (row.kind) {
      case 'u8':
        out[row.name] = buf[row.offset];
        break;
      case 'u16':
        out[row.name] = buf.readUInt16LE(row.offset);
        break;
      case 'u32':
        out[row.name] = buf.readUInt32LE(row.offset);
        break;
      case 'u64': {
        const big = buf.readBigUInt64LE(row.offset);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) malformed(`${row.name} exceeds 2^53-1`);
        out[row.name] = Number(big);
        break;
      }
      case 'h64':
        out[row.name] = buf.readBigUInt64LE(row.offset);
        break;
      case 'f64':
        out[row.name] = buf.readDoubleLE(row.offset);
        break;
      case 'str': {
        if (pos + 2 > buf.length) malformed(`${row.name} length runs past the end`);
        const n = buf.readUInt16LE(pos);
        if (pos + 2 + n > buf.length) malformed(`${row.name} runs past the end`);
        try {
          out[row.name] = utf8.decode(buf.subarray(pos + 2, pos + 2 + n));
        } catch {
          malformed(`${row.name} is not valid UTF-8`);
        }
        pos += 2 + n;
        break;
      }
      case 'bytes':
        out[row.name] = buf.subarray(pos);
        pos = buf.length;
        sawBytes = true;
        break;
    }
  }
  if (!sawBytes && pos !== buf.length) malformed(`${buf.length - pos} trailing bytes`);
  return out;
}
