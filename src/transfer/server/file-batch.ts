/**
 * UPLOAD_FILES on the server: several whole small files from one message, each published with the
 * promise a single upload's commit makes - its bytes match its xxhash64, its data, mode and times
 * are durable, and only then is it renamed from its hidden part name (wholeFilePart, at the top
 * level) to its own name; an unfinished earlier upload of the name is retired and its files removed. The reply
 * goes out after every file in the batch has been published or has failed.
 *
 * Why a module of its own: these files are never transfers (no id, no journal, nothing to resume:
 * a file either lands whole or the client sends it again), so they skip the transfer table's
 * begin/commit bookkeeping and share only its take-over rule and counters.
 */
import { xxh64 } from '../../core/checksum.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { NEW_FILE_MODE, type FlatFs } from '../../flatfs/types.js';
import {
  batchRecordBytes,
  decodeFileBatch,
  decodeNameList,
  decodeRequest,
  encodeFileBatch,
  FILE_BATCH_MAX_BYTES,
  encodeReply,
  MAX_ERROR_MESSAGE_CHARS,
  type BatchFile,
} from '../../wire/transfer/index.js';
import { uploadNames, wholeFilePart } from '../names.js';
import { removeQuietly } from './journal-store.js';
import type { PeerSession } from './peer-session.js';
import type { ServerScope } from './scope.js';

/** Files of one batch written at once (each is a create, a write, an fsync and a rename). */
export const FILE_BATCH_WRITE_CONCURRENCY = 16;

/** Throws for a file record no upload could have sent: a bad name, mode or time, or a wrong hash. */
function checkFile(s: ServerScope, f: BatchFile): void {
  s.gate.checkName(f.name);
  if ((f.mode & ~0o777) !== 0) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `${f.name}: mode 0o${f.mode.toString(8)} has bits outside 0o777`,
    );
  }
  if (!Number.isFinite(f.mtimeMs) || !Number.isFinite(f.atimeMs)) {
    throw new FerryError('INVALID_ARGUMENT', `${f.name}: times must be finite numbers`);
  }
  const computed = xxh64(f.data);
  if (computed !== f.hash) {
    throw new FerryError(
      'HASH_MISMATCH',
      `whole-file xxhash64 mismatch for ${f.name} (client ${f.hash.toString(16)}, server ${computed.toString(16)}): nothing was kept; copy again`,
    );
  }
}

/** Writes one file under its part name, makes it durable with its mode and times, then publishes it. */
async function publishFile(s: ServerScope, fs: FlatFs, f: BatchFile): Promise<void> {
  checkFile(s, f);
  await s.transfers.takeOver(f.name);
  const part = wholeFilePart(f.name);
  const handle = await fs.create(part, { sizeBytes: 0 });
  let published = false;
  try {
    if (f.data.length > 0) await fs.write(handle, 0, f.data);
    if (fs.fchmod) await fs.fchmod(handle, f.mode);
    if (fs.futimes) await fs.futimes(handle, f.atimeMs, f.mtimeMs);
    else await fs.setTimes(part, f.atimeMs, f.mtimeMs);
    await fs.fsync(handle);
    await fs.closeFile(handle);
    await fs.rename(part, f.name);
    published = true;
  } finally {
    if (!published) {
      await fs.closeFile(handle).catch(() => undefined);
      await removeQuietly(fs, part).catch(() => undefined);
    }
  }
  // what an earlier, unfinished upload of this name left (asked first: a stat takes no lock)
  const earlier = uploadNames(f.name);
  for (const leftover of [earlier.part, earlier.journal]) {
    if (leftover !== part && (await exists(fs, leftover))) await removeQuietly(fs, leftover);
  }
  s.transfers.publishedWhole(f.name);
}

async function exists(fs: FlatFs, name: string): Promise<boolean> {
  try {
    await fs.stat(name);
    return true;
  } catch (err) {
    if (isFerryError(err, 'NOT_FOUND')) return false;
    throw err;
  }
}

