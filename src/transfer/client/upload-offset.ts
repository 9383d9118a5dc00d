/**
 * The sending side of an offset upload: a window of blocks in flight, each read from the source
 * straight into a pooled message buffer behind its header, hashed, sent unordered; a refused block
 * (hash mismatch) is read and sent again; the commit carries the whole-file hash.
 *
 * The source is read in block order by one reader at a time (a short critical section: a local
 * read), which keeps the whole-file hash a single in-order pass even with many blocks in flight and
 * even for blocks a resume skips.
 */
import { xxh64 } from '../../core/checksum.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { BufferPool } from '../../core/pool.js';
import { systemClock } from '../../core/clock.js';
import { MESSAGES, BLOCK_HEADER_BYTES, writeBlockHeader } from '../../wire/transfer/index.js';
import { Bitmap } from '../bitmap.js';
import { InOrderHasher } from '../in-order.js';
import {
  checkAborted,
  windowBlocksOf,
  chooseBlockBytes,
  type CopyOptions,
  hashHex,
  sourceShrank,
  type CopyResult,
} from './copy-options.js';
import { Pacer } from './pacer.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import type { RpcClient } from './rpc-client.js';
import type { UploadSource } from './sources.js';

/** Re-sends of one refused block before the copy fails. */
const MAX_BLOCK_RESENDS = 8;

interface UploadRun {
  rpc: RpcClient;
  source: UploadSource;
  transferId: number;
  blockBytes: number;
  blockCount: number;
  verified: Bitmap;
  hasher: InOrderHasher | null;
  nextIndex: number;
  /** The read lock (see lockRead) and the slots waiting for it. */
  reading: boolean;
  readWaiters: Array<() => void>;
  pacer: Pacer;
  opts: CopyOptions;
  bytesDone: number;
  bytesMoved: number;
  blocksSent: number;
  blocksResent: number;
  failed: unknown;
}

export async function uploadOffset(
  rpc: RpcClient,
  source: UploadSource,
  name: string,
  opts: CopyOptions,
): Promise<CopyResult> {
  const blockBytes = chooseBlockBytes(
    source.sizeBytes,
    opts.blockBytes ?? TRANSFER_LIMITS.DEFAULT_BLOCK_BYTES,
    TRANSFER_LIMITS.MAX_BLOCKS,
    TRANSFER_LIMITS.MAX_BLOCK_BYTES,
  );
  const begin = await rpc.call('UPLOAD_BEGIN', {
    sizeBytes: source.sizeBytes,
    blockBytes,
    fileMode: source.fileMode,
    sourceTag: source.tag,
    resume: opts.resume ? 1 : 0,
    name,
  });
  const verified = new Bitmap(begin.blockCount, begin.resumed === 1 ? begin.verified : undefined);
  const run: UploadRun = {
    rpc,
    source,
    transferId: begin.transferId,
    blockBytes,
    blockCount: begin.blockCount,
    verified,
    hasher: opts.verify === false ? null : new InOrderHasher(),
    nextIndex: 0,
    reading: false,
    readWaiters: [],
    pacer: new Pacer(opts.rateBytesPerSec, opts.clock ?? systemClock),
    opts,
    bytesDone: verifiedBytes(verified, blockBytes, source.sizeBytes),
    bytesMoved: 0,
    blocksSent: 0,
    blocksResent: 0,
    failed: null,
  };
  const skipped = verified.count;
  try {
    const window = windowBlocksOf(opts);
    const pool = new BufferPool(BLOCK_HEADER_BYTES + blockBytes, window);
    await Promise.all(
      Array.from({ length: Math.min(window, Math.max(1, begin.blockCount)) }, () => worker(run, pool)),
    );
    if (run.failed) throw run.failed;
    const fileHash = run.hasher ? run.hasher.digest() : 0n;
    await rpc.call('UPLOAD_COMMIT', { transferId: run.transferId, fileHash, verify: run.hasher ? 1 : 0 });
    return {
      direction: 'upload',
      mode: 'offset',
      name,
      bytes: source.sizeBytes,
      bytesMoved: run.bytesMoved,
      blockBytes,
      blocksSent: run.blocksSent,
      blocksResent: run.blocksResent,
      blocksSkipped: skipped,
      resumed: begin.resumed === 1,
      fileHash: run.hasher ? hashHex(fileHash) : null,
    };
  } catch (err) {
    // leave what arrived resumable unless the server already dropped the transfer
    if (!isFerryError(err, 'HASH_MISMATCH') || run.failed !== null) {
      await rpc.call('TRANSFER_ABORT', { transferId: run.transferId, keepJournal: 1 }).catch(() => undefined);
    }
    throw err;
  }
}

