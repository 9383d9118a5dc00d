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
  data?: {
    messageSeq: number;
    fifoSeq: number;
    messageLength: number;
    fragmentOffset: number;
    fragmentIndex: number;
    fragmentCount: number;
  };
  /** Flag 0x08 (PIECE): the whole fragment a piece belongs to. */
  piece?: { fragmentOffset: number; fragmentLength: number };
  payload: number[];
}

export function referenceDecode(bytes: Uint8Array): ReferencePacket | string {
  if (bytes.length < 48) return 'malformed';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(0) !== 0x4659) return 'malformed';
  if (dv.getUint8(2) !== 2) return 'badVersion';
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
  if (type === 1) {
    out.data = {
      messageSeq: dv.getUint32(at),
      fifoSeq: dv.getUint32(at + 4),
      messageLength: dv.getUint32(at + 8),
      fragmentOffset: dv.getUint32(at + 12),
      fragmentIndex: dv.getUint32(at + 16),
      fragmentCount: dv.getUint32(at + 20),
    };
    at += 24;
    if ((out.flags & 0x08) !== 0) {
      out.piece = { fragmentOffset: dv.getUint32(at), fragmentLength: dv.getUint32(at + 4) };
      at += 8;
    }
  }
  if (at + payloadLength !== bytes.length) return 'malformed';
  out.payload = [...bytes.subarray(at, at + payloadLength)];
  return out;
}
