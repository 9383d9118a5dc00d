/**
 * How the remote storage clients split a large read or write: into messages of at most
 * REMOTE_IO_CHUNK_BYTES, all sent at once (requests carry ids and complete in any order), each
 * reply landing at its place in the caller's buffer.
 *
 * Why shared: RemoteFlatFs and RemoteBlockDevice split their I/O the same way; one loop keeps the
 * chunk bounds (and the views into the caller's data, never copies) the same for both. A write's
 * chunk is lent to the transport as a piece of its own (RpcClient.callLending): its bytes go from the
 * caller's buffer straight into packets, with no copy into an encoded request first.
 */
import { TRANSFER_LIMITS } from '../../core/limits.js';

/** Largest I/O one message carries. */
export const CHUNK_BYTES = TRANSFER_LIMITS.REMOTE_IO_CHUNK_BYTES;

/**
 * Runs `run(at, length)` for every chunk of [0, totalBytes), concurrently; resolves to their
 * results in chunk order. `atLeastOne`: a zero-length I/O still sends one (empty) request, so the
 * server checks its handle and range.
 */
export function inChunks<T>(
  totalBytes: number,
  run: (at: number, length: number) => Promise<T>,
  atLeastOne = false,
): Promise<T[]> {
  const jobs: Promise<T>[] = [];
  if (totalBytes === 0 && atLeastOne) jobs.push(run(0, 0));
  for (let at = 0; at < totalBytes; at += CHUNK_BYTES)
    jobs.push(run(at, Math.min(CHUNK_BYTES, totalBytes - at)));
  return Promise.all(jobs);
}

/** The empty `bytes` field of a request whose data goes out as a piece of its own (callLending). */
export const NO_BYTES: Buffer = Buffer.alloc(0);

/** The bytes of `data` one chunk carries: a Buffer view, not a copy. */
export function pieceOf(data: Uint8Array, at: number, length: number): Buffer {
  return Buffer.from(data.buffer, data.byteOffset + at, length);
}
