/**
 * The receiving side of an offset upload: blocks land at their offsets in a hidden part file, in
 * any order; each is verified before it is written and counted; the journal records the blocks
 * that are durable; the commit checks the whole-file hash, makes the data durable and only then
 * publishes the file under its name.
 *
 * Durability rule: the journal never claims more than is on disk. A journal flush takes the blocks
 * verified since the last one, fsyncs the part file, then replaces the journal. A crash loses at
 * most the verified blocks not yet journaled (JOURNAL_FLUSH_BLOCKS / JOURNAL_FLUSH_MS bound them);
 * `--resume` re-sends exactly those and whatever was in flight.
 *
 * The whole-file hash is computed as blocks allow: a block that arrives at the hash cursor is
 * hashed from the message itself; blocks that arrived early are read back from the part file when
 * the cursor reaches them (one background loop), so in-order traffic is never read twice.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { createXxh64, xxh64, type Hasher64 } from '../../core/checksum.js';
import { FerryError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import type { FileHandle, FlatFs } from '../../flatfs/types.js';
import { JOURNAL_KIND_OFFSET } from '../../wire/transfer/index.js';
import { Bitmap } from '../bitmap.js';
import { readJournal, removeQuietly, writeJournal } from './journal-store.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import { uploadNames } from '../names.js';

export interface OffsetUploadParams {
  name: string;
  sizeBytes: number;
  blockBytes: number;
  fileMode: number;
  sourceTag: bigint;
  resume: boolean;
}

/** Checks the geometry of an upload request; throws INVALID_ARGUMENT / OUT_OF_RANGE. */
export function checkUploadGeometry(sizeBytes: number, blockBytes: number): number {
  if (sizeBytes > LIMITS.MAX_FILE_BYTES) {
    throw new FerryError(
      'OUT_OF_RANGE',
      `file of ${sizeBytes} bytes is larger than the ${LIMITS.MAX_FILE_BYTES}-byte limit`,
    );
  }
  const pow2 = blockBytes > 0 && (blockBytes & (blockBytes - 1)) === 0;
  if (!pow2 || blockBytes < TRANSFER_LIMITS.MIN_BLOCK_BYTES || blockBytes > TRANSFER_LIMITS.MAX_BLOCK_BYTES) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `block size ${blockBytes}: use a power of two from ${TRANSFER_LIMITS.MIN_BLOCK_BYTES} to ${TRANSFER_LIMITS.MAX_BLOCK_BYTES}`,
    );
  }
  const blockCount = Math.ceil(sizeBytes / blockBytes);
  if (blockCount > TRANSFER_LIMITS.MAX_BLOCKS) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `${blockCount} blocks of ${blockBytes} bytes exceed the ${TRANSFER_LIMITS.MAX_BLOCKS}-block limit: use larger blocks`,
    );
  }
  return blockCount;
}

export class OffsetUpload {
  readonly blockCount: number;
  readonly verified: Bitmap;
  private readonly durable: Bitmap;
  private pending: number[] = [];
  private flushing: Promise<void> | null = null;
  /** Blocks in the journal flush under way (verified, not yet durable). */
  private flushingCount = 0;
  /** Set once the upload commits, aborts or suspends: no journal may be written after that. */
  private flushStopped = false;
  private flushTimer: TimerHandle | null = null;
  private writesInFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private hasher: Hasher64 = createXxh64();
  private hashedBlocks = 0;
  private catchingUp: Promise<void> | null = null;
  private failure: FerryError | null = null;
  private state: 'open' | 'committing' | 'closed' = 'open';
  /** Blocks written by this session (not counting resumed ones), for the log line. */
  bytesReceived = 0;
  readonly names: ReturnType<typeof uploadNames>;

  private constructor(
    private readonly fs: FlatFs,
    readonly params: OffsetUploadParams,
    private readonly handle: FileHandle,
    from: Uint8Array | undefined,
    private readonly clock: Clock,
    readonly resumed: boolean,
  ) {
    this.blockCount = Math.ceil(params.sizeBytes / params.blockBytes);
    this.verified = new Bitmap(this.blockCount, from);
    this.durable = new Bitmap(this.blockCount, from);
    this.names = uploadNames(params.name);
  }

