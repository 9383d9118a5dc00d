/**
 * A download into a local file that survives the client being killed: the bytes go to a hidden part
 * file beside the target, and a journal beside it records the blocks that are verified and durable,
 * so `ferry cp --resume` moves only the blocks the journal does not vouch for.
 *
 * Why its own sink: the journal follows the uploads' rule (the journal never claims more than is on
 * disk): a flush takes the blocks verified since the last one, fsyncs the part file, then replaces
 * the journal atomically (written under a temporary name, fsynced, renamed). The record is the
 * uploads' journal layout (`wire/transfer/journal.ts`, kind offset) with the remote file's identity
 * (name, size, mtime) as its source tag, so a resume against a changed remote file starts over.
 * Part file and journal are created with mode 0600. Commit makes the part durable and renames it
 * into place, then drops the journal; the caller commits only after the whole-file hash matched.
 *
 * ```
 * DIR/NAME                     the target, only ever whole
 * DIR/.NAME.ferry-part         the bytes so far (0600)
 * DIR/.NAME.ferry-journal      what of them is verified and durable (0600)
 * ```
 */
import { constants as C } from 'node:fs';
import { open, rename, unlink, type FileHandle as NodeFileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TimerHandle } from '../../core/clock.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import {
  decodeJournal,
  encodeJournal,
  JOURNAL_HEADER_BYTES,
  JOURNAL_KIND_OFFSET,
} from '../../wire/transfer/index.js';
import { Bitmap } from '../bitmap.js';
import { downloadTempStem, type DownloadSink } from './sources.js';

/** Opening a new hidden file: create it, never reuse or follow what is at the name. */
const FRESH_FLAGS = C.O_RDWR | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

/** Mode of a download's part file and journal: the user's alone until published. */
export const DOWNLOAD_PART_MODE = 0o600;

/** What a download tells its sink before the first block: the file's geometry and identity. */
export interface DownloadGeometry {
  sizeBytes: number;
  blockBytes: number;
  blockCount: number;
  /** Identifies the remote file's version (name, size, mtime). */
  sourceTag: bigint;
  /** Continue from an intact matching journal (else start over). */
  resume: boolean;
  /** True when the block size was asked for; else a resume takes the journal's. */
  blockBytesAsked: boolean;
  /** Permission bits the copy gets at commit (the server's file's); absent from servers before. */
  mode?: number;
}

/** A sink that keeps what it has across runs. */
export interface ResumableSink extends DownloadSink {
  /** Blocks verified and durable from an earlier run (none when starting over). */
  readonly have: Bitmap;
  readonly resumed: boolean;
  /** The block size the journal is kept in (the journal's on a resume, else the geometry's). */
  readonly blockBytes: number;
  /** Reads bytes back from the part file (a block kept from an earlier run, for the whole-file hash). */
  readInto(offset: number, target: Uint8Array): Promise<number>;
  /** Block `index` was written and its hash checked: it goes into the next journal flush. */
  markVerified(index: number): void;
  /** Journals what is durable and closes, keeping part file and journal for `--resume`. */
  suspend(): Promise<void>;
}

export function isResumableSink(sink: DownloadSink): sink is ResumableSink {
  return 'markVerified' in sink;
}

/** The hidden names beside `path`. */
export function downloadPartNames(path: string): { part: string; journal: string; journalTmp: string } {
  const dir = dirname(path);
  const base = downloadTempStem(basename(path));
  return {
    part: join(dir, `.${base}.ferry-part`),
    journal: join(dir, `.${base}.ferry-journal`),
    journalTmp: join(dir, `.${base}.ferry-journal.tmp`),
  };
}

/** Opens (resume) or creates the part file for a download into `path`. */
export async function partFileSink(
  path: string,
  g: DownloadGeometry,
  clock: Clock = systemClock,
): Promise<ResumableSink> {
  const names = downloadPartNames(path);
  const found = g.resume ? await journaledBlocks(names, g) : null;
  const have = found?.have ?? null;
  if (found) g = { ...g, blockBytes: found.blockBytes, blockCount: found.have.size };
  let fh: NodeFileHandle;
  try {
    if (have) {
      fh = await open(names.part, C.O_RDWR | C.O_NOFOLLOW);
    } else {
      await unlink(names.journal).catch(() => undefined);
      await unlink(names.part).catch(() => undefined);
      // O_EXCL: a symlink or anything else planted at the name since the unlink is refused, never followed.
      fh = await open(names.part, FRESH_FLAGS, DOWNLOAD_PART_MODE);
      await fh.truncate(g.sizeBytes);
    }
  } catch (err) {
    throw new FerryError('IO_ERROR', `cannot write ${path}: ${(err as Error).message}`);
  }
  return new PartFile(path, names, fh, g, have ?? new Bitmap(g.blockCount), have !== null, clock);
}

/**
 * The journal's bitmap and block size when it is intact, matches `g` (its block size too, when
 * one was asked for), and the part file has the right size.
 */
async function journaledBlocks(
  names: ReturnType<typeof downloadPartNames>,
  g: DownloadGeometry,
): Promise<{ have: Bitmap; blockBytes: number } | null> {
  try {
    const [bytes, part] = await Promise.all([
      readSmall(names.journal, JOURNAL_HEADER_BYTES + Math.ceil(TRANSFER_LIMITS.MAX_BLOCKS / 8)),
      open(names.part, 'r').then(async (h) => {
        try {
          return (await h.stat()).size;
        } finally {
          await h.close();
        }
      }),
    ]);
    const rec = bytes === null ? null : decodeJournal(bytes);
    const matches =
      rec !== null &&
      part === g.sizeBytes &&
      rec.kind === JOURNAL_KIND_OFFSET &&
      rec.sizeBytes === g.sizeBytes &&
      (rec.blockBytes === g.blockBytes || !g.blockBytesAsked) &&
      usableBlockBytes(rec.blockBytes) &&
      rec.position === Math.ceil(g.sizeBytes / rec.blockBytes) &&
      rec.bitmap.length === Math.ceil(rec.position / 8) &&
      rec.sourceTag === g.sourceTag;
    return matches ? { have: new Bitmap(rec.position, rec.bitmap), blockBytes: rec.blockBytes } : null;
  } catch {
    return null; // no part file, no journal: start over
  }
}

