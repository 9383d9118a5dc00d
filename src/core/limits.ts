/**
 * Every hard limit in ferry, in one place. A limit bounds something that could otherwise grow
 * without end (a queue, a window, a buffer, a count read off the wire). Configurable settings have
 * defaults elsewhere (config); these are the ceilings that no configuration may exceed, so decoders
 * can refuse absurd values before allocating anything.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

export const LIMITS = {
  // --- wire / transport ---
  /** Smallest packet (UDP payload) size a path must carry: IPv6 minimum MTU minus headers. */
  MIN_PACKET_BYTES: 1200,
  /** Largest UDP payload on IPv4 (65535 - 20 IP - 8 UDP). */
  MAX_PACKET_BYTES: 65507,
  /** Ceiling for the configurable maximum message size. */
  MAX_MESSAGE_BYTES: 1 * GiB,
  /** Ceiling for fragments of one message (MAX_MESSAGE_BYTES / smallest payload, rounded up). */
  MAX_FRAGMENTS: 1_048_576,
  /** Selective-ack ranges carried in one packet. */
  MAX_SACK_RANGES: 16,
  /** Message records in one DATA packet (small messages coalesced; bounds the decoder's tables). */
  MAX_RECORDS_PER_PACKET: 1024,
  /** Peers one endpoint will hold state for. */
  MAX_PEERS: 65_536,
  /** Messages one session may have between its oldest undelivered and its newest (the receiver's window). */
  MAX_MESSAGE_WINDOW: 16_384,
  /** Packets one session may have in flight (the sender's packet log and the largest congestion window). */
  MAX_IN_FLIGHT_PACKETS: 32_768,
  /** Received-packet ranges a session remembers above its cumulative ack (older ones are forgotten). */
  MAX_TRACKED_RANGES: 64,
  /** Half-open handshakes (HELLO answered, CONFIRM not yet seen) an endpoint holds. */
  MAX_PENDING_HANDSHAKES: 1024,
  /** Ended sessions kept for `peers({ includeInactive: true })` and stats. */
  MAX_INACTIVE_PEERS: 256,
  /** Retired connection ids remembered so late packets count as stale rather than unknown. */
  MAX_RETIRED_CONNECTION_IDS: 4096,
  /** Finished messages kept for `messageState` queries. */
  MAX_MESSAGE_HISTORY: 8192,
  /** RESET answers an endpoint sends per second at most (a forged flood must not make it a reflector). */
  MAX_RESETS_PER_SEC: 100,
  /**
   * Packet numbers below the highest one opened that a sealed session still accepts once each (its
   * replay window, a multiple of 32; twice the largest in-flight window, so reordering never drops).
   */
  REPLAY_WINDOW_PACKETS: 65_536,
  /**
   * Free reassembly buffers an endpoint keeps for reuse when its handler lends payloads back
   * (`onMessage(handler, { reusePayloads: true })`); past it a freed buffer goes to the garbage
   * collector. 32 MiB is 128 blocks of 256 KiB: more than the transfer window in flight.
   */
  PAYLOAD_POOL_BYTES: 32 * 1024 * 1024,
  /** Smallest message whose buffer is pooled; smaller ones come from Node's own buffer pool. */
  PAYLOAD_POOL_MIN_BYTES: 16 * 1024,
  /**
   * How far above a session's cumulative ack a received packet number may be. A sender's numbers
   * run ahead of what the peer acked by its in-flight window and recent losses, far below this; a
   * larger jump (a peer holding valid keys can send one) would put a SACK range beyond the 32-bit
   * delta an ACK carries. Such a packet is dropped as malformed before it is opened.
   */
  MAX_PACKET_NUMBER_GAP: 2 ** 30,
  /**
   * How long one handshake cookie key (and the server's X25519 keys derived from it) is used; a
   * cookie is accepted while its key is the current or the previous one, i.e. for at most twice this.
   */
  HANDSHAKE_COOKIE_ROTATE_MS: 30_000,
  /** Ceiling of the UDP socket buffers ferry asks the kernel for. */
  MAX_SOCKET_BUFFER_BYTES: 256 * MiB,
  /** A DATA fragment at least this long goes out as slices of the message (no copy); smaller ones are copied. */
  GATHER_MIN_PAYLOAD_BYTES: 512,
  /** Most payload slices in one scatter-gather datagram; a fragment spanning more pieces is copied. */
  MAX_GATHER_SLICES: 8,

  // --- nbd (adapter) ---
  /** Ceiling of the NBD maximum payload (READ/WRITE length); 32 MiB is what every NBD client accepts. */
  NBD_MAX_PAYLOAD_BYTES: 32 * MiB,
  /** Ceiling of requests in flight on one NBD connection. */
  NBD_MAX_IN_FLIGHT: 1024,
  /** Ceiling of payload bytes in flight on one NBD connection. */
  NBD_MAX_IN_FLIGHT_BYTES: 1 * GiB,
  /** Ceiling of NBD client connections one server holds. */
  NBD_MAX_CONNECTIONS: 1024,
  /** Largest NBD option data read into memory; longer options are skipped and refused (TOO_BIG). */
  NBD_MAX_OPTION_BYTES: 64 * KiB,
  /** Options one NBD client may send before the server hangs up (endless haggling is a DoS). */
  NBD_MAX_OPTIONS: 1024,
  /** Block status descriptors in one NBD reply (the spec asks for at most 2^20). */
  NBD_MAX_EXTENTS_PER_REPLY: 65_536,
  /** Per-request buffer each NBD request slot owns: payloads up to this size never allocate. */
  NBD_SLOT_BUFFER_BYTES: 64 * KiB,
  /** Structured NBD READ replies send zero runs at least this long as holes (shorter reads are not scanned). */
  NBD_HOLE_READ_MIN_BYTES: 64 * KiB,
  /** Size of the server-wide pooled buffers for NBD payloads and reads above NBD_SLOT_BUFFER_BYTES. */
  NBD_LARGE_BUFFER_BYTES: 1 * MiB,
  /** Pooled large buffers per NBD server (shared by its connections; beyond them, requests allocate). */
  NBD_LARGE_BUFFER_COUNT: 64,
  /** Buffer each NBD connection reads its socket into (reused for every read; write payloads land in their own buffers). */
  NBD_READ_BUFFER_BYTES: 64 * KiB,

  // --- storage ---
  /**
   * Longest file name (a whole key such as `photos/2026/img.jpg`), in UTF-8 bytes: S3's key limit,
   * and well inside Linux's PATH_MAX (4096) once joined to a server root.
   */
  MAX_NAME_BYTES: 1024,
  /**
   * Longest segment of a name (the text between `/`s), in UTF-8 bytes: NAME_MAX of ext4, XFS, btrfs
   * and APFS, so every segment can be a host folder or file name in the directory backend.
   */
  MAX_SEGMENT_BYTES: 255,
  /** Largest single read or write request on a block device or file. */
  MAX_IO_BYTES: 64 * MiB,
  /** Largest file or device ferry serves. */
  MAX_FILE_BYTES: 16 * TiB,
  /**
   * Most entries (files plus folders) returned by one list page: a folder of a million files lists
   * in pages of at most this many, never all at once.
   */
  MAX_LIST_PAGE: 10_000,
  /** Chunk of the memory block device: the unit it allocates, frees and reports in extents. */
  BLOCKDEV_MEMORY_CHUNK_BYTES: 64 * KiB,
  /** Default memory limit of one memory block device (each device may set its own). */
  BLOCKDEV_MEMORY_DEFAULT_LIMIT_BYTES: 1 * GiB,
  /** Longest write of zeros the file block device issues for trim/writeZeroes (one shared zero buffer). */
  BLOCKDEV_FILE_ZERO_WRITE_BYTES: 1 * MiB,
  /** File block device: trims/zeroings at least this long punch a hole (fallocate); shorter ones write zeros. */
  BLOCKDEV_FILE_PUNCH_MIN_BYTES: 1 * MiB,
  /** File block device: how long one hole punch may take before it falls back to writing zeros. */
  BLOCKDEV_FILE_PUNCH_TIMEOUT_MS: 30_000,
  /** File block device: most bytes one extents() call reads looking for all-zero (hole) ranges. */
  BLOCKDEV_FILE_EXTENTS_SCAN_BYTES: 64 * MiB,
  /** Handles one flat filesystem keeps open at once (LIMIT_EXCEEDED past it). */
  MAX_OPEN_FILES: 1024,
  /** Chunk of a memory flat filesystem's sparse file: holes cost nothing, a write allocates whole chunks. */
  FLATFS_MEMORY_CHUNK_BYTES: 64 * KiB,
  /** Directory flat filesystem: most lstat calls in flight while listing or scanning the root. */
  FLATFS_DIR_STAT_CONCURRENCY: 32,
} as const;