  /** Opens the part file: fresh, or (resume) from an intact matching journal. */
  static async begin(fs: FlatFs, params: OffsetUploadParams, clock: Clock): Promise<OffsetUpload> {
    checkUploadGeometry(params.sizeBytes, params.blockBytes);
    const names = uploadNames(params.name);
    if (params.resume) {
      const rec = await readJournal(fs, names.journal);
      const matches =
        rec !== null &&
        rec.kind === JOURNAL_KIND_OFFSET &&
        rec.sizeBytes === params.sizeBytes &&
        rec.blockBytes === params.blockBytes &&
        rec.sourceTag === params.sourceTag;
      if (matches) {
        const handle = await openPart(fs, names.part, params.sizeBytes);
        if (handle !== null) return new OffsetUpload(fs, params, handle, rec.bitmap, clock, true);
      }
    }
    await removeQuietly(fs, names.journal);
    const handle = await fs.create(names.part, { sizeBytes: params.sizeBytes });
    return new OffsetUpload(fs, params, handle, undefined, clock, false);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Verifies and writes one block. Throws HASH_MISMATCH (re-send), OUT_OF_RANGE, MALFORMED. */
  async writeBlock(offset: number, hash: bigint, data: Buffer): Promise<void> {
    if (this.state !== 'open')
      throw new FerryError('UNKNOWN_TRANSFER', `the upload of ${this.params.name} is ${this.state}`);
    if (this.failure) throw this.failure;
    const index = this.blockIndex(offset, data.length);
    if (xxh64(data) !== hash) {
      throw new FerryError(
        'HASH_MISMATCH',
        `block at offset ${offset} does not match its xxhash64: send it again`,
      );
    }
    if (this.verified.has(index)) return;
    this.writesInFlight++;
    try {
      await this.fs.write(this.handle, offset, data);
    } finally {
      this.writesInFlight--;
      if (this.writesInFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
    if (!this.verified.set(index)) return;
    this.bytesReceived += data.length;
    this.pending.push(index);
    this.hashInOrder(index, data);
    this.scheduleFlush();
    await this.boundUnjournaled();
  }

  /**
   * Holds the acknowledgement while more than JOURNAL_MAX_UNJOURNALED_BLOCKS verified blocks are not
   * yet durable, so a crash can cost a resume at most that many acknowledged blocks.
   */
  private async boundUnjournaled(): Promise<void> {
    while (
      this.pending.length + this.flushingCount > TRANSFER_LIMITS.JOURNAL_MAX_UNJOURNALED_BLOCKS &&
      !this.flushStopped
    ) {
      await (this.flushing ?? this.flushJournal());
    }
  }

  private blockIndex(offset: number, length: number): number {
    const { blockBytes, sizeBytes } = this.params;
    if (offset % blockBytes !== 0 || offset >= sizeBytes) {
      throw new FerryError(
        'OUT_OF_RANGE',
        `block offset ${offset} is not a multiple of ${blockBytes} inside ${sizeBytes} bytes`,
      );
    }
    const expected = Math.min(blockBytes, sizeBytes - offset);
    if (length !== expected) {
      throw new FerryError('OUT_OF_RANGE', `block at ${offset} has ${length} bytes, expected ${expected}`);
    }
    return offset / blockBytes;
  }

  private hashInOrder(index: number, data: Buffer): void {
    if (this.catchingUp === null && index === this.hashedBlocks) {
      this.hasher.update(data);
      this.hashedBlocks++;
    }
    if (
      this.catchingUp === null &&
      this.hashedBlocks < this.blockCount &&
      this.verified.has(this.hashedBlocks)
    ) {
      this.catchingUp = this.catchUp().finally(() => (this.catchingUp = null));
    }
  }

  /** Hashes verified blocks at the cursor by reading them back, until the next missing one. */
  private async catchUp(): Promise<void> {
    const buf = Buffer.allocUnsafe(this.params.blockBytes);
    while (this.hashedBlocks < this.blockCount && this.verified.has(this.hashedBlocks)) {
      const offset = this.hashedBlocks * this.params.blockBytes;
      const length = Math.min(this.params.blockBytes, this.params.sizeBytes - offset);
      const n = await this.fs.readInto(this.handle, offset, buf.subarray(0, length));
      if (n !== length) throw new FerryError('IO_ERROR', `part file short read at ${offset}`);
      this.hasher.update(buf.subarray(0, length));
      this.hashedBlocks++;
    }
  }

  private scheduleFlush(): void {
    if (this.pending.length >= TRANSFER_LIMITS.JOURNAL_FLUSH_BLOCKS) {
      void this.flushJournal().catch((e: unknown) => this.setFailure(e));
      return;
    }
    if (this.flushTimer !== null) return;
    this.flushTimer = this.clock.setTimer(TRANSFER_LIMITS.JOURNAL_FLUSH_MS, () => {
      this.flushTimer = null;
      void this.flushJournal().catch((e: unknown) => this.setFailure(e));
    });
  }

  private setFailure(e: unknown): void {
    this.failure ??=
      e instanceof FerryError ? e : new FerryError('IO_ERROR', `journal write failed: ${String(e)}`);
  }

  /** fsync the data, then record the blocks verified before it in the journal. */
  async flushJournal(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.pending.length === 0 || this.flushStopped) return;
    const batch = this.pending;
    this.pending = [];
    this.flushingCount = batch.length;
    this.flushing = (async () => {
      await this.fs.fsync(this.handle);
      for (const i of batch) this.durable.set(i);
      await writeJournal(this.fs, this.names.journal, this.names.journalTmp, {
        kind: JOURNAL_KIND_OFFSET,
        sizeBytes: this.params.sizeBytes,
        position: this.blockCount,
        sourceTag: this.params.sourceTag,
        blockBytes: this.params.blockBytes,
        fileMode: this.params.fileMode,
        bitmap: this.durable.bytes,
      });
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
      this.flushingCount = 0;
    }
  }

  private async idle(): Promise<void> {
    while (this.writesInFlight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /**
   * Checks the whole-file hash, makes the file durable and publishes it. On a hash mismatch the
   * partial file and journal are removed and HASH_MISMATCH thrown.
   */
  async commit(fileHash: bigint | null): Promise<number> {
    if (this.state !== 'open')
      throw new FerryError('UNKNOWN_TRANSFER', `the upload of ${this.params.name} is ${this.state}`);
    await this.idle();
    if (this.failure) throw this.failure;
    if (!this.verified.full()) {
      throw new FerryError(
        'PROTOCOL_ERROR',
        `commit with ${this.blockCount - this.verified.count} of ${this.blockCount} blocks missing: send them first`,
      );
    }
    this.state = 'committing';
    this.flushStopped = true;
    this.clearTimer();
    try {
      while (this.flushing) await this.flushing.catch(() => undefined);
      while (this.catchingUp) await this.catchingUp;
      if (fileHash !== null) await this.catchUp();
      const computed = fileHash === null ? null : this.hasher.digest();
      if (fileHash !== null && computed !== fileHash) {
        await this.abort();
        throw new FerryError(
          'HASH_MISMATCH',
          `whole-file xxhash64 mismatch for ${this.params.name} (client ${fileHash?.toString(16)}, server ${computed?.toString(16)}): nothing was kept; copy again`,
        );
      }
      await this.fs.fsync(this.handle);
      await this.fs.closeFile(this.handle);
      this.state = 'closed';
      await this.fs.rename(this.names.part, this.params.name);
      await removeQuietly(this.fs, this.names.journal);
      return this.params.sizeBytes;
    } catch (err) {
      if (this.state === 'committing') {
        this.state = 'open';
        this.flushStopped = false;
      }
      throw err;
    }
  }

  /** Leaves the upload resumable: waits for writes, journals them, closes the part file. */
  async suspend(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimer();
    await this.idle();
    try {
      await this.flushJournal();
    } finally {
      this.flushStopped = true;
      while (this.flushing) await this.flushing.catch(() => undefined);
      await this.fs.closeFile(this.handle).catch(() => undefined);
    }
  }

  /** Drops the upload: removes the part file and the journal. */
  async abort(): Promise<void> {
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    this.flushStopped = true;
    this.clearTimer();
    await this.idle();
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

async function openPart(fs: FlatFs, part: string, sizeBytes: number): Promise<FileHandle | null> {
  try {
    const h = await fs.open(part, { write: true });
    if ((await fs.fstat(h)).sizeBytes === sizeBytes) return h;
    await fs.closeFile(h);
    return null;
  } catch {
    return null;
  }
}
