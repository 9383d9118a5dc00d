/**
 * The receiving side of a download: a window of reads in flight; each reply's data is checked
 * against its block hash and written straight from the message to its offset in the sink (no copy),
 * while the whole-file hash is taken in order. A reply that arrives ahead of the hash cursor is
 * copied once into a pooled buffer until the cursor reaches it (sequential sinks such as stdout also
 * get their bytes in order from there). The end compares the hash with the server's.
 */
import { createXxh64, xxh64, type Hasher64 } from '../../core/checksum.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { encodeRequest, READ_REPLY_HEADER_BYTES, READ_REPLY_OFF_HASH } from '../../wire/transfer/index.js';
import { checkAborted, windowBlocksOf, type CopyOptions, type CopyStats } from './copy-options.js';
import { Pacer } from './pacer.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import type { RpcClient } from './rpc-client.js';
import { InOrder } from '../in-order.js';
import type { DownloadSink } from './sources.js';
import { WaitingPool } from '../waiting-pool.js';

const MAX_READ_RETRIES = 8;

export async function downloadFile(
  rpc: RpcClient,
  name: string,
  makeSink: (sizeBytes: number) => Promise<DownloadSink>,
  opts: CopyOptions,
): Promise<Omit<CopyStats, 'retransmits' | 'rttMs' | 'seconds' | 'rateBytesPerSec'>> {
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
    const s = sink;
    const window = windowBlocksOf(opts);
    const hasher: Hasher64 | null = verify ? createXxh64() : null;
    const needOrder = verify || s.sequential;
    const inOrder = needOrder
      ? new InOrder(new WaitingPool(blockBytes, window * 2), async (data) => {
          hasher?.update(data);
          if (s.sequential) await s.write(0, data);
        })
      : null;
    const state = { next: 0, bytesDone: 0, blocks: 0, failed: null as unknown };
    const pacer = new Pacer(opts.rateBytesPerSec, opts.clock ?? systemClock);
    const worker = async (): Promise<void> => {
      try {
        while (state.next < sizeBytes && state.failed === null) {
          checkAborted(opts.signal);
          const offset = state.next;
          const length = Math.min(blockBytes, sizeBytes - offset);
          state.next += length;
          await pacer.take(length);
          await readBlock(rpc, open.transferId, offset, length, s, inOrder);
          state.blocks++;
          state.bytesDone += length;
          opts.onProgress?.({ bytesDone: state.bytesDone, bytesTotal: sizeBytes });
        }
      } catch (err) {
        state.failed ??= err;
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
    if (state.failed) throw state.failed;
    const close = await rpc.call('DOWNLOAD_CLOSE', { transferId: open.transferId, verify: verify ? 1 : 0 });
    const fileHash = hasher ? hasher.digest() : null;
    if (fileHash !== null && fileHash !== close.fileHash) {
      throw new FerryError(
        'HASH_MISMATCH',
        `downloaded ${name} does not match the server's xxhash64 (${fileHash.toString(16)} vs ${close.fileHash.toString(16)}): nothing was kept; copy again`,
      );
    }
    await s.commit();
    sink = null;
    return {
      direction: 'download',
      mode: 'offset',
      name,
      bytes: sizeBytes,
      bytesMoved: sizeBytes,
      blockBytes,
      blocksSent: state.blocks,
      blocksResent: 0,
      blocksSkipped: 0,
      resumed: false,
      fileHash: fileHash === null ? null : fileHash.toString(16).padStart(16, '0'),
    };
  } catch (err) {
    await sink?.discard().catch(() => undefined);
    await rpc.call('TRANSFER_ABORT', { transferId: open.transferId, keepJournal: 0 }).catch(() => undefined);
    throw err;
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
