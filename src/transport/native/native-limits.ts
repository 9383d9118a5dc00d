/**
 * Bounds and defaults of the native UDP socket. The ceilings are the ones native/limits.h compiles
 * in (the addon exports them as `limits`, and a test keeps the two tables equal); the defaults are
 * what NativeUdpSocket uses when an option is left out. Nothing here is configurable beyond them.
 */
import { LIMITS } from '../../core/limits.js';

export const NATIVE_UDP_LIMITS = {
  /** Datagrams in one sendmmsg call (the kernel caps it at UIO_MAXIOV = 1024). */
  MAX_SEND_BATCH: 1024,
  /** Buffer slices (iovecs) in one send batch, over all its datagrams. */
  MAX_SEND_SLICES: 4096,
  /** Buffer slices in one datagram: a header plus payload views. */
  MAX_SLICES_PER_DATAGRAM: 16,
  /** Datagrams one recvmmsg call (one batch callback) takes at most. */
  MAX_RECV_BATCH: 1024,
  /** Smallest and largest room for one datagram in the receive slab; GRO needs the largest. */
  MIN_RECV_SLOT_BYTES: 1024,
  MAX_RECV_SLOT_BYTES: 65_536,
  /** Largest receive slab (batch x slot). */
  MAX_SLAB_BYTES: 64 * 1024 * 1024,
  /** Batch callbacks per readiness event before the event loop gets a turn. */
  MAX_RECV_ROUNDS: 8,
  /** Segments in one GSO buffer (the kernel's UDP_MAX_SEGMENTS was 64 before 6.x). */
  MAX_GSO_SEGMENTS: 64,
  /** Largest UDP payload of a datagram or a GSO buffer. */
  MAX_DATAGRAM_BYTES: LIMITS.MAX_PACKET_BYTES,
  /** Ceiling of the socket buffers asked for. */
  MAX_SOCKET_BUFFER_BYTES: LIMITS.MAX_SOCKET_BUFFER_BYTES,
  /** uint32 words per received datagram record and per outgoing datagram descriptor. */
  META_STRIDE: 8,
  DESC_STRIDE: 8,
} as const;

export const NATIVE_UDP_DEFAULTS = {
  /** Datagrams per recvmmsg. */
  RECV_BATCH: 64,
  /** Room per datagram in the slab: the largest, so GRO-coalesced and 64 KiB datagrams fit. */
  RECV_SLOT_BYTES: 65_536,
  /** Datagrams a SendBatch holds unless told otherwise. */
  SEND_BATCH: 64,
  /** Source addresses remembered as ready {host, port} objects (a few peers per socket is the norm). */
  SOURCE_CACHE_ENTRIES: 64,
  /** Parsed destinations a socket remembers by host and port. */
  DESTINATION_CACHE_ENTRIES: 1024,
} as const;

/** Word offsets in a received datagram's record (see native/limits.h FERRY_META_*). */
export const META = { OFFSET: 0, LENGTH: 1, SEGMENT: 2, PORT_FLAGS: 3, ADDR: 4 } as const;
/** Word offsets in an outgoing datagram's descriptor (FERRY_DESC_*). */
export const DESC = { SLICES: 0, PORT_FLAGS: 1, ADDR: 2, SEGMENT: 6 } as const;
/** Bits above the 16-bit port in the port/flags word. */
export const FLAG_IPV6 = 1 << 16;
export const FLAG_TRUNCATED = 1 << 17;
/** IPv4 + UDP and IPv6 + UDP header bytes: a path of MTU m carries datagrams of m minus these. */
export const IPV4_UDP_OVERHEAD_BYTES = 28;
export const IPV6_UDP_OVERHEAD_BYTES = 48;
