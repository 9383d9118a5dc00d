/**
 * Whole small files sent several per message (UPLOAD_FILES), and the whole-file hash of a local
 * file (what `sync --checksum` compares with FILE_HASH's answer).
 *
 * Why: a small file sent on its own costs a begin, a block and a commit, three round trips for a
 * few KiB; a tree of many small files is then bound by round trips. Up to FILE_BATCH_MAX_FILES files
 * and FILE_BATCH_MAX_BYTES go in one message, and the server publishes each with the same promise
 * as a single upload's commit before it answers.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { createXxh64, initChecksums, xxh64 } from '../../core/checksum.js';
import { FerryError } from '../../core/errors.js';
import {
  batchRecordBytes,
  decodeFileBatch,
  encodeFileBatch,
  encodeNameList,
  FILE_BATCH_MAX_BYTES,
  FILE_BATCH_MAX_FILES,
  type BatchFile,
} from '../../wire/transfer/index.js';
import { downloadPartNames } from './download-part.js';
import { errorFromCode, type RpcClient } from './rpc-client.js';

/** Files this size or smaller go in batches (a default block: a larger file is sent on its own). */
export const SMALL_FILE_MAX_BYTES = 256 * 1024;
/** Bytes read per step when hashing a local file. */
const LOCAL_HASH_CHUNK_BYTES = 1024 * 1024;

/** One small file to upload (its xxhash64 is computed here). */
export interface SmallFile {
  name: string;
  /** Permission bits (mode & 0o777). */
  mode: number;
  mtimeMs: number;
  atimeMs: number;
  data: Uint8Array;
}

export interface BatchResult {
  /** One per file, in order: true when the server published it. */
  committed: boolean[];
  /** Why the first file that was not published failed, or null when all were. */
  error: FerryError | null;
}

/** Bytes a small file adds to a batch (to group files within FILE_BATCH_MAX_BYTES). */
export function smallFileBatchBytes(name: string, sizeBytes: number): number {
  return batchRecordBytes(Buffer.byteLength(name, 'utf8'), sizeBytes);
}

/** What one batch may hold: files, and bytes of records (smallFileBatchBytes each). */
export const BATCH_LIMITS = { maxFiles: FILE_BATCH_MAX_FILES, maxBytes: FILE_BATCH_MAX_BYTES - 4 } as const;

/**
 * Sends `files` in one UPLOAD_FILES message. Throws UNKNOWN_REQUEST from a server from before
 * (send the files one by one then), LIMIT_EXCEEDED past the batch limits.
 */
export async function uploadFileBatch(rpc: RpcClient, files: readonly SmallFile[]): Promise<BatchResult> {
  await initChecksums();
  const records: BatchFile[] = files.map((f) => ({ ...f, mode: f.mode & 0o777, hash: xxh64(f.data) }));
  const reply = await rpc.call('UPLOAD_FILES', { files: encodeFileBatch(records) });
  if (reply.statuses.length !== files.length) {
    throw new FerryError(
      'PROTOCOL_ERROR',
      `the server answered ${reply.statuses.length} statuses for a batch of ${files.length} files`,
    );
  }
  const committed = Array.from(reply.statuses, (b) => b === 1);
  const error = reply.errorCode === '' ? null : errorFromCode(reply.errorCode, reply.errorMessage);
  if (error === null && committed.some((c) => !c)) {
    throw new FerryError('PROTOCOL_ERROR', 'the server left files of a batch unpublished without an error');
  }
  return { committed, error };
}

/** The whole-file xxhash64 of local file `path`, and its size. */
export async function localFileHash(path: string): Promise<{ sizeBytes: number; fileHash: bigint }> {
  await initChecksums();
  const fh = await open(path, 'r');
  try {
    const hasher = createXxh64();
    const buf = Buffer.allocUnsafe(LOCAL_HASH_CHUNK_BYTES);
    let sizeBytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, sizeBytes);
      if (bytesRead === 0) break;
      hasher.update(buf.subarray(0, bytesRead));
      sizeBytes += bytesRead;
    }
    return { sizeBytes, fileHash: hasher.digest() };
  } finally {
    await fh.close();
  }
}

export interface DownloadBatchResult {
  /** The files sent, in the order asked, each checked against its xxhash64. */
  files: BatchFile[];
  /** Why the server stopped before the end (the next file was not sent), or null. */
  error: FerryError | null;
}

/**
 * Asks for `names` (at most BATCH_LIMITS.maxFiles) whole in one DOWNLOAD_FILES message. The reply
 * holds the first files that fit in one message, each checked here against its xxhash64
 * (HASH_MISMATCH otherwise). Throws UNKNOWN_REQUEST from a server from before.
 */
export async function downloadFileBatch(
  rpc: RpcClient,
  names: readonly string[],
): Promise<DownloadBatchResult> {
  await initChecksums();
  const reply = await rpc.call('DOWNLOAD_FILES', { names: encodeNameList(names) });
  const files = decodeFileBatch(reply.files);
  if (files.length > names.length || files.some((f, i) => f.name !== names[i])) {
    throw new FerryError(
      'PROTOCOL_ERROR',
      'the server answered files that were not asked for, or out of order',
    );
  }
  for (const f of files) {
    const computed = xxh64(f.data);
    if (computed !== f.hash) {
      throw new FerryError(
        'HASH_MISMATCH',
        `whole-file xxhash64 mismatch for ${f.name} (server ${f.hash.toString(16)}, received ${computed.toString(16)}): copy again`,
      );
    }
  }
  const error = reply.errorCode === '' ? null : errorFromCode(reply.errorCode, reply.errorMessage);
  if (error === null && files.length < names.length) {
    throw new FerryError('PROTOCOL_ERROR', 'the server sent part of a batch without saying why');
  }
  return { files, error };
}

/**
 * Writes a whole downloaded file to local `path` as a download's commit does: a new hidden part file
 * beside it (never through a symlink planted there), its mode and times, fsync, then renamed into
 * place; a journal an earlier, interrupted download of it left is removed.
 */
export async function writeWholeFile(path: string, f: BatchFile): Promise<void> {
  const names = downloadPartNames(path);
  await unlink(names.part).catch(() => undefined);
  let fh;
  try {
    fh = await open(names.part, 'wx', 0o600);
  } catch (err) {
    throw new FerryError('IO_ERROR', `cannot write ${path}: ${(err as Error).message}`);
  }
  let published = false;
  try {
    let done = 0;
    while (done < f.data.length) {
      const { bytesWritten } = await fh.write(f.data, done, f.data.length - done, done);
      done += bytesWritten;
    }
    await fh.chmod(f.mode & 0o777);
    await fh.utimes(f.atimeMs / 1000, f.mtimeMs / 1000);
    await fh.sync();
    await fh.close();
    fh = null;
    await rename(names.part, path);
    published = true;
  } finally {
    if (fh) await fh.close().catch(() => undefined);
    if (!published) await unlink(names.part).catch(() => undefined);
  }
  await unlink(names.journal).catch(() => undefined);
}
