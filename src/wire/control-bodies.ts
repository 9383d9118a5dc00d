/**
 * Bodies of the control packets: handshake (HELLO, CHALLENGE, CONFIRM), RESET and the delivered
 * ranges of ACK.
 *
 * Why separate from packet-codec: these are read rarely (once per handshake) except the ACK body,
 * which gets a flyweight like PacketView. Sizes are fixed, so a body of any other length is refused.
 *
 * ```
 * HELLO      | source connection id (64) | incarnation (64) | nonce (128) | max packet bytes (32) |
 * CHALLENGE  | source connection id (64) | incarnation (64) | nonce (128) | max packet bytes (32) | proof (256) |
 * CONFIRM    | proof (256) |
 * ACCEPT     | (empty) |
 * RESET      | token (256) |
 * HEARTBEAT, CLOSE | (empty) |
 * ACK        | delivered below (32) | range count (16) | reserved (16) | count x [ start - below (32) | length (32) ] |
 * ```
 *
 * ACK's "delivered below" is the low 32 bits of a message sequence; the reader expands it against its
 * own window (sequence.ts). Ranges are relative to it, so they need no expansion of their own.
 */
import { LIMITS } from '../core/limits.js';
import { readU64, writeU64 } from './packet-codec.js';
import { expandSeq, seqToWire } from './sequence.js';

export const NONCE_BYTES = 16;
export const PROOF_BYTES = 32;

const HELLO_SOURCE_ID_OFFSET = 0;
const HELLO_INCARNATION_OFFSET = 8;
const HELLO_NONCE_OFFSET = 16;
const HELLO_MAX_PACKET_OFFSET = 32;
export const HELLO_BYTES = 36;
const CHALLENGE_PROOF_OFFSET = HELLO_BYTES;
export const CHALLENGE_BYTES = HELLO_BYTES + PROOF_BYTES;
export const CONFIRM_BYTES = PROOF_BYTES;
export const RESET_BYTES = PROOF_BYTES;

const ACK_DELIVERED_BELOW_OFFSET = 0;
const ACK_RANGE_COUNT_OFFSET = 4;
const ACK_RANGES_OFFSET = 8;
const ACK_RANGE_BYTES = 8;

/** What HELLO and CHALLENGE carry. */
export interface HelloBody {
  sourceConnectionId: bigint;
  incarnation: number;
  nonce: Buffer;
  maxPacketBytes: number;
}

export interface ChallengeBody extends HelloBody {
  proof: Buffer;
}

export function encodeHello(b: HelloBody): Buffer {
  const out = Buffer.alloc(HELLO_BYTES);
  writeHelloFields(out, b);
  return out;
}

export function encodeChallenge(b: ChallengeBody): Buffer {
  const out = Buffer.alloc(CHALLENGE_BYTES);
  writeHelloFields(out, b);
  b.proof.copy(out, CHALLENGE_PROOF_OFFSET, 0, PROOF_BYTES);
  return out;
}

function writeHelloFields(out: Buffer, b: HelloBody): void {
  out.writeBigUInt64BE(b.sourceConnectionId, HELLO_SOURCE_ID_OFFSET);
  writeU64(out, HELLO_INCARNATION_OFFSET, b.incarnation);
  b.nonce.copy(out, HELLO_NONCE_OFFSET, 0, NONCE_BYTES);
  out.writeUInt32BE(b.maxPacketBytes, HELLO_MAX_PACKET_OFFSET);
}

/** Returns null when the body has the wrong size or out-of-range values. */
export function decodeHello(body: Buffer): HelloBody | null {
  if (body.length !== HELLO_BYTES) return null;
  return readHelloFields(body);
}

export function decodeChallenge(body: Buffer): ChallengeBody | null {
  if (body.length !== CHALLENGE_BYTES) return null;
  const hello = readHelloFields(body);
  if (!hello) return null;
  return { ...hello, proof: Buffer.from(body.subarray(CHALLENGE_PROOF_OFFSET, CHALLENGE_BYTES)) };
}

