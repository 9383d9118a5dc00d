/**
 * The receiving side of a download: a window of reads in flight; each reply's data is checked
 * against its block hash and written straight from the message to its offset in the sink (no copy),
 * while the whole-file hash is taken in order. A reply that arrives ahead of the hash cursor is
 * copied once into a pooled buffer until the cursor reaches it (sequential sinks such as stdout also
 * get their bytes in order from there). The end compares the hash with the server's.
 *
 * A sink that keeps a journal (a part file, download-part.ts) is told each verified block, and on a
 * failure is suspended rather than discarded; with `resume` it starts from the blocks its journal
 * vouches for: those are not asked for again, only read back from the part file for the whole-file
 * hash, which is checked as always before the part file is published.
 */
import { xxh64 } from '../../core/checksum.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { encodeRequest, READ_REPLY_HEADER_BYTES, READ_REPLY_OFF_HASH } from '../../wire/transfer/index.js';
import {
  checkAborted,
  chooseBlockBytes,
  hashHex,
  windowBlocksOf,
  type CopyOptions,
  type CopyResult,
} from './copy-options.js';
import { isResumableSink, type DownloadGeometry, type ResumableSink } from './download-part.js';
import { Pacer } from './pacer.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import type { RpcClient } from './rpc-client.js';
import { InOrder, InOrderHasher } from '../in-order.js';
import type { DownloadSink } from './sources.js';
import { WaitingPool } from '../waiting-pool.js';

const MAX_READ_RETRIES = 8;

/** One download in progress: the reads handed out, the blocks done, the first failure. */
interface DownloadRun {
  rpc: RpcClient;
  transferId: number;
  sizeBytes: number;
  blockBytes: number;
  blockCount: number;
  sink: DownloadSink;
  /** The sink's journal when it keeps one (a part file): blocks it has, blocks to record. */
  part: ResumableSink | null;
  inOrder: InOrder | null;
  pacer: Pacer;
  opts: CopyOptions;
  nextIndex: number;
  bytesDone: number;
  bytesMoved: number;
  blocks: number;
  failed: unknown;
}

/** Makes a download's sink, told the file's size, block geometry and identity (for a journal). */
export type MakeSink = (sizeBytes: number, geometry: DownloadGeometry) => Promise<DownloadSink>;

export async function downloadFile(
  rpc: RpcClient,
  name: string,
  makeSink: MakeSink,
  opts: CopyOptions,
): Promise<CopyResult> {
  const open = await rpc.call('DOWNLOAD_OPEN', { name });
  const sizeBytes = open.sizeBytes;
  const askedBlockBytes = chooseBlockBytes(
    sizeBytes,
    Math.min(opts.blockBytes ?? TRANSFER_LIMITS.DEFAULT_BLOCK_BYTES, TRANSFER_LIMITS.MAX_BLOCK_BYTES),
    TRANSFER_LIMITS.MAX_BLOCKS,
    TRANSFER_LIMITS.MAX_BLOCK_BYTES,
  );
  let blockBytes = askedBlockBytes;
  const verify = opts.verify !== false;
  let sink: DownloadSink | null = null;
  let keep = false;
  try {
    sink = await makeSink(sizeBytes, {
      sizeBytes,
      blockBytes: askedBlockBytes,
      blockCount: Math.ceil(sizeBytes / askedBlockBytes),
      blockBytesAsked: opts.blockBytes !== undefined,
      sourceTag: xxh64(Buffer.from(`${name}\0${sizeBytes}\0${open.mtimeMs}`, 'utf8')),
      resume: opts.resume === true,
      ...(open.mode !== undefined ? { mode: open.mode } : {}),
    });
    const part = isResumableSink(sink) ? sink : null;
    keep = part !== null;
    if (part) blockBytes = part.blockBytes; // a resume keeps the journal's block size
    const blockCount = Math.ceil(sizeBytes / blockBytes);
    const window = windowBlocksOf(opts);
    const hasher = verify ? new InOrderHasher() : null;
    const run: DownloadRun = {
      rpc,
      transferId: open.transferId,
      sizeBytes,
      blockBytes,
      blockCount,
      sink,
      part,
      inOrder: orderedFeed(sink, hasher, blockBytes, window),
      pacer: new Pacer(opts.rateBytesPerSec, opts.clock ?? systemClock),
      opts,
      nextIndex: 0,
      bytesDone: part ? haveBytes(part, blockBytes, sizeBytes) : 0,
      bytesMoved: 0,
      blocks: 0,
      failed: null,
    };
    await Promise.all(Array.from({ length: window }, () => new Reader(run).loop()));
    if (run.failed) throw run.failed;
    const close = await rpc.call('DOWNLOAD_CLOSE', { transferId: open.transferId, verify: verify ? 1 : 0 });
    const fileHash = hasher ? hasher.digest() : null;
    if (fileHash !== null && fileHash !== close.fileHash) {
      keep = false; // the bytes kept are wrong somewhere: a resume must not trust them
      throw hashMismatch(name, fileHash, close.fileHash);
    }
    await sink.commit();
    sink = null;
    return {
      direction: 'download',
      mode: 'offset',
      name,
      bytes: sizeBytes,
      bytesMoved: run.bytesMoved,
      blockBytes,
      blocksSent: run.blocks,
      blocksResent: 0,
      blocksSkipped: part?.have.count ?? 0,
      resumed: part?.resumed === true,
      fileHash: fileHash === null ? null : hashHex(fileHash),
    };
  } catch (err) {
    if (sink && keep && isResumableSink(sink)) await sink.suspend().catch(() => undefined);
    else await sink?.discard().catch(() => undefined);
    await rpc.call('TRANSFER_ABORT', { transferId: open.transferId, keepJournal: 0 }).catch(() => undefined);
    throw err;
  }
}

