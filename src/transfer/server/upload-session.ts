/**
 * The half of an upload that offset uploads and append sequences share: the hidden part file and
 * its resume journal, the journal flush (fsync the data, then atomically replace the journal), its
 * batching and timer, the bound on acknowledged-but-not-durable data, the failure a background
 * flush leaves behind, the whole-file hash, and the endings: suspend (resumable), abort (nothing
 * kept), a refused whole-file hash, and publish (durable, then renamed into place).
 *
 * Durability rule: the journal never claims more than is on disk. A flush takes what was verified
 * since the last one, fsyncs the part file, then replaces the journal. A crash loses at most what
 * was not yet journaled (JOURNAL_FLUSH_BLOCKS / JOURNAL_FLUSH_MS bound it); `--resume` re-sends
 * exactly that and whatever was in flight. After a commit, abort or suspend no journal is written.
 *
 * Subclasses say what an entry is (a block, a chunk), what the journal records, and how to wait for
 * writes in progress.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import type { FileHandle, FlatFs } from '../../flatfs/types.js';
import type { JournalRecord } from '../../wire/transfer/index.js';
import { InOrderHasher } from '../in-order.js';
import { uploadNames } from '../names.js';
import { removeQuietly, writeJournal } from './journal-store.js';

/** What both upload kinds are begun with. */
export interface UploadParams {
  name: string;
  fileMode: number;
  sourceTag: bigint;
  resume: boolean;
}

/** Entries taken into one journal flush, and the record to write once the data is durable. */
export interface JournalBatch {
  count: number;
  record: () => JournalRecord;
}

export abstract class UploadSession<P extends UploadParams = UploadParams> {
  /** Bytes written by this session (not counting resumed ones), for the log line. */
  bytesReceived = 0;
  readonly names: ReturnType<typeof uploadNames>;
  protected state: 'open' | 'committing' | 'closed' = 'open';
  protected failure: FerryError | null = null;
  protected readonly hasher = new InOrderHasher();
  private flushing: Promise<void> | null = null;
  /** Entries in the journal flush under way (verified, not yet durable). */
  private flushingCount = 0;
  /** Set once the upload commits, aborts or suspends: no journal may be written after that. */
  private flushStopped = false;
  private flushTimer: TimerHandle | null = null;

