/**
 * The limits of the S3 flat-filesystem backend, in one place.
 *
 * Why its own table: the sizes here follow S3's rules (a multipart part is at least 5 MiB except
 * the last, at most 10,000 parts, a single copy at most 5 GiB), not ferry's wire, so they change
 * together and nowhere else.
 */
import { GiB, MiB, TiB } from '../../core/limits.js';

export const S3_LIMITS = {
  /**
   * Smallest slot of a file: files are cut into slots of this size (or larger, see PART_SLOTS), and
   * a changed slot is uploaded as one multipart part. S3 refuses non-last parts under 5 MiB.
   */
  MIN_PART_BYTES: 5 * MiB,
  /** S3's part-number ceiling: a file has at most this many slots. */
  MAX_PARTS: 10_000,
  /**
   * A file's slot size is chosen when it is opened so that it can grow to this many times its size
   * (at least) within MAX_PARTS slots; growing past that is LIMIT_EXCEEDED.
   */
  PART_GROWTH_FACTOR: 4,
  /** Largest object one CopyObject may copy; larger ones are copied part by part. */
  MAX_SINGLE_COPY_BYTES: 5 * GiB,
  /** Size of one part of a part-by-part copy (a rename or metadata change of a large object). */
  COPY_PART_BYTES: 1 * GiB,
  /** Most part uploads or copies in flight for one file. */
  PART_CONCURRENCY: 4,
  /** Most ranged GETs in flight for one read. */
  READ_CONCURRENCY: 4,
  /** Longest single ranged GET (a longer read is split into this many bytes each). */
  READ_PIECE_BYTES: 8 * MiB,
  /** HEADs in flight while a list page gathers its files' times and modes (S3 lists none). */
  LIST_HEAD_CONCURRENCY: 16,
  /** Keys per ListObjectsV2 request (S3's own maximum). */
  LIST_KEYS: 1000,
  /** Default quota when none is given: the bucket's size is not exposed by S3. */
  DEFAULT_QUOTA_BYTES: 1 * TiB,
  /** Most HTTP connections to the gateway. */
  MAX_SOCKETS: 64,
  /** An S3 request that takes longer fails with TIMEOUT. */
  REQUEST_TIMEOUT_MS: 120_000,
} as const;
