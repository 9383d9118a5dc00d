/**
 * A slow, obviously-correct decoder written from docs/protocol.md with a plain DataView and no shared
 * code beyond the layout constants' values (re-typed here on purpose). The fast PacketView is checked
 * against it.
 */
import { xxh32 } from '../../../src/core/checksum.js';

export interface ReferencePacket {
  type: number;
  flags: number;
  connectionId: bigint;
  packetNumber: number;
  cumulativeAck: number;
  leastUnacked: number;
  receiveWindow: number;
  sack: [number, number][];
  /** DATA: its records, in order. */
  records?: ReferenceRecord[];
  /** The body (for DATA: every record, headers included). */
  payload: number[];
}

export interface ReferenceRecord {
  messageSeq: number;
  fifoSeq: number;
  messageLength: number;
  fragmentOffset: number;
  fragmentIndex: number;
  fragmentCount: number;
  /** Record flag 0x02 (PIECE): the whole fragment this piece belongs to. */
  piece?: { fragmentOffset: number; fragmentLength: number };
  bytes: number[];
}

export function referenceDecode(bytes: Uint8Array): ReferencePacket | string {
  if (bytes.length < 48) return 'malformed';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(0) !== 0x4659) return 'malformed';
  if (dv.getUint8(2) !== 4) return 'badVersion';
  const copy = Uint8Array.from(bytes);
  new DataView(copy.buffer).setUint32(44, 0);
  if (xxh32(copy) !== dv.getUint32(44)) return 'badChecksum';
  const u64 = (at: number): number => Number(dv.getBigUint64(at));
  const type = dv.getUint8(3);
  const sackCount = dv.getUint8(5);
  const payloadLength = dv.getUint16(6);
  const cumulativeAck = u64(24);
  const sack: [number, number][] = [];
  for (let i = 0; i < sackCount; i++) {
    sack.push([cumulativeAck + dv.getUint32(48 + 8 * i), dv.getUint32(52 + 8 * i)]);
  }
  let at = 48 + 8 * sackCount;
  const out: ReferencePacket = {
    type,
    flags: dv.getUint8(4),
    connectionId: dv.getBigUint64(8),
    packetNumber: u64(16),
    cumulativeAck,
    leastUnacked: u64(32),
    receiveWindow: dv.getUint32(40),
    sack,
    payload: [],
  };
  if (at + payloadLength !== bytes.length) return 'malformed';
  out.payload = [...bytes.subarray(at, at + payloadLength)];
  if (type !== 1) return out;
  // DATA: no packet flags; records back to back filling the body exactly, at least one
  if (out.flags !== 0) return 'malformed';
  const records: ReferenceRecord[] = [];
  while (at < bytes.length) {
    if (at + 12 > bytes.length) return 'malformed';
    const length = dv.getUint16(at + 8);
    const recordFlags = dv.getUint8(at + 10);
    // flags: 0 whole message, 1 fragment, 3 piece of a fragment
    if ((recordFlags !== 0 && recordFlags !== 1 && recordFlags !== 3) || dv.getUint8(at + 11) !== 0)
      return 'malformed';
    const fragment = recordFlags !== 0;
    const piece = recordFlags === 3;
    const headerBytes = piece ? 36 : fragment ? 28 : 12;
    if (at + headerBytes + length > bytes.length) return 'malformed';
    const record: ReferenceRecord = {
      messageSeq: dv.getUint32(at),
      fifoSeq: dv.getUint32(at + 4),
      messageLength: fragment ? dv.getUint32(at + 12) : length,
      fragmentOffset: fragment ? dv.getUint32(at + 16) : 0,
      fragmentIndex: fragment ? dv.getUint32(at + 20) : 0,
      fragmentCount: fragment ? dv.getUint32(at + 24) : 1,
      bytes: [...bytes.subarray(at + headerBytes, at + headerBytes + length)],
    };
    if (piece)
      record.piece = { fragmentOffset: dv.getUint32(at + 28), fragmentLength: dv.getUint32(at + 32) };
    records.push(record);
    at += headerBytes + length;
  }
  if (records.length === 0) return 'malformed';
  // a fragment or piece record travels alone in its packet
  if (records.length > 1 && records.some((r) => r.fragmentCount !== 1 || r.piece)) return 'malformed';
  out.records = records;
  return out;
}
