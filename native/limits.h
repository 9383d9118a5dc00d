/*
 * Every bound of the native UDP addon, in one place. The TypeScript side has the same numbers in
 * src/transport/native/native-limits.ts; the addon exports these (`limits`) and a test keeps the two
 * in step. Each count read from JavaScript is checked against one of these before it is used.
 */
#ifndef FERRY_NATIVE_LIMITS_H
#define FERRY_NATIVE_LIMITS_H

/* Datagrams in one sendmmsg call (the kernel caps vlen at UIO_MAXIOV = 1024). */
#define FERRY_MAX_SEND_BATCH 1024
/* Buffer slices (iovecs) in one send batch, over all its datagrams. */
#define FERRY_MAX_SEND_SLICES 4096
/* Buffer slices in one datagram: a header plus payload views. */
#define FERRY_MAX_SLICES_PER_DATAGRAM 16
/* Datagrams in one recvmmsg call (one JavaScript callback). */
#define FERRY_MAX_RECV_BATCH 1024
/* Smallest and largest receive slot (one datagram's room in the slab). GRO needs the largest. */
#define FERRY_MIN_RECV_SLOT_BYTES 1024
#define FERRY_MAX_RECV_SLOT_BYTES 65536
/* Largest receive slab (batch x slot). */
#define FERRY_MAX_SLAB_BYTES (64 * 1024 * 1024)
/* recvmmsg rounds (callbacks) per readiness event before yielding to the event loop. */
#define FERRY_MAX_RECV_ROUNDS 8
/* Segments in one GSO send (the kernel's UDP_MAX_SEGMENTS was 64 before 6.x; stay within it). */
#define FERRY_MAX_GSO_SEGMENTS 64
/* Largest UDP payload of one datagram or one GSO buffer (65535 - 20 IPv4 - 8 UDP). */
#define FERRY_MAX_DATAGRAM_BYTES 65507
/* Ceiling of the socket buffers asked for (src/core/limits.ts MAX_SOCKET_BUFFER_BYTES). */
#define FERRY_MAX_SOCKET_BUFFER_BYTES (256 * 1024 * 1024)

/* Layout of one received datagram's record in the metadata array (uint32 words). */
#define FERRY_META_OFFSET 0   /* byte offset of the datagram in the slab */
#define FERRY_META_LENGTH 1   /* bytes received (all segments when coalesced) */
#define FERRY_META_SEGMENT 2  /* GRO segment size, 0 when not coalesced */
#define FERRY_META_PORT_FLAGS 3 /* low 16 bits: source port; FERRY_FLAG_* above */
#define FERRY_META_ADDR 4     /* 4 words: IPv4 in word 4, IPv6 in words 4..7, network byte order */
#define FERRY_META_STRIDE 8

/* Layout of one outgoing datagram's descriptor (uint32 words). */
#define FERRY_DESC_SLICES 0   /* slices this datagram takes from the slice list, in order */
#define FERRY_DESC_PORT_FLAGS 1 /* low 16 bits: destination port; FERRY_FLAG_IPV6 */
#define FERRY_DESC_ADDR 2     /* 4 words, as FERRY_META_ADDR */
#define FERRY_DESC_SEGMENT 6  /* GSO segment size, 0 to send the datagram whole */
#define FERRY_DESC_STRIDE 8

#define FERRY_FLAG_IPV6 (1u << 16)
#define FERRY_FLAG_TRUNCATED (1u << 17)

#endif