function usableBlockBytes(b: number): boolean {
  return b >= TRANSFER_LIMITS.MIN_BLOCK_BYTES && b <= TRANSFER_LIMITS.MAX_BLOCK_BYTES && (b & (b - 1)) === 0;
}

async function readSmall(path: string, maxBytes: number): Promise<Buffer | null> {
  const h = await open(path, 'r');
  try {
    const size = (await h.stat()).size;
    if (size > maxBytes) return null;
    const buf = Buffer.alloc(size);
    await h.read(buf, 0, size, 0);
    return buf;
  } finally {
    await h.close();
  }
}

class PartFile implements ResumableSink {
  readonly sequential = false;
  private open = true;
  /** Verified since the last flush was taken. */
  private pending: number[] = [];
  private readonly durable: Bitmap;
  private flushing: Promise<void> | null = null;
  private flushTimer: TimerHandle | null = null;
  private flushStopped = false;
  private failure: unknown = null;
  private readonly journalBuf: Buffer;
  readonly blockBytes: number;

  constructor(
    private readonly path: string,
    private readonly names: ReturnType<typeof downloadPartNames>,
    private readonly fh: NodeFileHandle,
    private readonly g: DownloadGeometry,
    readonly have: Bitmap,
    readonly resumed: boolean,
    private readonly clock: Clock,
  ) {
    this.durable = new Bitmap(g.blockCount, have.bytes);
    this.blockBytes = g.blockBytes;
    this.journalBuf = Buffer.allocUnsafe(JOURNAL_HEADER_BYTES + this.durable.bytes.length);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    let done = 0;
    while (done < target.length) {
      const { bytesRead } = await this.fh.read(target, done, target.length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  markVerified(index: number): void {
    if (this.failure) throw this.failure;
    this.pending.push(index);
    this.scheduleFlush();
  }

  /** Flushes at JOURNAL_FLUSH_BLOCKS blocks, or arms the JOURNAL_FLUSH_MS timer. */
  private scheduleFlush(): void {
    if (this.flushStopped) return;
    if (this.pending.length >= TRANSFER_LIMITS.JOURNAL_FLUSH_BLOCKS) {
      this.flushSoon();
      return;
    }
    if (this.flushTimer !== null) return;
    this.flushTimer = this.clock.setTimer(TRANSFER_LIMITS.JOURNAL_FLUSH_MS, () => {
      this.flushTimer = null;
      this.flushSoon();
    });
  }

  private flushSoon(): void {
    if (this.flushing) return; // the running flush takes the rest when it is done
    void this.flush().catch((err: unknown) => {
      this.failure ??= err;
    });
  }

  /** fsync the part file, then record the blocks verified before it in the journal. */
  private async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.pending.length === 0 || this.flushStopped) return;
    const batch = this.pending;
    this.pending = [];
    this.flushing = (async () => {
      await this.fh.sync();
      for (const i of batch) this.durable.set(i);
      await this.writeJournal();
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
    if (this.pending.length > 0) this.scheduleFlush();
  }

  private async writeJournal(): Promise<void> {
    const n = encodeJournal(
      {
        kind: JOURNAL_KIND_OFFSET,
        sizeBytes: this.g.sizeBytes,
        position: this.g.blockCount,
        sourceTag: this.g.sourceTag,
        blockBytes: this.g.blockBytes,
        fileMode: DOWNLOAD_PART_MODE,
        bitmap: this.durable.bytes,
      },
      this.journalBuf,
    );
    await unlink(this.names.journalTmp).catch(() => undefined);
    const h = await open(this.names.journalTmp, FRESH_FLAGS, DOWNLOAD_PART_MODE);
    try {
      await h.write(this.journalBuf, 0, n, 0);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(this.names.journalTmp, this.names.journal);
  }

  private async stopFlushes(): Promise<void> {
    this.flushStopped = true;
    if (this.flushTimer !== null) this.clock.clearTimer(this.flushTimer);
    this.flushTimer = null;
    while (this.flushing) await this.flushing.catch(() => undefined);
  }

  async commit(): Promise<void> {
    await this.stopFlushes();
    // The part file was the user's alone (0600); the copy takes the server's file's mode.
    if (this.g.mode !== undefined) await this.fh.chmod(this.g.mode & 0o777);
    await this.fh.sync();
    await this.fh.close();
    this.open = false;
    await rename(this.names.part, this.path);
    await unlink(this.names.journal).catch(() => undefined);
  }

  async suspend(): Promise<void> {
    if (!this.open) return;
    try {
      if (this.failure === null) await this.flush();
    } finally {
      await this.stopFlushes();
      await this.fh.close().catch(() => undefined);
      this.open = false;
    }
  }

  async discard(): Promise<void> {
    await this.stopFlushes();
    if (this.open) await this.fh.close().catch(() => undefined);
    this.open = false;
    await unlink(this.names.part).catch(() => undefined);
    await unlink(this.names.journal).catch(() => undefined);
    await unlink(this.names.journalTmp).catch(() => undefined);
  }
}