function verifiedBytes(v: Bitmap, blockBytes: number, sizeBytes: number): number {
  if (v.count === 0) return 0;
  const last = v.size - 1;
  return v.count * blockBytes - (v.has(last) ? v.size * blockBytes - sizeBytes : 0);
}

/**
 * The read lock: the source is read in block order by one slot at a time. Taking a free lock
 * allocates nothing; a slot that finds it taken waits in line.
 */
function lockRead(run: UploadRun): Promise<void> | null {
  if (!run.reading) {
    run.reading = true;
    return null;
  }
  return new Promise<void>((r) => run.readWaiters.push(r));
}

/** Hands the read lock to the next slot in line, or frees it. */
function unlockRead(run: UploadRun): void {
  const next = run.readWaiters.shift();
  if (next) next();
  else run.reading = false;
}

/** A reply to UPLOAD_BLOCK carries nothing to consume. */
const IGNORE_REPLY = (): undefined => undefined;

/**
 * One slot of the window: its pooled message buffer, the block it holds, and its request builder
 * made once (nothing is allocated per block on this path but what the transport needs).
 */
class Sender {
  private index = 0;
  private offset = 0;
  private length = 0;
  private hash = 0n;

  constructor(
    private readonly run: UploadRun,
    private readonly buf: Buffer,
  ) {}

  async loop(): Promise<void> {
    const run = this.run;
    for (;;) {
      checkAborted(run.opts.signal);
      if (!(await this.next())) return;
      await this.send();
      run.bytesDone += this.length;
      run.opts.onProgress?.({ bytesDone: run.bytesDone, bytesTotal: run.source.sizeBytes });
    }
  }

  private data(): Buffer {
    return this.buf.subarray(BLOCK_HEADER_BYTES, BLOCK_HEADER_BYTES + this.length);
  }

  /** Takes the next block under the read lock: reads it (hashing in order); skips verified ones. */
  private async next(): Promise<boolean> {
    const run = this.run;
    const wait = lockRead(run);
    if (wait) await wait;
    try {
      while (run.nextIndex < run.blockCount && run.failed === null) {
        this.index = run.nextIndex++;
        this.offset = this.index * run.blockBytes;
        this.length = Math.min(run.blockBytes, run.source.sizeBytes - this.offset);
        const skip = run.verified.has(this.index);
        if (skip && !run.hasher) continue;
        const data = this.data();
        const n = await run.source.readInto(this.offset, data);
        if (n !== this.length)
          throw new FerryError(
            'IO_ERROR',
            `the source shrank while being copied (short read at ${this.offset}): copy again`,
          );
        run.hasher?.offer(this.offset, data);
        if (!skip) return true;
      }
      return false;
    } finally {
      unlockRead(run);
    }
  }

  private async send(): Promise<void> {
    const run = this.run;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        // read again: the bytes in the buffer are the suspects
        const n = await run.source.readInto(this.offset, this.data());
        if (n !== this.length) throw sourceShrank();
      }
      await run.pacer.take(this.length);
      this.hash = xxh64(this.data());
      try {
        await run.rpc.request('UPLOAD_BLOCK', this.build, 'unordered', IGNORE_REPLY);
        run.bytesMoved += this.length;
        if (attempt === 0) run.blocksSent++;
        else run.blocksResent++;
        return;
      } catch (err) {
        if (!isFerryError(err, 'HASH_MISMATCH') || attempt >= MAX_BLOCK_RESENDS) throw err;
      }
    }
  }

  private readonly build = (requestId: number): Uint8Array[] => {
    writeBlockHeader(
      this.buf,
      MESSAGES.UPLOAD_BLOCK.type,
      requestId,
      this.run.transferId,
      this.offset,
      this.hash,
    );
    return [this.buf.subarray(0, BLOCK_HEADER_BYTES + this.length)];
  };
}

async function worker(run: UploadRun, pool: BufferPool): Promise<void> {
  const buf = pool.acquire();
  if (!buf) throw new FerryError('INTERNAL', 'upload buffer pool smaller than its window');
  try {
    await new Sender(run, buf).loop();
  } catch (err) {
    run.failed ??= err;
  } finally {
    pool.release(buf);
  }
}