  protected constructor(
    protected readonly fs: FlatFs,
    readonly params: P,
    protected readonly handle: FileHandle,
    protected readonly clock: Clock,
    readonly resumed: boolean,
  ) {
    this.names = uploadNames(params.name);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Entries verified and written but not yet taken into a journal flush. */
  protected abstract get unjournaled(): number;
  /** Takes the unjournaled entries into a flush (called with at least one). */
  protected abstract takeBatch(): JournalBatch;
  /** Suspend's first step: stop taking data and wait for what is being written. */
  protected abstract stopForSuspend(): Promise<void>;
  /** Abort's wait for data writes in progress. */
  protected abstract writesSettled(): Promise<void>;

  /** Starts a flush at JOURNAL_FLUSH_BLOCKS entries, or arms the JOURNAL_FLUSH_MS timer. */
  protected scheduleFlush(): void {
    if (this.unjournaled >= TRANSFER_LIMITS.JOURNAL_FLUSH_BLOCKS) {
      void this.flushJournal().catch((e: unknown) => this.setFailure(e));
      return;
    }
    if (this.flushTimer !== null) return;
    this.flushTimer = this.clock.setTimer(TRANSFER_LIMITS.JOURNAL_FLUSH_MS, () => {
      this.flushTimer = null;
      void this.flushJournal().catch((e: unknown) => this.setFailure(e));
    });
  }

  /**
   * Holds the acknowledgement while more than JOURNAL_MAX_UNJOURNALED_BLOCKS verified entries are
   * not yet durable, so a crash can cost a resume at most that many acknowledged ones.
   */
  protected async boundUnjournaled(): Promise<void> {
    while (this.overUnjournaledBound()) await (this.flushing ?? this.flushJournal());
  }

  /** True while acknowledgements must wait for the journal (checked before awaiting, per block). */
  protected overUnjournaledBound(): boolean {
    return (
      this.unjournaled + this.flushingCount > TRANSFER_LIMITS.JOURNAL_MAX_UNJOURNALED_BLOCKS &&
      !this.flushStopped
    );
  }

  /** fsync the data, then record the entries verified before it in the journal. */
  async flushJournal(): Promise<void> {
    await this.flushesDone();
    if (this.unjournaled === 0 || this.flushStopped) return;
    const batch = this.takeBatch();
    this.flushingCount = batch.count;
    this.flushing = (async () => {
      await this.fs.fsync(this.handle);
      await writeJournal(this.fs, this.names.journal, this.names.journalTmp, batch.record());
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
      this.flushingCount = 0;
    }
  }

  /** Stops journal flushes for good (commit, abort, suspend) and waits out the one under way. */
  protected async stopFlushes(): Promise<void> {
    this.flushStopped = true;
    await this.flushesDone();
  }

  /** Lets flushes run again after a commit that failed but left the upload open. */
  protected resumeFlushes(): void {
    this.flushStopped = false;
  }

  private async flushesDone(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
  }

  /** Throws the failure a background journal flush left, if any. */
  protected checkHealthy(): void {
    if (this.failure) throw this.failure;
  }

  protected setFailure(e: unknown): void {
    this.failure ??=
      e instanceof FerryError ? e : new FerryError('IO_ERROR', `journal write failed: ${String(e)}`);
  }

  /** Leaves the upload resumable: waits for writes, journals them, closes the part file. */
  async suspend(): Promise<void> {
    if (this.state === 'closed') return;
    await this.stopForSuspend();
    try {
      await this.flushJournal();
    } finally {
      this.state = 'closed';
      await this.stopFlushes();
      await this.fs.closeFile(this.handle).catch(() => undefined);
    }
  }

  /** Drops the upload: removes the part file and the journal. */
  async abort(): Promise<void> {
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    this.flushStopped = true;
    this.clearTimer();
    await this.writesSettled();
    await this.flushesDone();
    if (wasOpen) await this.fs.closeFile(this.handle).catch(() => undefined);
    await removeQuietly(this.fs, this.names.part);
    await removeQuietly(this.fs, this.names.journal);
  }

  /** Refuses a commit whose whole-file hash differs from the one computed: nothing is kept. */
  protected async refuseHash(fileHash: bigint, computed: bigint): Promise<never> {
    await this.abort();
    throw new FerryError(
      'HASH_MISMATCH',
      `whole-file xxhash64 mismatch for ${this.params.name} (client ${fileHash.toString(16)}, server ${computed.toString(16)}): nothing was kept; copy again`,
    );
  }

  /**
   * Gives the part file the upload's mode, makes it durable, closes it and publishes it under its
   * name; drops the journal.
   */
  protected async publish(): Promise<void> {
    // The part file was made 0600; the published file takes the source's permission bits.
    if (this.fs.fchmod) await this.fs.fchmod(this.handle, this.params.fileMode & 0o777);
    await this.fs.fsync(this.handle);
    await this.fs.closeFile(this.handle);
    this.state = 'closed';
    await this.fs.rename(this.names.part, this.params.name);
    await removeQuietly(this.fs, this.names.journal);
  }

  protected clearTimer(): void {
    if (this.flushTimer !== null) this.clock.clearTimer(this.flushTimer);
    this.flushTimer = null;
  }
}

/** Opens an upload's part file for writing when its size `fits` the journal; null otherwise. */
export async function openPart(
  fs: FlatFs,
  part: string,
  fits: (sizeBytes: number) => boolean,
): Promise<FileHandle | null> {
  try {
    const h = await fs.open(part, { write: true });
    if (fits((await fs.fstat(h)).sizeBytes)) return h;
    await fs.closeFile(h);
    return null;
  } catch {
    return null;
  }
}
