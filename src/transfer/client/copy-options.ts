/**
 * The options, progress reports and summaries of a copy, shared by uploads, append sequences and
 * downloads (and by `ferry cp --json`, `ferry demo`, and library users), with the small rules all
 * three apply the same way: the window, the block size, the abort check, the hash as text.
 */
import type { Clock } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';

export interface CopyProgress {
  /** Bytes of the file confirmed so far (acknowledged by the server, or received and written). */
  bytesDone: number;
  /** File size, or null while unknown (an append from a pipe). */
  bytesTotal: number | null;
}

export interface CopyOptions {
  /** Block size, a power of two (default TRANSFER_LIMITS.DEFAULT_BLOCK_BYTES, grown for huge files). */
  blockBytes?: number;
  /** Blocks in flight (default TRANSFER_LIMITS.DEFAULT_WINDOW_BLOCKS). */
  windowBlocks?: number;
  /** Continue a partial copy: an upload sends only what the server's journal lacks, a download into a part file asks only for what its journal lacks. */
  resume?: boolean;
  /** Check the whole-file xxhash64 (default true). Per-block hashes are always checked. */
  verify?: boolean;
  /** Cap on payload bytes per second (default none). */
  rateBytesPerSec?: number;
  /** Called after each confirmed block. */
  onProgress?: (p: CopyProgress) => void;
  /** Stops the copy (an upload is left resumable). */
  signal?: AbortSignal;
  clock?: Clock;
}

export interface CopyStats {
  direction: 'upload' | 'download';
  mode: 'offset' | 'append';
  name: string;
  /** Size of the file copied. */
  bytes: number;
  /** Payload bytes moved by this run (less than `bytes` after a resume). */
  bytesMoved: number;
  seconds: number;
  rateBytesPerSec: number;
  blockBytes: number;
  blocksSent: number;
  /** Blocks sent again after the receiver refused them (hash mismatch). */
  blocksResent: number;
  /** Blocks a resume did not need to send. */
  blocksSkipped: number;
  resumed: boolean;
  /** Transport retransmissions to this server during the copy. */
  retransmits: number;
  rttMs: number;
  /** Whole-file xxhash64 (hex), or null with verify off. */
  fileHash: string | null;
}

/** What a copy function reports; the client adds the timing and the transport's counters. */
export type CopyResult = Omit<CopyStats, 'retransmits' | 'rttMs' | 'seconds' | 'rateBytesPerSec'>;

/** A whole-file hash as CopyStats shows it: 16 hex digits. */
export function hashHex(hash: bigint): string {
  return hash.toString(16).padStart(16, '0');
}

/** The error for a local source that got shorter while being copied. */
export function sourceShrank(): FerryError {
  return new FerryError('IO_ERROR', 'the source shrank while being copied: copy again');
}

/** Throws ABORTED if the signal fired. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FerryError('ABORTED', 'the copy was stopped');
}

/** Blocks a copy keeps in flight: the asked window (default DEFAULT_WINDOW_BLOCKS) within 1..MAX_WINDOW_BLOCKS. */
export function windowBlocksOf(opts: CopyOptions): number {
  return Math.max(
    1,
    Math.min(opts.windowBlocks ?? TRANSFER_LIMITS.DEFAULT_WINDOW_BLOCKS, TRANSFER_LIMITS.MAX_WINDOW_BLOCKS),
  );
}

/** Picks the block size: the asked one, grown until the file fits in the block limit. */
export function chooseBlockBytes(
  sizeBytes: number,
  asked: number,
  maxBlocks: number,
  maxBlockBytes: number,
): number {
  let b = asked;
  while (Math.ceil(sizeBytes / b) > maxBlocks && b < maxBlockBytes) b *= 2;
  return b;
}
