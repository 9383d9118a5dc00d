/**
 * The bytes every benchmark message starts with, the same on every transport, so one receiver
 * routine measures all of them: who sent it, its sequence number, and when it was sent.
 *
 * The send time is `process.hrtime.bigint()` (CLOCK_MONOTONIC), which every process on one machine
 * reads from the same clock: the receiver subtracts it from its own reading to get the delivery time
 * without any clock synchronisation. The rest of a message is filler whose content does not matter.
 *
 * ```
 *  0      1      2             4                    8                               16
 *  +------+------+-------------+--------------------+-------------------------------+
 *  | kind | from | frag index  |     sequence       |        send time (ns)         |
 *  +------+------+-------------+--------------------+-------------------------------+
 *  16            18            20                   24
 *  +-------------+-------------+--------------------+
 *  | frag count  |  reserved   |  message size      |
 *  +-------------+-------------+--------------------+
 * ```
 * All fields little-endian. The fragment fields are used only by the raw `dgram` baseline, which
 * splits a message larger than a packet into datagrams that each start with this header; every other
 * transport carries whole messages (fragment 0 of 1).
 */

export const HEADER_BYTES = 24;

export const KIND_DATA = 1;
export const KIND_REQUEST = 2;
export const KIND_RESPONSE = 3;

const OFF_KIND = 0;
const OFF_FROM = 1;
const OFF_FRAG_INDEX = 2;
const OFF_SEQ = 4;
const OFF_SENT_NS = 8;
const OFF_FRAG_COUNT = 16;
const OFF_SIZE = 20;

/** Fills a header for a whole message (fragment 0 of 1), stamped with the current time. */
export function writeHeader(buf: Buffer, kind: number, from: number, seq: number, sizeBytes: number): void {
  buf[OFF_KIND] = kind;
  buf[OFF_FROM] = from;
  buf.writeUInt16LE(0, OFF_FRAG_INDEX);
  buf.writeUInt32LE(seq >>> 0, OFF_SEQ);
  buf.writeBigUInt64LE(process.hrtime.bigint(), OFF_SENT_NS);
  buf.writeUInt16LE(1, OFF_FRAG_COUNT);
  buf.writeUInt16LE(0, OFF_FRAG_COUNT + 2);
  buf.writeUInt32LE(sizeBytes, OFF_SIZE);
}

/** Sets the fragment fields of a header copy (raw dgram only). */
export function setFragment(buf: Buffer, index: number, count: number): void {
  buf.writeUInt16LE(index, OFF_FRAG_INDEX);
  buf.writeUInt16LE(count, OFF_FRAG_COUNT);
}

/** Turns a received request header into the response header (same sequence and send time). */
export function toResponse(buf: Buffer, from: number): void {
  buf[OFF_KIND] = KIND_RESPONSE;
  buf[OFF_FROM] = from;
}

export const kindOf = (h: Buffer): number => h[OFF_KIND]!;
export const fromOf = (h: Buffer): number => h[OFF_FROM]!;
export const seqOf = (h: Buffer): number => h.readUInt32LE(OFF_SEQ);
export const fragIndexOf = (h: Buffer): number => h.readUInt16LE(OFF_FRAG_INDEX);
export const fragCountOf = (h: Buffer): number => h.readUInt16LE(OFF_FRAG_COUNT);
export const sizeOf = (h: Buffer): number => h.readUInt32LE(OFF_SIZE);

/** Nanoseconds from the header's send time to `nowNs` (a `process.hrtime.bigint()` reading; never negative). */
export function ageNs(h: Buffer, nowNs: bigint): number {
  const d = nowNs - h.readBigUInt64LE(OFF_SENT_NS);
  return d > 0n ? Number(d) : 0;
}
