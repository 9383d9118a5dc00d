/**
 * Where uploaded bytes come from and where downloaded bytes go: local files, in-memory buffers,
 * streams (stdin/stdout).
 *
 * Why: the copy engine reads and writes by offset (straight into and out of packet buffers); these
 * small adapters give it the same positional interface whatever the local end is, and say whether
 * the end can seek (an offset upload and a resume need a seekable source).
 */
import { createHash } from 'node:crypto';
import { open, rename, unlink, type FileHandle as NodeFileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { initChecksums, xxh64 } from '../../core/checksum.js';
import { FerryError } from '../../core/errors.js';

/** A seekable source of known size. */
export interface UploadSource {
  readonly sizeBytes: number;
  /** Identifies this version of the source (size, mtime, path): a resume of another version starts over. */
  readonly tag: bigint;
  /** Mode bits to give the copy (informational). */
  readonly fileMode: number;
  readInto(offset: number, target: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/** Where a download lands: positional writes, then commit (publish) or discard. */
export interface DownloadSink {
  /** True when writes must come in order (a pipe); positional sinks take any order. */
  readonly sequential: boolean;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes the data durable and publishes it under its final name. */
  commit(): Promise<void>;
  /** Removes whatever was written. */
  discard(): Promise<void>;
}

function tagOf(parts: string): bigint {
  return xxh64(Buffer.from(parts, 'utf8'));
}

/** Opens a local file as an upload source (NOT_FOUND if missing). */
export async function fileSource(path: string): Promise<UploadSource> {
  await initChecksums();
  let fh: NodeFileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FerryError('NOT_FOUND', `no such local file: ${path}`);
    if (code === 'EISDIR')
      throw new FerryError('INVALID_ARGUMENT', `${path} is a directory: copy files, not directories`);
    throw new FerryError('IO_ERROR', `cannot open ${path}: ${(err as Error).message}`);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new FerryError('INVALID_ARGUMENT', `${path} is not a regular file`);
  }
  return {
    sizeBytes: st.size,
    tag: tagOf(`${path}\0${st.size}\0${st.mtimeMs}\0${st.ino}`),
    fileMode: st.mode & 0o7777,
    async readInto(offset, target) {
      let done = 0;
      while (done < target.length) {
        const { bytesRead } = await fh.read(target, done, target.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    },
    close: () => fh.close(),
  };
}

/** An in-memory buffer as an upload source (the demo and tests). */
export function bufferSource(data: Uint8Array, tag = 0n): UploadSource {
  return {
    sizeBytes: data.length,
    tag: tag === 0n ? BigInt(data.length) : tag,
    fileMode: 0o644,
    async readInto(offset, target) {
      const n = Math.max(0, Math.min(target.length, data.length - offset));
      target.set(data.subarray(offset, offset + n));
      return n;
    },
    close: async () => undefined,
  };
}

/**
 * A local file as a download sink: writes go to a hidden temporary file beside the target, which is
 * fsynced and renamed into place on commit, so no partial file ever has the target's name.
 */
export async function fileSink(path: string, sizeBytes: number): Promise<DownloadSink> {
  await initChecksums();
  const tmp = join(dirname(path), partNameOf(basename(path)));
  let fh: NodeFileHandle;
  try {
    // Never through a symlink planted at the temporary name: remove what is there, then create anew.
    await unlink(tmp).catch(() => undefined);
    fh = await open(tmp, 'wx', 0o600);
  } catch (err) {
    throw new FerryError('IO_ERROR', `cannot write ${path}: ${(err as Error).message}`);
  }
  await fh.truncate(sizeBytes);
  let open_ = true;
  return {
    sequential: false,
    async write(offset, data) {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    },
    async commit() {
      await fh.sync();
      await fh.close();
      open_ = false;
      await rename(tmp, path);
    },
    async discard() {
      if (open_) await fh.close().catch(() => undefined);
      open_ = false;
      await unlink(tmp).catch(() => undefined);
    },
  };
}

/** Longest file name (one path segment) the host filesystems take (NAME_MAX). */
const HOST_NAME_MAX_BYTES = 255;

/** Marks a hashed stem; a base that starts with it is hashed too, so the two kinds never meet. */
const HASHED_STEM_MARK = 'ferry-h-';

/**
 * The stem of a download's hidden files beside its target (`.STEM.ferry-part`, `.STEM.ferry-journal`,
 * `.STEM.ferry-journal.tmp`): BASE itself, or, when the longest of those names would pass the host's
 * NAME_MAX (a target name of 237 bytes or more) or BASE starts with the hashed mark,
 * `ferry-h-HASH` with HASH the first 128 bits of BASE's SHA-256.
 *
 * Injective: a stem is BASE only for bases that do not start with the mark, and every hashed stem
 * starts with it, so a long name and a short one can never share a part file (a bare xxhash64 stem
 * let the 250-byte name X and a file named after X's 16-hex hash collide).
 */
export function downloadTempStem(base: string): string {
  const fits = Buffer.byteLength(`.${base}.ferry-journal.tmp`, 'utf8') <= HOST_NAME_MAX_BYTES;
  if (fits && !base.startsWith(HASHED_STEM_MARK)) return base;
  return HASHED_STEM_MARK + createHash('sha256').update(base, 'utf8').digest('hex').slice(0, 32);
}

function partNameOf(base: string): string {
  return `.${downloadTempStem(base)}.ferry-part`;
}

/** A memory buffer as a download sink (the demo and tests). */
export function bufferSink(target: Uint8Array): DownloadSink {
  return {
    sequential: false,
    async write(offset, data) {
      target.set(data, offset);
    },
    commit: async () => undefined,
    discard: async () => undefined,
  };
}

/** A stream (stdout) as a download sink: writes must come in order. */
export function streamSink(stream: Writable): DownloadSink {
  return {
    sequential: true,
    write: (_offset, data) =>
      new Promise<void>((resolve, reject) => {
        // the caller reuses `data` after this resolves: hand the stream its own copy
        stream.write(Buffer.from(data), (err) => (err ? reject(err) : resolve()));
      }),
    commit: async () => undefined,
    discard: async () => undefined,
  };
}

/** Reads a stream (stdin) in chunks of at most `chunkBytes`, in order. */
export async function* chunksOf(stream: Readable, chunkBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const raw of stream) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as string);
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= chunkBytes) {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      yield all.subarray(0, chunkBytes);
      const rest = all.subarray(chunkBytes);
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
    }
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending);
}
