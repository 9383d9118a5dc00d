/**
 * The byte layout of every ferry datagram, as named offsets (Aeron-flyweight style).
 *
 * Why a table of offsets: the encoder, the fast decoder, the slow reference decoder in the tests and
 * docs/protocol.md all read from this one file, so the layout cannot drift between them. All integers
 * are big-endian (network order). 64-bit fields are written as two 32-bit halves (high first); packet
 * numbers stay below 2^53 so they fit a JavaScript number exactly.
 *
 * Common header (48 bytes), then `sackCount` selective-ack ranges (8 bytes each), then the type's
 * own header (DATA only: 24 bytes), then the payload (`payloadLength` bytes, to the end of the datagram):
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+---------------+---------------+
 * |          magic 0x4659         |    version    |     type      |  0
 * +---------------+---------------+---------------+---------------+
 * |     flags     |   sackCount   |         payloadLength         |  4
 * +---------------+---------------+---------------+---------------+
 * |              destination connection id (64 bits)              |  8
 * |                                                               |
 * +---------------------------------------------------------------+
 * |              packet number (64 bits, never reused)            | 16
 * |                                                               |
 * +---------------------------------------------------------------+
 * |        cumulative ack: every packet number <= this was        | 24
 * |        received or given up by the peer (64 bits)             |
 * +---------------------------------------------------------------+
 * |        least unacked: the sender will not retransmit          | 32
 * |        anything below this packet number (64 bits)            |
 * +---------------------------------------------------------------+
 * |                receive window (packets, 32 bits)              | 40
 * +---------------------------------------------------------------+
 * |     xxhash32 of the whole datagram with this field zeroed     | 44
 * +---------------------------------------------------------------+
 * |  SACK range i: start - cumulative ack (32)  |  length (32)    | 48 + 8 i
 * +---------------------------------------------------------------+
 * ```
 *
 * DATA header (after the SACK ranges):
 *
 * ```
 * +---------------------------------------------------------------+
 * |                 message sequence (32, per session)            | +0
 * |     FIFO sequence (32, per session; 0 for unordered messages) | +4
 * |                 message length in bytes (32)                  | +8
 * |         byte offset of this fragment in the message (32)      | +12
 * |                      fragment index (32)                      | +16
 * |                      fragment count (32)                      | +20
 * +---------------------------------------------------------------+
 * ```
 *
 * DATA piece header (only with FLAG PIECE, right after the DATA header): the packet carries a piece
 * of fragment `fragment index`, cut at multiples of PIECE_UNIT_BYTES from the fragment's start (a
 * fragment sent at a larger packet size than the path now carries; see path-mtu.ts):
 *
 * ```
 * +---------------------------------------------------------------+
 * |        byte offset of the whole fragment in the message (32)  | +24
 * |                length of the whole fragment (32)              | +28
 * +---------------------------------------------------------------+
 * ```
 *
 * PROBE (path-MTU probe): the common header, then zero padding up to the size being tried.
 */
import { LIMITS } from '../core/limits.js';

export const MAGIC = 0x4659; // 'FY'
/** 2: PROBE packets and DATA pieces (path-MTU probing). */
export const VERSION = 2;

// --- common header ---
export const MAGIC_OFFSET = 0;
export const VERSION_OFFSET = 2;
export const TYPE_OFFSET = 3;
export const FLAGS_OFFSET = 4;
export const SACK_COUNT_OFFSET = 5;
export const PAYLOAD_LENGTH_OFFSET = 6;
export const CONNECTION_ID_OFFSET = 8;
export const PACKET_NUMBER_OFFSET = 16;
export const CUMULATIVE_ACK_OFFSET = 24;
export const LEAST_UNACKED_OFFSET = 32;
export const RECEIVE_WINDOW_OFFSET = 40;
export const CHECKSUM_OFFSET = 44;
export const HEADER_BYTES = 48;

// --- one SACK range ---
export const SACK_START_DELTA_OFFSET = 0;
export const SACK_LENGTH_OFFSET = 4;
export const SACK_RANGE_BYTES = 8;

// --- DATA header, relative to its start ---
export const DATA_MESSAGE_SEQ_OFFSET = 0;
export const DATA_FIFO_SEQ_OFFSET = 4;
export const DATA_MESSAGE_LENGTH_OFFSET = 8;
export const DATA_FRAGMENT_OFFSET_OFFSET = 12;
export const DATA_FRAGMENT_INDEX_OFFSET = 16;
export const DATA_FRAGMENT_COUNT_OFFSET = 20;
export const DATA_HEADER_BYTES = 24;

// --- DATA piece header, relative to its start (after the DATA header) ---
export const PIECE_FRAGMENT_OFFSET_OFFSET = 0;
export const PIECE_FRAGMENT_LENGTH_OFFSET = 4;
export const PIECE_HEADER_BYTES = 8;

/** Packet types. A new type needs a new version unless old receivers may drop it. */
export const PacketType = {
  /** A fragment of a message. Ack-eliciting. */
  DATA: 1,
  /** Acknowledgement only (cumulative ack + SACK in the header, delivered ranges in the body). */
  ACK: 2,
  /** Handshake 1, client to server: client connection id, incarnation, nonce. */
  HELLO: 3,
  /** Handshake 2, server to client: server id, incarnation, nonce, proof of the secret. */
  CHALLENGE: 4,
  /** Handshake 3, client to server: proof of the secret. */
  CONFIRM: 5,
  /** Handshake 4, server to client: the session is up. */
  ACCEPT: 6,
  /** Liveness probe; answered at once with an ACK. Ack-eliciting. */
  HEARTBEAT: 7,
  /** "I have no session with this connection id" (stateless, proven by a token). */
  RESET: 8,
  /** Graceful close; answered with CLOSE carrying FLAG_REPLY. */
  CLOSE: 9,
  /** Path-MTU probe: padding only, no data; answered at once with an ACK. Ack-eliciting. */
  PROBE: 10,
} as const;
export type PacketTypeValue = (typeof PacketType)[keyof typeof PacketType];
export const MAX_PACKET_TYPE = 10;

/** Flag bits. */
export const Flags = {
  /** DATA: the message is FIFO (delivered in FIFO-sequence order). */
  FIFO: 0x01,
  /** HEARTBEAT: answer now even if an ACK was sent recently (a delivery probe). */
  ACK_NOW: 0x02,
  /** CLOSE: this is the answer to a CLOSE. */
  REPLY: 0x04,
  /** DATA: the payload is a piece of a fragment; a piece header follows the DATA header. */
  PIECE: 0x08,
} as const;
/** Flags a version-2 sender may set; others make the packet malformed. */
export const KNOWN_FLAGS = 0x0f;

/** Largest value of a 64-bit field ferry accepts (packet numbers stay exact in a JS number). */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;

/** Bytes of DATA overhead in front of a fragment when no SACK range is carried. */
export const DATA_OVERHEAD_BYTES = HEADER_BYTES + DATA_HEADER_BYTES;

/** Smallest packet size, assumed to pass every path (the path-MTU search's base). */
export const BASE_PACKET_BYTES = LIMITS.MIN_PACKET_BYTES;
/**
 * Pieces of a fragment are cut at this size from the fragment's start (the last one shorter): a
 * piece with its headers fits the base packet size, and every sender cuts a fragment the same way, so
 * the receiver tracks pieces as one bit each.
 */
export const PIECE_UNIT_BYTES = BASE_PACKET_BYTES - DATA_OVERHEAD_BYTES - PIECE_HEADER_BYTES;
