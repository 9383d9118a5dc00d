/**
 * The transfer server's counters, read by tests and stats.
 *
 * Why a module of its own: the server scope and the transfer table both count into them, and neither
 * may import the other (the scope holds the table).
 */
export interface ServerStats {
  requests: number;
  errors: number;
  blocksWritten: number;
  blocksRefused: number;
  uploadsCommitted: number;
  downloadsServed: number;
  /** Download read buffers written off because their reply was not received in time (read-buffers.ts). */
  readBuffersReclaimed: number;
}
