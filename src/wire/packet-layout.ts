/**
 * The byte layout of every ferry datagram, as named offsets (Aeron-flyweight style).
 *
 * Why a table of offsets: the encoder, the fast decoder, the slow reference decoder in the tests and
 * docs/protocol.md all read from this one file, so the layout cannot drift between them. All integers
 * are big-endian (network order). 64-bit fields are written as two 32-bit halves (high first); packet
 * numbers stay below 2^53 so they fit a JavaScript number exactly.
 *
 * Common header (48 bytes), then `sackCount` selective-ack ranges (8 bytes each), then the body
 * (`payloadLength` bytes, to the end of the datagram). A DATA body is one or more message records;
 * other types have their own bodies (control-bodies.ts):
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+---------------+---------------+
 * |          magic 0x4659         |  version (3)  |     type      |  0
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
 * |  xxhash32 of the whole datagram with this field zeroed, or 0  | 44
 * +---------------------------------------------------------------+
 * |  SACK range i: start - cumulative ack (32)  |  length (32)    | 48 + 8 i
 * +---------------------------------------------------------------+
 * |  body (payloadLength bytes; encrypted in a sealed packet)     |
 * +---------------------------------------------------------------+
 * |  AEAD tag (16 bytes; sealed packets only)                     |
 * +---------------------------------------------------------------+
 * ```
 *
 * A sealed packet (every packet of a session with encryption on: DATA, ACK, HEARTBEAT, CLOSE, PROBE,
 * ACCEPT) has its checksum field 0, its header and SACK ranges authenticated as associated data, its
 * body encrypted, and the tag appended (transport/crypto/packet-aead.ts). The handshake packets
 * (HELLO, CHALLENGE, CONFIRM, REJECT), RESET, and the packets of a session with encryption off carry
 * the xxhash32 instead.
 *
 * DATA body: records back to back until payloadLength is used up (at least one, at most
 * LIMITS.MAX_RECORDS_PER_PACKET). Several small messages travel in one packet this way; a message
 * larger than one packet goes as fragment records, one per packet. Each record:
 *
 * ```
 * +---------------------------------------------------------------+
 * |        message sequence (low 32 bits, per session)            | +0
 * |     FIFO sequence (low 32 bits, per session; 0: unordered)    | +4
 * |   record length (16)          | record flags  |   reserved 0  | +8
 * +---------------------------------------------------------------+
 * only with record flag FRAGMENT (the message is in several records):
 * |                 message length in bytes (32)                  | +12
 * |         byte offset of these bytes in the message (32)        | +16
 * |                      fragment index (32)                      | +20
 * |       fragment count (32, >= 2; >= 1 with PIECE)              | +24
 * +---------------------------------------------------------------+
 * only with record flag PIECE (which needs FRAGMENT too):
 * |        byte offset of the whole fragment in the message (32)  | +28
 * |                length of the whole fragment (32)              | +32
 * +---------------------------------------------------------------+
 * |  record length bytes of the message                           |
 * +---------------------------------------------------------------+
 * ```
 *
 * Message and FIFO sequences are full numbers in each side; a record carries their low 32 bits, which
 * the receiver expands near its window (sequence.ts).
 *
 * A record without FRAGMENT is a whole message: its length is the record length. A PIECE record
 * carries a piece of fragment `fragment index`, cut at multiples of PIECE_UNIT_BYTES from the
 * fragment's start (a fragment cut for a larger packet size than the path now carries; see
 * path-mtu.ts); its fragment fields say where the piece lies.
 *
 * PROBE (path-MTU probe): the common header, then zero padding up to the size being tried.
 */

import { LIMITS } from '../core/limits.js';

export const MAGIC = 0x4659; // 'FY'
/**
 * 4: session packets sealed with an AEAD (the tag follows the body), an X25519 handshake where the
 * client proves first and the server keeps no state before it has (HELLO / CHALLENGE with a cookie /
 * CONFIRM / ACCEPT or REJECT), address-bound RESET tokens (3: DATA carried message records, several
 * small messages per packet; 2 added PROBE and DATA pieces; 1 carried one fragment per packet).
 */
export const VERSION = 4;
/**
 * Bytes of the AEAD tag after the body of a sealed packet (AES-256-GCM). `payloadLength` does not
 * count it: a sealed datagram is header + SACK ranges + body + tag.
 */
export const AEAD_TAG_BYTES = 16;

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

