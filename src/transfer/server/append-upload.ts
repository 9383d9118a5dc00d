/**
 * The receiving side of an append sequence: numbered chunks applied strictly in order to a hidden
 * part file (the transport delivers them FIFO), each verified; the size need not be known up front
 * (a pipe). The journal records (bytes applied, next sequence number) after an fsync, so resume
 * truncates the part file to what the journal vouches for and continues from there.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { createXxh64, xxh64, type Hasher64 } from '../../core/checksum.js';
import { FerryError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import type { FileHandle, FlatFs } from '../../flatfs/types.js';
import { JOURNAL_KIND_APPEND } from '../../wire/transfer/index.js';
import { readJournal, removeQuietly, writeJournal } from './journal-store.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import { uploadNames } from '../names.js';

export interface AppendParams {
  name: string;
  fileMode: number;
  sourceTag: bigint;
  resume: boolean;
}

const REHASH_CHUNK_BYTES = 1 << 20;

export class AppendUpload {
  private hasher: Hasher64 = createXxh64();
  private unjournaled = 0;
  /** Chunks in the journal flush under way (applied, not yet durable). */
  private flushingCount = 0;
  private flushTimer: TimerHandle | null = null;
  private flushing: Promise<void> | null = null;
  /** Set once the sequence commits, aborts or suspends: no journal may be written after that. */
  private flushStopped = false;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: FerryError | null = null;
  private state: 'open' | 'closed' = 'open';
  bytesReceived = 0;
  readonly names: ReturnType<typeof uploadNames>;

  private constructor(
    private readonly fs: FlatFs,
    readonly params: AppendParams,
    private readonly handle: FileHandle,
    public sizeBytes: number,
    public nextSeq: number,
    private readonly clock: Clock,
    readonly resumed: boolean,
  ) {
    this.names = uploadNames(params.name);
  }

  static async begin(fs: FlatFs, params: AppendParams, clock: Clock): Promise<AppendUpload> {
    const names = uploadNames(params.name);
    if (params.resume) {
      const rec = await readJournal(fs, names.journal);
      if (rec && rec.kind === JOURNAL_KIND_APPEND && rec.sourceTag === params.sourceTag) {
        const h = await tryOpen(fs, names.part);
        if (h !== null && (await fs.fstat(h)).sizeBytes >= rec.sizeBytes) {
          await fs.ftruncate(h, rec.sizeBytes);
          const up = new AppendUpload(fs, params, h, rec.sizeBytes, rec.position, clock, true);
          await up.rehash();
          return up;
        }
        if (h !== null) await fs.closeFile(h);
      }
    }
    await removeQuietly(fs, names.journal);
    const handle = await fs.create(names.part);
    return new AppendUpload(fs, params, handle, 0, 0, clock, false);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  private async rehash(): Promise<void> {
    const buf = Buffer.allocUnsafe(REHASH_CHUNK_BYTES);
    for (let off = 0; off < this.sizeBytes;) {
      const n = await this.fs.readInto(
        this.handle,
        off,
        buf.subarray(0, Math.min(buf.length, this.sizeBytes - off)),
      );
      if (n <= 0)
        throw new FerryError('IO_ERROR', `part file of ${this.params.name} shorter than its journal`);
      this.hasher.update(buf.subarray(0, n));
      off += n;
    }
  }

  /** Applies chunk `seq` (already applied: no-op; a gap: PROTOCOL_ERROR). */
  append(seq: number, hash: bigint, data: Buffer): Promise<void> {
    const run = this.chain.then(() => this.applyOne(seq, hash, data));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyOne(seq: number, hash: bigint, data: Buffer): Promise<void> {
    if (this.state !== 'open')
      throw new FerryError('UNKNOWN_TRANSFER', `the append to ${this.params.name} is closed`);
    if (this.failure) throw this.failure;
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
    this.hasher.update(data);
    this.sizeBytes += data.length;
    this.bytesReceived += data.length;
    this.nextSeq++;
    this.unjournaled++;
    this.scheduleFlush();
    // acknowledged chunks not yet durable stay bounded (see JOURNAL_MAX_UNJOURNALED_BLOCKS)
    while (
      this.unjournaled + this.flushingCount > TRANSFER_LIMITS.JOURNAL_MAX_UNJOURNALED_BLOCKS &&
      !this.flushStopped
    ) {
      await (this.flushing ?? this.flushJournal());
    }
  }

  private scheduleFlush(): void {
    if (this.unjournaled >= TRANSFER_LIMITS.JOURNAL_FLUSH_BLOCKS) {
      void this.flushJournal().catch((e: unknown) => (this.failure ??= asFerry(e)));
      return;
    }
    if (this.flushTimer !== null) return;
    this.flushTimer = this.clock.setTimer(TRANSFER_LIMITS.JOURNAL_FLUSH_MS, () => {
      this.flushTimer = null;
      void this.flushJournal().catch((e: unknown) => (this.failure ??= asFerry(e)));
    });
  }

  async flushJournal(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.unjournaled === 0 || this.flushStopped) return;
    const sizeBytes = this.sizeBytes;
    const position = this.nextSeq;
    this.flushingCount = this.unjournaled;
    this.unjournaled = 0;
    this.flushing = (async () => {
      await this.fs.fsync(this.handle);
      await writeJournal(this.fs, this.names.journal, this.names.journalTmp, {
        kind: JOURNAL_KIND_APPEND,
        sizeBytes,
        position,
        sourceTag: this.params.sourceTag,
        blockBytes: 0,
        fileMode: this.params.fileMode,
        bitmap: new Uint8Array(0),
      });
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
      this.flushingCount = 0;
    }
  }

  /** Checks size and whole-file hash, makes the file durable, publishes it. */
  async commit(sizeBytes: number, fileHash: bigint | null): Promise<number> {
    await this.chain;
    if (this.state !== 'open')
      throw new FerryError('UNKNOWN_TRANSFER', `the append to ${this.params.name} is closed`);
    if (this.failure) throw this.failure;
    if (sizeBytes !== this.sizeBytes) {
      throw new FerryError(
        'PROTOCOL_ERROR',
        `commit says ${sizeBytes} bytes but ${this.sizeBytes} were applied`,
      );
    }
    const computed = this.hasher.digest();
    if (fileHash !== null && computed !== fileHash) {
      await this.abort();
      throw new FerryError(
        'HASH_MISMATCH',
        `whole-file xxhash64 mismatch for ${this.params.name} (client ${fileHash?.toString(16)}, server ${computed.toString(16)}): nothing was kept; copy again`,
      );
    }
    this.clearTimer();
    this.state = 'closed';
    this.flushStopped = true;
    while (this.flushing) await this.flushing.catch(() => undefined);
    await this.fs.fsync(this.handle);
    await this.fs.closeFile(this.handle);
    await this.fs.rename(this.names.part, this.params.name);
    await removeQuietly(this.fs, this.names.journal);
    return this.sizeBytes;
  }

  async suspend(): Promise<void> {
    if (this.state === 'closed') return;
    await this.chain;
    this.clearTimer();
    try {
      await this.flushJournal();
    } finally {
      this.state = 'closed';
      this.flushStopped = true;
      while (this.flushing) await this.flushing.catch(() => undefined);
      await this.fs.closeFile(this.handle).catch(() => undefined);
    }
  }

  async abort(): Promise<void> {
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.flushStopped = true;
    this.clearTimer();
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (wasOpen) await this.fs.closeFile(this.handle).catch(() => undefined);
    await removeQuietly(this.fs, this.names.part);
    await removeQuietly(this.fs, this.names.journal);
  }

  private clearTimer(): void {
    if (this.flushTimer !== null) this.clock.clearTimer(this.flushTimer);
    this.flushTimer = null;
  }
}

function asFerry(e: unknown): FerryError {
  return e instanceof FerryError ? e : new FerryError('IO_ERROR', `journal write failed: ${String(e)}`);
}

async function tryOpen(fs: FlatFs, name: string): Promise<FileHandle | null> {
  try {
    return await fs.open(name, { write: true });
  } catch {
    return null;
  }
}