/** The UPLOAD_FILES handler: every file of the batch, FILE_BATCH_WRITE_CONCURRENCY at a time. */
export async function uploadFiles(
  s: ServerScope,
  _session: PeerSession,
  id: number,
  payload: Buffer,
): Promise<readonly Uint8Array[]> {
  const files = decodeFileBatch(decodeRequest('UPLOAD_FILES', payload).files);
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.name)) {
      throw new FerryError('INVALID_ARGUMENT', `${f.name} appears twice in one batch: send each file once`);
    }
    seen.add(f.name);
  }
  const fs = s.gate.needFs();
  const statuses = Buffer.alloc(files.length);
  let first: FerryError | null = null;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      try {
        await publishFile(s, fs, files[i]!);
        statuses[i] = 1;
      } catch (err) {
        first ??= isFerryError(err) ? err : new FerryError('IO_ERROR', `${files[i]!.name}: ${String(err)}`);
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(FILE_BATCH_WRITE_CONCURRENCY, files.length) }, () => worker()),
  );
  const committed = statuses.reduce((n, b) => n + b, 0);
  const failure = first as FerryError | null;
  return [
    encodeReply('UPLOAD_FILES', id, {
      committed,
      errorCode: failure?.code ?? '',
      errorMessage: (failure?.message ?? '').slice(0, MAX_ERROR_MESSAGE_CHARS),
      statuses,
    }),
  ];
}

/** A file DOWNLOAD_FILES sends: read whole, with its mode and times; null when it would not fit. */
async function readWhole(fs: FlatFs, name: string, roomBytes: number): Promise<BatchFile | null> {
  const handle = await fs.open(name);
  try {
    const st = await fs.fstat(handle);
    if (batchRecordBytes(Buffer.byteLength(name, 'utf8'), st.sizeBytes) > roomBytes) return null;
    const data = st.sizeBytes === 0 ? Buffer.alloc(0) : await fs.read(handle, 0, st.sizeBytes);
    if (data.length !== st.sizeBytes) {
      throw new FerryError('IO_ERROR', `${name} changed size while being read: ask again`);
    }
    return {
      name,
      mode: (st.mode ?? NEW_FILE_MODE) & 0o777,
      mtimeMs: st.mtimeMs,
      atimeMs: st.atimeMs,
      hash: xxh64(data),
      data,
    };
  } finally {
    await fs.closeFile(handle).catch(() => undefined);
  }
}

/**
 * The DOWNLOAD_FILES handler: the asked files read whole, in order, while they fit in one reply;
 * it stops at the first that fails or does not fit and says why.
 */
export async function downloadFiles(
  s: ServerScope,
  _session: PeerSession,
  id: number,
  payload: Buffer,
): Promise<readonly Uint8Array[]> {
  const names = decodeNameList(decodeRequest('DOWNLOAD_FILES', payload).names);
  for (const name of names) s.gate.checkName(name);
  const fs = s.gate.needFs();
  const files: BatchFile[] = [];
  let room = FILE_BATCH_MAX_BYTES - 4;
  let stop: FerryError | null = null;
  for (const name of names) {
    try {
      const f = await readWhole(fs, name, room);
      if (f === null) {
        stop = new FerryError('LIMIT_EXCEEDED', `${name} does not fit in this reply: ask for it on its own`);
        break;
      }
      files.push(f);
      room -= batchRecordBytes(Buffer.byteLength(name, 'utf8'), f.data.length);
    } catch (err) {
      stop = isFerryError(err) ? err : new FerryError('IO_ERROR', `${name}: ${String(err)}`);
      break;
    }
  }
  s.stats.downloadsServed += files.length;
  return [
    encodeReply('DOWNLOAD_FILES', id, {
      errorCode: stop?.code ?? '',
      errorMessage: (stop?.message ?? '').slice(0, MAX_ERROR_MESSAGE_CHARS),
      files: encodeFileBatch(files),
    }),
  ];
}