// --- DATA record header, relative to the record's start ---
export const RECORD_MESSAGE_SEQ_OFFSET = 0;
export const RECORD_FIFO_SEQ_OFFSET = 4;
export const RECORD_LENGTH_OFFSET = 8;
export const RECORD_FLAGS_OFFSET = 10;
export const RECORD_RESERVED_OFFSET = 11;
/** Header of a record holding a whole message. */
export const RECORD_HEADER_BYTES = 12;
// fragment extension (record flag FRAGMENT), relative to the record's start
export const RECORD_MESSAGE_LENGTH_OFFSET = 12;
export const RECORD_FRAGMENT_OFFSET_OFFSET = 16;
export const RECORD_FRAGMENT_INDEX_OFFSET = 20;
export const RECORD_FRAGMENT_COUNT_OFFSET = 24;
/** Header of a record holding one fragment of a larger message. */
export const FRAGMENT_RECORD_HEADER_BYTES = 28;
// piece extension (record flag PIECE), relative to the record's start
export const RECORD_PIECE_FRAGMENT_OFFSET_OFFSET = 28;
export const RECORD_PIECE_FRAGMENT_LENGTH_OFFSET = 32;
export const PIECE_HEADER_BYTES = 8;
/** Header of a record holding a piece of a fragment. */
export const PIECE_RECORD_HEADER_BYTES = FRAGMENT_RECORD_HEADER_BYTES + PIECE_HEADER_BYTES;

/** Record flag bits. */
export const RecordFlags = {
  /** The record is one fragment of a message cut into several (the fragment fields follow). */
  FRAGMENT: 0x01,
  /** The record is a piece of a fragment (with FRAGMENT; the piece fields follow the fragment's). */
  PIECE: 0x02,
} as const;
/** Record flags a version-3 sender may set; others make the packet malformed. */
export const KNOWN_RECORD_FLAGS = 0x03;

/** Packet types. A new type needs a new version unless old receivers may drop it. */
export const PacketType = {
  /** Message records (whole small messages, or one fragment of a large one). Ack-eliciting. */
  DATA: 1,
  /** Acknowledgement only (cumulative ack + SACK in the header, delivered ranges in the body). */
  ACK: 2,
  /** Handshake 1, client to server: client connection id, incarnation, nonce, X25519 key (padded). */
  HELLO: 3,
  /** Handshake 2, server to client: server id, incarnation, nonce, X25519 key, stateless cookie. */
  CHALLENGE: 4,
  /** Handshake 3, client to server: both sides' fields, the cookie, the client's proof. */
  CONFIRM: 5,
  /** Handshake 4, server to client (sealed): the server's proof; the session is up. */
  ACCEPT: 6,
  /** Liveness probe; answered at once with an ACK. Ack-eliciting. */
  HEARTBEAT: 7,
  /** "I have no session with this connection id" (stateless, proven by an address-bound token). */
  RESET: 8,
  /** Graceful close; answered with CLOSE carrying FLAG_REPLY. */
  CLOSE: 9,
  /** Path-MTU probe: padding only, no data; answered at once with an ACK. Ack-eliciting. */
  PROBE: 10,
  /** Handshake refusal, server to client: wrong client proof or an encryption mismatch. */
  REJECT: 11,
} as const;
export type PacketTypeValue = (typeof PacketType)[keyof typeof PacketType];
export const MAX_PACKET_TYPE = 11;

/** Flag bits. */
export const Flags = {
  /** HEARTBEAT: answer now even if an ACK was sent recently (a delivery probe). */
  ACK_NOW: 0x02,
  /** CLOSE: this is the answer to a CLOSE. */
  REPLY: 0x04,
} as const;
/**
 * Flags a version-3 sender may set; others make the packet malformed. (0x01 FIFO and 0x08 PIECE
 * were DATA packet flags before version 3: a record says FIFO by a non-zero FIFO sequence, and
 * PIECE by its record flag, now.)
 */
export const KNOWN_FLAGS = 0x06;

/** Largest value of a 64-bit field ferry accepts (packet numbers stay exact in a JS number). */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;

/** Bytes of DATA overhead in front of a fragment when no SACK range is carried. */
export const DATA_OVERHEAD_BYTES = HEADER_BYTES + FRAGMENT_RECORD_HEADER_BYTES;

/** Smallest packet size, assumed to pass every path (the path-MTU search's base). */
export const BASE_PACKET_BYTES = LIMITS.MIN_PACKET_BYTES;
/**
 * Pieces of a fragment are cut at this size from the fragment's start (the last one shorter): a
 * piece with its record header fits the base packet size, and every sender cuts a fragment the same
 * way, so the receiver tracks pieces as one bit each.
 */
export const PIECE_UNIT_BYTES = BASE_PACKET_BYTES - HEADER_BYTES - PIECE_RECORD_HEADER_BYTES - AEAD_TAG_BYTES;