function readHelloFields(body: Buffer): HelloBody | null {
  const sourceConnectionId = body.readBigUInt64BE(HELLO_SOURCE_ID_OFFSET);
  const incarnation = readU64(body, HELLO_INCARNATION_OFFSET);
  const maxPacketBytes = body.readUInt32BE(HELLO_MAX_PACKET_OFFSET);
  if (sourceConnectionId === 0n || incarnation < 0) return null;
  if (maxPacketBytes < LIMITS.MIN_PACKET_BYTES || maxPacketBytes > LIMITS.MAX_PACKET_BYTES) return null;
  const nonce = Buffer.from(body.subarray(HELLO_NONCE_OFFSET, HELLO_NONCE_OFFSET + NONCE_BYTES));
  return { sourceConnectionId, incarnation, nonce, maxPacketBytes };
}

/** CONFIRM and RESET carry exactly one 32-byte proof. */
export function decodeProof(body: Buffer): Buffer | null {
  return body.length === PROOF_BYTES ? Buffer.from(body) : null;
}

/** Bytes of an ACK body with `rangeCount` delivered ranges. */
export function ackBodyBytes(rangeCount: number): number {
  return ACK_RANGES_OFFSET + rangeCount * ACK_RANGE_BYTES;
}

/**
 * Writes an ACK body at `at`; ranges are absolute [start, length) message sequences above `below`
 * (full numbers: `below` goes as its low 32 bits, the ranges as offsets from it).
 */
export function writeAckBody(
  buf: Buffer,
  at: number,
  deliveredBelow: number,
  starts: ArrayLike<number>,
  lengths: ArrayLike<number>,
  count: number,
): number {
  buf.writeUInt32BE(seqToWire(deliveredBelow), at + ACK_DELIVERED_BELOW_OFFSET);
  buf.writeUInt16BE(count, at + ACK_RANGE_COUNT_OFFSET);
  buf.writeUInt16BE(0, at + ACK_RANGE_COUNT_OFFSET + 2);
  for (let i = 0; i < count; i++) {
    const r = at + ACK_RANGES_OFFSET + i * ACK_RANGE_BYTES;
    buf.writeUInt32BE((starts[i]! - deliveredBelow) >>> 0, r);
    buf.writeUInt32BE(lengths[i]! >>> 0, r + 4);
  }
  return at + ackBodyBytes(count);
}

/**
 * Delivered-message report of an ACK, decoded into a reusable object: every message sequence below
 * `deliveredBelow` was delivered, and so was each range above it (full sequences, expanded).
 */
export class AckBodyView {
  deliveredBelow = 0;
  rangeCount = 0;
  readonly rangeStart = new Float64Array(LIMITS.MAX_SACK_RANGES);
  readonly rangeLength = new Uint32Array(LIMITS.MAX_SACK_RANGES);

  /**
   * Reads the body at `buf[offset, offset + length)` without copying; `nearSeq` is a message sequence
   * the reader knows is close to the report's (the sender: its oldest undelivered message), against
   * which the 32-bit "delivered below" is expanded. False when malformed (counts, overlaps, sizes).
   */
  decode(buf: Buffer, offset: number, length: number, nearSeq: number): boolean {
    if (length < ACK_RANGES_OFFSET) return false;
    const below = expandSeq(buf.readUInt32BE(offset + ACK_DELIVERED_BELOW_OFFSET), nearSeq);
    const count = buf.readUInt16BE(offset + ACK_RANGE_COUNT_OFFSET);
    if (count > LIMITS.MAX_SACK_RANGES || length !== ackBodyBytes(count)) return false;
    let floor = 0; // offsets from `below`: ascending, disjoint, within 32 bits
    for (let i = 0; i < count; i++) {
      const r = offset + ACK_RANGES_OFFSET + i * ACK_RANGE_BYTES;
      const delta = buf.readUInt32BE(r);
      const len = buf.readUInt32BE(r + 4);
      if (delta <= floor || len === 0 || delta + len > 0xffff_ffff) return false;
      this.rangeStart[i] = below + delta;
      this.rangeLength[i] = len;
      floor = delta + len;
    }
    this.deliveredBelow = below;
    this.rangeCount = count;
    return true;
  }
}
