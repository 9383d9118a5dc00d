/**
 * The receiving side of a download: a window of reads in flight; each reply's data is checked
 * against its block hash and written straight from the message to its offset in the sink (no copy),
 * while the whole-file hash is taken in order. A reply that arrives ahead of the hash cursor is
 * copied once into a pooled buffer until the cursor reaches it (sequential sinks such as stdout also
 * get their bytes in order from there). The end compares the hash with the server's.
 */
import { xxh64 } from '../../core/checksum.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { encodeRequest, READ_REPLY_HEADER_BYTES, READ_REPLY_OFF_HASH } from '../../wire/transfer/index.js';
import { checkAborted, hashHex, windowBlocksOf, type CopyOptions, type CopyResult } from './copy-options.js';
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
  sink: DownloadSink;
  inOrder: InOrder | null;
  pacer: Pacer;
  opts: CopyOptions;
  next: number;
  bytesDone: number;
  blocks: number;
  failed: unknown;
}

export async function downloadFile(
  rpc: RpcClient,
  name: string,
  makeSink: (sizeBytes: number) => Promise<DownloadSink>,
  opts: CopyOptions,
): Promise<CopyResult> {
  const open = await rpc.call('DOWNLOAD_OPEN', { name });
  const sizeBytes = open.sizeBytes;
  const blockBytes = Math.min(
    opts.blockBytes ?? TRANSFER_LIMITS.DEFAULT_BLOCK_BYTES,
    TRANSFER_LIMITS.MAX_BLOCK_BYTES,
  );
  const verify = opts.verify !== false;
  let sink: DownloadSink | null = null;
  try {
    sink = await makeSink(sizeBytes);
    const window = windowBlocksOf(opts);
    const hasher = verify ? new InOrderHasher() : null;
    const run: DownloadRun = {
      rpc,
      transferId: open.transferId,
      sizeBytes,
      blockBytes,
      sink,
      inOrder: orderedFeed(sink, hasher, blockBytes, window),
      pacer: new Pacer(opts.rateBytesPerSec, opts.clock ?? systemClock),
      opts,
      next: 0,
      bytesDone: 0,
      blocks: 0,
      failed: null,
    };
    await Promise.all(Array.from({ length: window }, () => worker(run)));
    if (run.failed) throw run.failed;
    const close = await rpc.call('DOWNLOAD_CLOSE', { transferId: open.transferId, verify: verify ? 1 : 0 });
    const fileHash = hasher ? hasher.digest() : null;
    if (fileHash !== null && fileHash !== close.fileHash) throw hashMismatch(name, fileHash, close.fileHash);
    await sink.commit();
    sink = null;
    return {
      direction: 'download',
      mode: 'offset',
      name,
      bytes: sizeBytes,
      bytesMoved: sizeBytes,
      blockBytes,
      blocksSent: run.blocks,
      blocksResent: 0,
      blocksSkipped: 0,
      resumed: false,
      fileHash: fileHash === null ? null : hashHex(fileHash),
    };
  } catch (err) {
    await sink?.discard().catch(() => undefined);
    await rpc.call('TRANSFER_ABORT', { transferId: open.transferId, keepJournal: 0 }).catch(() => undefined);
    throw err;
  }
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

/** Takes the next read until the file is done or the download failed. */
async function worker(run: DownloadRun): Promise<void> {
  try {
    while (run.next < run.sizeBytes && run.failed === null) {
      checkAborted(run.opts.signal);
      const offset = run.next;
      const length = Math.min(run.blockBytes, run.sizeBytes - offset);
      run.next += length;
      await run.pacer.take(length);
      await readBlock(run.rpc, run.transferId, offset, length, run.sink, run.inOrder);
      run.blocks++;
      run.bytesDone += length;
      run.opts.onProgress?.({ bytesDone: run.bytesDone, bytesTotal: run.sizeBytes });
    }
  } catch (err) {
    run.failed ??= err;
  }
}

async function readBlock(
  rpc: RpcClient,
  transferId: number,
  offset: number,
  length: number,
  sink: DownloadSink,
  inOrder: InOrder | null,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rpc.request(
        'DOWNLOAD_READ',
        (id) => [encodeRequest('DOWNLOAD_READ', id, { transferId, offset, length })],
        'unordered',
        async (payload) => {
          const data = payload.subarray(READ_REPLY_HEADER_BYTES);
          if (data.length !== length)
            throw new FerryError(
              'PROTOCOL_ERROR',
              `read at ${offset} returned ${data.length} bytes, asked ${length}`,
            );
          if (xxh64(data) !== payload.readBigUInt64LE(READ_REPLY_OFF_HASH)) {
            throw new FerryError('HASH_MISMATCH', `block at ${offset} does not match its xxhash64`);
          }
          if (!sink.sequential) await sink.write(offset, data);
          if (inOrder) await inOrder.offer(offset, data);
        },
      );
      return;
    } catch (err) {
      if (!isFerryError(err, 'HASH_MISMATCH') || attempt >= MAX_READ_RETRIES) throw err;
    }
  }
}
