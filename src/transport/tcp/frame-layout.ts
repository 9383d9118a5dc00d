/**
 * The byte layout of ferry's TCP frames, as named offsets (the TCP twin of src/wire/packet-layout.ts).
 *
 * Why frames at all: TCP is a byte stream, so message boundaries, the handshake, acknowledgements and
 * heartbeats need a small header. It is fixed-size (16 bytes), so the reader knows after 16 bytes how
 * long the body is and can refuse an oversize length before allocating anything. Every integer is
 * big-endian; the 64-bit sequence is written as two 32-bit halves and stays below 2^53.
 *
 * There is no checksum field: TCP already checks every segment and repairs loss, reordering and
 * duplication, which the UDP packets must do themselves. The protocol version travels once, in HELLO.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+---------------+---------------+
 * |          magic 0x4654 'FT'    |     type      |     flags     |  0
 * +---------------+---------------+---------------+---------------+
 * |                    body length in bytes (32)                  |  4
 * +---------------------------------------------------------------+
 * |     sequence (64): DATA its message sequence, ACK the         |  8
 * |     highest message sequence received; 0 in other frames      |
 * +---------------------------------------------------------------+
 * |  body (body length bytes): the message payload for DATA       | 16
 * ```
 *
 * Bodies (fixed sizes except DATA and DELIVERED; any other size is refused):
 *
 * ```
 * HELLO      | version (8) | flags (8: bit 0 encrypt) | listen port (16) | connection id (64) |
 *            | incarnation (64) | nonce (128) | X25519 public key (256) |
 * CHALLENGE  | the same fields, the server's (no proof: the client proves first) |
 * CONFIRM    | client proof (256) |
 * ACCEPT     | server proof (256) |  (sealed)
 * ACK, HEARTBEAT | (empty) |
 * DATA       | payload |
 * DELIVERED  | count x [ first message sequence (64) | number of messages (32) ] |
 * CLOSE      | reason (8) |
 * ```
 *
 * With encryption on (the default), every frame after CONFIRM is sealed (crypto/frame-aead.ts): the
 * header is the AEAD's associated data, its body length counts the 16-byte tag that follows the
 * encrypted body.
 */

export const FRAME_MAGIC = 0x4654; // 'FT'
/** 2: X25519 handshake where the client proves first, frames sealed with an AEAD (1: HMAC proofs only). */
export const PROTOCOL_VERSION = 2;

// --- frame header ---
export const MAGIC_OFFSET = 0;
export const TYPE_OFFSET = 2;
export const FLAGS_OFFSET = 3;
export const LENGTH_OFFSET = 4;
export const SEQ_OFFSET = 8;
export const FRAME_HEADER_BYTES = 16;

export const FrameType = {
  HELLO: 1,
  CHALLENGE: 2,
  CONFIRM: 3,
  ACCEPT: 4,
  DATA: 5,
  ACK: 6,
  DELIVERED: 7,
  HEARTBEAT: 8,
  CLOSE: 9,
} as const;
export const MAX_FRAME_TYPE = 9;

export const FrameFlags = {
  /** DATA: the message was sent in FIFO mode. */
  FIFO: 0x01,
} as const;
export const KNOWN_FLAGS = FrameFlags.FIFO;

// --- HELLO and CHALLENGE bodies ---
export const HELLO_VERSION_OFFSET = 0;
export const HELLO_FLAGS_OFFSET = 1;
export const HELLO_FLAG_ENCRYPT = 0x01;
export const HELLO_LISTEN_PORT_OFFSET = 2;
export const HELLO_CONNECTION_ID_OFFSET = 4;
export const HELLO_INCARNATION_OFFSET = 12;
export const HELLO_NONCE_OFFSET = 20;
export const NONCE_BYTES = 16;
export const HELLO_PUBLIC_KEY_OFFSET = 36;
export const PUBLIC_KEY_BYTES = 32;
export const HELLO_BODY_BYTES = 68;
export const PROOF_BYTES = 32;
export const CHALLENGE_BODY_BYTES = HELLO_BODY_BYTES;
export const CONFIRM_BODY_BYTES = PROOF_BYTES;
export const ACCEPT_BODY_BYTES = PROOF_BYTES;

// --- DELIVERED body ---
export const DELIVERED_RANGE_START_OFFSET = 0;
export const DELIVERED_RANGE_COUNT_OFFSET = 8;
export const DELIVERED_RANGE_BYTES = 12;
/** Ranges one DELIVERED frame carries at most (a reporter flushes when it has this many). */
export const MAX_DELIVERED_RANGES = 1024;

// --- CLOSE body ---
export const CLOSE_BODY_BYTES = 1;
export const CloseReason = {
  /** A graceful close (disconnect, endpoint shutdown). */
  NORMAL: 0,
  /** The proof of the shared secret did not match. */
  AUTH_FAILED: 1,
  /** The receiver blacklisted the sender's address. */
  BLACKLISTED: 2,
  /** Both sides connected at once and this connection lost the tie-break: the other one serves. */
  DUPLICATE: 3,
  /** The HELLO came from an older incarnation than the session the receiver holds. */
  STALE_INCARNATION: 4,
  /** The receiver holds maxPeers sessions or maxPendingHandshakes half-open ones. */
  OVER_LIMIT: 5,
  /** The receiver could not parse a frame (or did not expect it): the connection is unusable. */
  PROTOCOL_ERROR: 6,
  /** The receiver requires encryption and the HELLO has it off. */
  ENCRYPT_REQUIRED: 7,
  /** The receiver has encryption off and the HELLO has it on. */
  ENCRYPT_OFF: 8,
} as const;
export const MAX_CLOSE_REASON = 8;

/** Largest body of any frame but DATA: readers refuse longer ones before allocating. */
export const MAX_CONTROL_BODY_BYTES = MAX_DELIVERED_RANGES * DELIVERED_RANGE_BYTES;
