/**
 * Message and FIFO sequences on the wire: the low 32 bits of a full number.
 *
 * Why: each side counts a session's sequences as plain numbers (exact to 2^53: centuries at any
 * message rate), so nothing the application sees ever wraps, but the record header and the ACK body
 * carry 32 bits. The sender keeps every message within LIMITS.MAX_MESSAGE_WINDOW of its oldest
 * undelivered one, so the reader always knows a number near the one sent (the receiver its inbox
 * base, the sender its own window); of all numbers with the low 32 bits read, exactly one lies less
 * than 2^31 from it, and that is the one meant (QUIC's packet-number decoding, RFC 9000 A.3).
 * Values below 2^32 encode exactly as before.
 *
 * A wire FIFO sequence 0 means "unordered", so the FIFO count skips the full numbers whose low 32
 * bits are 0 (`fifoSeqAfter`); both sides step with it. A message sequence has no such value: wire 0
 * is the message 2^32 (or a multiple), never message 0, which is not used.
 */

/** How many values a 32-bit sequence field tells apart. */
export const SEQ_WIRE_SPAN = 2 ** 32;
const HALF_SPAN = 2 ** 31;

/** The 32 bits a full sequence puts on the wire (exact for every number below 2^53). */
export function seqToWire(seq: number): number {
  return seq >>> 0;
}

/**
 * The full sequence with low 32 bits `wire` nearest `expected` (a full sequence the reader knows is
 * close to the sender's): within (expected - 2^31, expected + 2^31], never negative and never past
 * 2^53. Callers keep every sequence in play far closer than 2^31 to `expected`.
 */
export function expandSeq(wire: number, expected: number): number {
  const candidate = expected - (expected % SEQ_WIRE_SPAN) + wire;
  if (candidate <= expected - HALF_SPAN && candidate + SEQ_WIRE_SPAN <= Number.MAX_SAFE_INTEGER)
    return candidate + SEQ_WIRE_SPAN;
  if (candidate > expected + HALF_SPAN && candidate >= SEQ_WIRE_SPAN) return candidate - SEQ_WIRE_SPAN;
  return candidate;
}

/** The FIFO sequence after `fifoSeq`: one more, skipping those whose wire value would be 0. */
export function fifoSeqAfter(fifoSeq: number): number {
  const next = fifoSeq + 1;
  return next % SEQ_WIRE_SPAN === 0 ? next + 1 : next;
}
