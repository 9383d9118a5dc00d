/**
 * The receiving side of an append sequence: numbered chunks applied strictly in order to a hidden
 * part file (the transport delivers them FIFO), each verified; the size need not be known up front
 * (a pipe). The journal records (bytes applied, next sequence number) after an fsync, so resume
 * truncates the part file to what the journal vouches for, hashes it again, and continues from
 * there. The journal, its durability rule and the endings are the shared half in upload-session.ts.
 */
import type { Clock } from '../../core/clock.js';
import { xxh64 } from '../../core/checksum.js';
import { FerryError } from '../../core/errors.js';
import { LIMITS, TRANSFER_LIMITS } from '../../core/limits.js';
import type { FileHandle, FlatFs } from '../../flatfs/types.js';
import { JOURNAL_KIND_APPEND, type JournalRecord } from '../../wire/transfer/index.js';
import { readJournal, removeQuietly } from './journal-store.js';
import { openPart, UploadSession, type JournalBatch, type UploadParams } from './upload-session.js';
import { uploadNames } from '../names.js';

export type AppendParams = UploadParams;

const REHASH_CHUNK_BYTES = 1 << 20;

export class AppendUpload extends UploadSession<AppendParams> {
  private chunksUnjournaled = 0;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    fs: FlatFs,
    params: AppendParams,
    handle: FileHandle,
    public sizeBytes: number,
    public nextSeq: number,
    clock: Clock,
    resumed: boolean,
  ) {
    super(fs, params, handle, clock, resumed);
  }

  static async begin(fs: FlatFs, params: AppendParams, clock: Clock): Promise<AppendUpload> {
    const names = uploadNames(params.name);
    if (params.resume) {
      const rec = await readJournal(fs, names.journal);
      if (rec && rec.kind === JOURNAL_KIND_APPEND && rec.sourceTag === params.sourceTag) {
        const h = await openPart(fs, names.part, (size) => size >= rec.sizeBytes);
        if (h !== null) {
          await fs.ftruncate(h, rec.sizeBytes);
          const up = new AppendUpload(fs, params, h, rec.sizeBytes, rec.position, clock, true);
          await up.rehash();
          return up;
        }
      }
    }
    await removeQuietly(fs, names.journal);
    const handle = await fs.create(names.part);
    return new AppendUpload(fs, params, handle, 0, 0, clock, false);
  }

  /** Hashes the resumed part file from the start, so the whole-file hash covers it. */
  private async rehash(): Promise<void> {
    await this.hasher.readUpTo(
      this.sizeBytes,
      (offset, target) => this.fs.readInto(this.handle, offset, target),
      Buffer.allocUnsafe(REHASH_CHUNK_BYTES),
      () => new FerryError('IO_ERROR', `part file of ${this.params.name} shorter than its journal`),
    );
  }

  /** Applies chunk `seq` (already applied: no-op; a gap: PROTOCOL_ERROR). */
  append(seq: number, hash: bigint, data: Buffer): Promise<void> {
    const run = this.chain.then(() => this.applyOne(seq, hash, data));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyOne(seq: number, hash: bigint, data: Buffer): Promise<void> {
    this.checkOpen();
    this.checkHealthy();
    if (seq < this.nextSeq) return;
    if (seq > this.nextSeq) {
      throw new FerryError(
        'PROTOCOL_ERROR',
        `append ${seq} arrived before ${this.nextSeq}: send appends in order (fifo)`,
      );
    }
    if (data.length > TRANSFER_LIMITS.MAX_APPEND_BYTES) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `append of ${data.length} bytes exceeds ${TRANSFER_LIMITS.MAX_APPEND_BYTES}`,
      );
    }
    if (this.sizeBytes + data.length > LIMITS.MAX_FILE_BYTES) {
      throw new FerryError('OUT_OF_RANGE', `file would exceed ${LIMITS.MAX_FILE_BYTES} bytes`);
    }
    if (xxh64(data) !== hash)
      throw new FerryError('HASH_MISMATCH', `append ${seq} does not match its xxhash64: send it again`);
    await this.fs.write(this.handle, this.sizeBytes, data);
    this.hasher.offer(this.sizeBytes, data);
    this.sizeBytes += data.length;
    this.bytesReceived += data.length;
    this.nextSeq++;
    this.chunksUnjournaled++;
    this.scheduleFlush();
    // acknowledged chunks not yet durable stay bounded (see JOURNAL_MAX_UNJOURNALED_BLOCKS)
    if (this.overUnjournaledBound()) await this.boundUnjournaled();
  }

  private checkOpen(): void {
    if (this.state !== 'open')
      throw new FerryError('UNKNOWN_TRANSFER', `the append to ${this.params.name} is closed`);
  }

  protected get unjournaled(): number {
    return this.chunksUnjournaled;
  }

  protected takeBatch(): JournalBatch {
    const record: JournalRecord = {
      kind: JOURNAL_KIND_APPEND,
      sizeBytes: this.sizeBytes,
      position: this.nextSeq,
      sourceTag: this.params.sourceTag,
      blockBytes: 0,
      fileMode: this.params.fileMode,
      bitmap: new Uint8Array(0),
    };
    const count = this.chunksUnjournaled;
    this.chunksUnjournaled = 0;
    return { count, record: () => record };
  }

  protected async stopForSuspend(): Promise<void> {
    await this.chain;
    this.clearTimer();
  }

  protected async writesSettled(): Promise<void> {
    // appends are applied one at a time on the chain; an abort does not wait for the chain
  }

  /** Checks size and whole-file hash, makes the file durable, publishes it. */
  async commit(sizeBytes: number, fileHash: bigint | null): Promise<number> {
    await this.chain;
    this.checkOpen();
    this.checkHealthy();
    if (sizeBytes !== this.sizeBytes) {
      throw new FerryError(
        'PROTOCOL_ERROR',
        `commit says ${sizeBytes} bytes but ${this.sizeBytes} were applied`,
      );
    }
    const computed = this.hasher.digest();
    if (fileHash !== null && computed !== fileHash) await this.refuseHash(fileHash, computed);
    this.clearTimer();
    this.state = 'closed';
    await this.stopFlushes();
    await this.publish();
    return this.sizeBytes;
  }
}
