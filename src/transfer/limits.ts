/**
 * The named bounds of the transfer engine: windows, per-peer caps, journal batching, timeouts.
 *
 * Why: everything that grows with a client's behaviour (requests in flight, open transfers and
 * handles, buffers, journals) is capped by a name here, so a misbehaving or hostile peer meets a
 * typed LIMIT_EXCEEDED instead of exhausting the server.
 */
import { KiB, MiB } from '../core/limits.js';

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
  /** Journal flush: after this many newly verified blocks... */
  JOURNAL_FLUSH_BLOCKS: 256,
  /** ...or this long after the first unjournaled block, whichever comes first. */
  JOURNAL_FLUSH_MS: 250,
  /** Longest a stopping server waits for requests in progress before closing storage. */
  SHUTDOWN_GRACE_MS: 10_000,
  /** RemoteFlatFs / RemoteBlockDevice split reads and writes into messages of at most this size. */
  REMOTE_IO_CHUNK_BYTES: 1 * MiB,
  /** Largest append-sequence chunk (one APPEND_DATA message). */
  MAX_APPEND_BYTES: 4 * MiB,
} as const;