/** Bytes of the blocks a part file already has. */
function haveBytes(part: ResumableSink, blockBytes: number, sizeBytes: number): number {
  const have = part.have;
  if (have.count === 0) return 0;
  const last = have.size - 1;
  return have.count * blockBytes - (have.has(last) ? have.size * blockBytes - sizeBytes : 0);
}

function hashMismatch(name: string, ours: bigint, theirs: bigint): FerryError {
  return new FerryError(
    'HASH_MISMATCH',
    `downloaded ${name} does not match the server's xxhash64 (${ours.toString(16)} vs ${theirs.toString(16)}): nothing was kept; copy again`,
  );
}

/**
 * What needs the bytes in offset order (the whole-file hash, a sequential sink such as stdout)
 * gets them through an InOrder; null when nothing does.
 */
function orderedFeed(
  sink: DownloadSink,
  hasher: InOrderHasher | null,
  blockBytes: number,
  window: number,
): InOrder | null {
  if (!hasher && !sink.sequential) return null;
  return new InOrder(new WaitingPool(blockBytes, window * 2), async (data, offset) => {
    hasher?.offer(offset, data);
    if (sink.sequential) await sink.write(0, data);
  });
}

/**
 * One slot of the window: takes the next block until the file is done or the download failed. Its
 * request builder and reply consumer are made once per slot, not per block; a block kept from an
 * earlier run is read back from the part file (into a buffer of the slot's) only when the
 * whole-file hash needs it.
 */
class Reader {
  private offset = 0;
  private length = 0;
  private scratch: Buffer | null = null;

  constructor(private readonly run: DownloadRun) {}

  async loop(): Promise<void> {
    const run = this.run;
    try {
      while (run.nextIndex < run.blockCount && run.failed === null) {
        checkAborted(run.opts.signal);
        const index = run.nextIndex++;
        this.offset = index * run.blockBytes;
        this.length = Math.min(run.blockBytes, run.sizeBytes - this.offset);
        if (run.part?.have.has(index)) {
          await this.kept();
          continue;
        }
        await run.pacer.take(this.length);
        await this.fetch();
        run.part?.markVerified(index);
        run.blocks++;
        run.bytesMoved += this.length;
        run.bytesDone += this.length;
        run.opts.onProgress?.({ bytesDone: run.bytesDone, bytesTotal: run.sizeBytes });
      }
    } catch (err) {
      run.failed ??= err;
    }
  }

  /** A block the part file has: fed to the in-order hash from there (nothing moves). */
  private async kept(): Promise<void> {
    const { inOrder, part } = this.run;
    if (!inOrder || !part) return;
    const buf = (this.scratch ??= Buffer.allocUnsafe(this.run.blockBytes)).subarray(0, this.length);
    if ((await part.readInto(this.offset, buf)) !== this.length) {
      throw new FerryError('IO_ERROR', `the part file is shorter than the journal says (at ${this.offset})`);
    }
    await inOrder.offer(this.offset, buf);
  }

  private async fetch(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.run.rpc.request('DOWNLOAD_READ', this.build, 'unordered', this.consume);
        return;
      } catch (err) {
        if (!isFerryError(err, 'HASH_MISMATCH') || attempt >= MAX_READ_RETRIES) throw err;
      }
    }
  }

  private readonly build = (id: number): Uint8Array[] => [
    encodeRequest('DOWNLOAD_READ', id, {
      transferId: this.run.transferId,
      offset: this.offset,
      length: this.length,
    }),
  ];

  private readonly consume = async (payload: Buffer): Promise<void> => {
    const { sink, inOrder } = this.run;
    const offset = this.offset;
    const data = payload.subarray(READ_REPLY_HEADER_BYTES);
    if (data.length !== this.length)
      throw new FerryError(
        'PROTOCOL_ERROR',
        `read at ${offset} returned ${data.length} bytes, asked ${this.length}`,
      );
    if (xxh64(data) !== payload.readBigUInt64LE(READ_REPLY_OFF_HASH)) {
      throw new FerryError('HASH_MISMATCH', `block at ${offset} does not match its xxhash64`);
    }
    if (!sink.sequential) await sink.write(offset, data);
    if (inOrder) await inOrder.offer(offset, data);
  };
}