/**
 * The transfer engine's bounds (src/transfer): windows, per-peer caps on the server, journal
 * batching, timeouts. Everything a client's behaviour could grow is capped here, so a misbehaving
 * or hostile peer meets a typed LIMIT_EXCEEDED instead of exhausting the server.
 */
export const TRANSFER_LIMITS = {
  /** Smallest and largest block of an upload or download (a power of two). */
  MIN_BLOCK_BYTES: 4 * KiB,
  MAX_BLOCK_BYTES: 4 * MiB,
  /** Block size `ferry cp` uses unless told otherwise (grown for huge files, see MAX_BLOCKS). */
  DEFAULT_BLOCK_BYTES: 256 * KiB,
  /** Most blocks in one upload: bounds the verified-block bitmap (and journal) to 512 KiB. */
  MAX_BLOCKS: 4 * 1024 * 1024,
  /** Blocks a copy keeps in flight by default (upload blocks or download reads). */
  DEFAULT_WINDOW_BLOCKS: 32,
  /** Ceiling of the configurable window. */
  MAX_WINDOW_BLOCKS: 256,
  /** Requests one client keeps in flight (RpcClient ceiling). */
  RPC_MAX_IN_FLIGHT: 512,
  /** A request unanswered this long fails with TIMEOUT. */
  RPC_TIMEOUT_MS: 120_000,
  /** How often the RPC client looks for timed-out requests. */
  RPC_SWEEP_MS: 1000,
  /** Back-pressure waits before a send gives up. */
  SEND_RETRIES: 1000,
  /** Requests one peer may have in progress at the server; more get LIMIT_EXCEEDED. */
  SERVER_MAX_REQUESTS_PER_PEER: 1024,
  /** Uploads, appends and downloads one peer may have open at once. */
  SERVER_MAX_TRANSFERS_PER_PEER: 64,
  /** Transfers open on a server at once, over all peers. */
  SERVER_MAX_TRANSFERS: 1024,
  /** File handles (RemoteFlatFs) and devices one peer may hold open. */
  SERVER_MAX_HANDLES_PER_PEER: 256,
  /** Pooled read buffers of a server (each MAX_BLOCK_BYTES + a reply header). */
  SERVER_READ_BUFFERS: 32,
  /**
   * Read buffers one peer may hold at once (a quarter of SERVER_READ_BUFFERS): its further reads
   * wait, so a client that stops taking replies cannot stall everyone else's downloads.
   */
  SERVER_READ_BUFFERS_PER_PEER: 8,
  /**
   * A download read reply not received by the peer this long after it was sent is given up: its
   * buffer is written off and replaced, the peer's downloads fail and its session is ended.
   */
  SERVER_READ_RELEASE_MS: 30_000,
  /**
   * Unfinished uploads (open or left resumable) one address may hold on a server; a new upload past
   * it gets LIMIT_EXCEEDED (its own ones may still be resumed). Counted from what the server saw begun.
   */
  SERVER_MAX_UNFINISHED_UPLOADS_PER_HOST: 256,
  /** `ferry serve --part-ttl` default: an upload idle this long is aborted and its files removed. */
  DEFAULT_PART_TTL_MS: 24 * 60 * 60 * 1000,
  /** How often the server looks for expired uploads (half the part TTL when that is shorter). */
  PART_SWEEP_INTERVAL_MS: 10 * 60 * 1000,
  /** Shortest sweep interval, whatever the TTL. */
  PART_SWEEP_MIN_INTERVAL_MS: 1000,
  /** STATFS reports part-file usage counted at most this long ago (each count lists the hidden names). */
  PART_USAGE_CACHE_MS: 1000,
  /** Journal flush: after this many newly verified blocks... */
  JOURNAL_FLUSH_BLOCKS: 256,
  /** ...or this long after the first unjournaled block, whichever comes first. */
  JOURNAL_FLUSH_MS: 250,
  /** Acknowledged blocks that may be not yet durable at once; past it, acks wait for the journal. */
  JOURNAL_MAX_UNJOURNALED_BLOCKS: 512,
  /** Longest a stopping server waits for requests in progress before closing storage. */
  SHUTDOWN_GRACE_MS: 10_000,
  /** RemoteFlatFs / RemoteBlockDevice split reads and writes into messages of at most this size. */
  REMOTE_IO_CHUNK_BYTES: 1 * MiB,
  /** Largest append-sequence chunk (one APPEND_DATA message). */
  MAX_APPEND_BYTES: 4 * MiB,
  /** Discovery answers a server sends one source address per second at most (a probe flood is no reflector). */
  DISCOVERY_ANSWERS_PER_SOURCE_PER_SEC: 4,
  /** Discovery answers a server sends per second at most, over all sources. */
  DISCOVERY_ANSWERS_PER_SEC: 64,
} as const;
