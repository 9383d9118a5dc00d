/**
 * The receiving side of an offset upload: blocks land at their offsets in a hidden part file, in
 * any order; each is verified before it is written and counted; the journal records the bitmap of
 * blocks that are durable; the commit checks the whole-file hash, makes the data durable and only
 * then publishes the file under its name. The journal, its durability rule and the endings are the
 * shared half in upload-session.ts; this file is what is particular to blocks at offsets.
 *
 * The whole-file hash is computed as blocks allow: a block that arrives at the hash cursor is
 * hashed from the message itself; blocks that arrived early are read back from the part file when
 * the cursor reaches them (one background loop), so in-order traffic is never read twice.
 */
import type { Clock } from '../../core/clock.js';
import { xxh64 } from '../../core/checksum.js';
import { FerryError } from '../../core/errors.js';
import { LIMITS, TRANSFER_LIMITS } from '../../core/limits.js';
import type { FileHandle, FlatFs } from '../../flatfs/types.js';
import { JOURNAL_KIND_OFFSET } from '../../wire/transfer/index.js';
import { Bitmap } from '../bitmap.js';
import { readJournal, removeQuietly } from './journal-store.js';
import { openPart, UploadSession, type JournalBatch, type UploadParams } from './upload-session.js';
import { uploadNames } from '../names.js';

export interface OffsetUploadParams extends UploadParams {
  sizeBytes: number;
  blockBytes: number;
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

export class OffsetUpload extends UploadSession<OffsetUploadParams> {
  readonly blockCount: number;
  readonly verified: Bitmap;
  private readonly durable: Bitmap;
  private pending: number[] = [];
  private writesInFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private catchingUp: Promise<void> | null = null;

  private constructor(
    fs: FlatFs,
    params: OffsetUploadParams,
    handle: FileHandle,
    from: Uint8Array | undefined,
    clock: Clock,
    resumed: boolean,
  ) {
    super(fs, params, handle, clock, resumed);
    this.blockCount = Math.ceil(params.sizeBytes / params.blockBytes);
    this.verified = new Bitmap(this.blockCount, from);
    this.durable = new Bitmap(this.blockCount, from);
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
        const handle = await openPart(fs, names.part, (size) => size === params.sizeBytes);
        if (handle !== null) return new OffsetUpload(fs, params, handle, rec.bitmap, clock, true);
      }
    }
    await removeQuietly(fs, names.journal);
    const handle = await fs.create(names.part, { sizeBytes: params.sizeBytes });
    return new OffsetUpload(fs, params, handle, undefined, clock, false);
  }

  /** Verifies and writes one block. Throws HASH_MISMATCH (re-send), OUT_OF_RANGE, MALFORMED. */
  async writeBlock(offset: number, hash: bigint, data: Buffer): Promise<void> {
    this.checkOpen();
    this.checkHealthy();
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
    this.hashInOrder(offset, data);
    this.scheduleFlush();
    if (this.overUnjournaledBound()) await this.boundUnjournaled();
  }

  private checkOpen(): void {
    if (this.state !== 'open')
      throw new FerryError('UNKNOWN_TRANSFER', `the upload of ${this.params.name} is ${this.state}`);
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

  /**
   * A block at the hash cursor is hashed from the message itself; blocks that arrived early are
   * read back from the part file when the cursor reaches them (one background loop), so in-order
   * traffic is never read twice.
   */
  private hashInOrder(offset: number, data: Buffer): void {
    if (this.catchingUp !== null) return;
    this.hasher.offer(offset, data);
    if (!this.nextToHashVerified()) return;
    // A read back that fails (the part file closed under it by a suspend, a disk error) marks the
    // upload failed; it must never become an unhandled rejection that ends the server.
    this.catchingUp = this.catchUp()
      .catch((e: unknown) => this.setFailure(e))
      .finally(() => (this.catchingUp = null));
  }

  private nextToHashVerified(): boolean {
    const cursor = this.hasher.cursor;
    return cursor < this.params.sizeBytes && this.verified.has(cursor / this.params.blockBytes);
  }

  /** Hashes verified blocks at the cursor by reading them back, until the next missing one. */
  private async catchUp(): Promise<void> {
    const { blockBytes, sizeBytes } = this.params;
    const buf = Buffer.allocUnsafe(blockBytes);
    const read = (offset: number, target: Buffer): Promise<number> =>
      this.fs.readInto(this.handle, offset, target);
    const shortRead = (offset: number): FerryError =>
      new FerryError('IO_ERROR', `part file short read at ${offset}`);
    while (this.state !== 'closed' && this.nextToHashVerified()) {
      await this.hasher.readUpTo(Math.min(this.hasher.cursor + blockBytes, sizeBytes), read, buf, shortRead);
    }
  }

  protected get unjournaled(): number {
    return this.pending.length;
  }

  protected takeBatch(): JournalBatch {
    const batch = this.pending;
    this.pending = [];
    return {
      count: batch.length,
      record: () => {
        for (const i of batch) this.durable.set(i);
        return {
          kind: JOURNAL_KIND_OFFSET,
          sizeBytes: this.params.sizeBytes,
          position: this.blockCount,
          sourceTag: this.params.sourceTag,
          blockBytes: this.params.blockBytes,
          fileMode: this.params.fileMode,
          bitmap: this.durable.bytes,
        };
      },
    };
  }

  private async idle(): Promise<void> {
    while (this.writesInFlight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  protected async stopForSuspend(): Promise<void> {
    this.state = 'closed';
    this.clearTimer();
    await this.idle();
    // the background read back stops at its next block; the part file closes only after it did
    while (this.catchingUp) await this.catchingUp;
  }

  protected writesSettled(): Promise<void> {
    return this.idle();
  }

  /**
   * Checks the whole-file hash, makes the file durable and publishes it. On a hash mismatch the
   * partial file and journal are removed and HASH_MISMATCH thrown.
   */
  async commit(fileHash: bigint | null): Promise<number> {
    this.checkOpen();
    await this.idle();
    this.checkHealthy();
    if (!this.verified.full()) {
      throw new FerryError(
        'PROTOCOL_ERROR',
        `commit with ${this.blockCount - this.verified.count} of ${this.blockCount} blocks missing: send them first`,
      );
    }
    this.state = 'committing';
    this.clearTimer();
    try {
      await this.stopFlushes();
      while (this.catchingUp) await this.catchingUp;
      this.checkHealthy();
      if (fileHash !== null) {
        await this.catchUp();
        const computed = this.hasher.digest();
        if (computed !== fileHash) await this.refuseHash(fileHash, computed);
      }
      await this.publish();
      return this.params.sizeBytes;
    } catch (err) {
      if (this.state === 'committing') {
        this.state = 'open';
        this.resumeFlushes();
      }
      throw err;
    }
  }
}
