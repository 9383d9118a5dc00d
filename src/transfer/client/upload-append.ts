/**
 * The sending side of an append sequence: chunks numbered from the server's next sequence number,
 * sent FIFO with a window in flight, each with its xxhash64; the source may be a pipe of unknown
 * size. Chunks stay held until acknowledged, so a refused chunk (and the ones after it, which the
 * server then refuses as out of order) is sent again from there.
 */
import type { Readable } from 'node:stream';
import { createXxh64, xxh64 } from '../../core/checksum.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { BLOCK_HEADER_BYTES, MESSAGES, writeBlockHeader } from '../../wire/transfer/index.js';
import { checkAborted, windowBlocksOf, type CopyOptions, type CopyStats } from './copy-options.js';
import { Pacer } from './pacer.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import type { RpcClient } from './rpc-client.js';
import { chunksOf, type UploadSource } from './sources.js';

const MAX_REWINDS = 8;

/** What an append sequence reads: a seekable source (resumable) or a stream (not). */
export type AppendInput = { source: UploadSource } | { stream: Readable };

async function* sourceChunks(source: UploadSource, from: number, chunkBytes: number): AsyncGenerator<Buffer> {
  for (let off = from; off < source.sizeBytes;) {
    const buf = Buffer.allocUnsafe(Math.min(chunkBytes, source.sizeBytes - off));
    const n = await source.readInto(off, buf);
    if (n !== buf.length)
      throw new FerryError('IO_ERROR', `the source shrank while being copied: copy again`);
    yield buf;
    off += n;
  }
}

export async function uploadAppend(
  rpc: RpcClient,
  input: AppendInput,
  name: string,
  opts: CopyOptions,
): Promise<Omit<CopyStats, 'retransmits' | 'rttMs' | 'seconds' | 'rateBytesPerSec'>> {
  const seekable = 'source' in input;
  if (opts.resume && !seekable)
    throw new FerryError('INVALID_ARGUMENT', 'a pipe cannot be resumed: copy from a file to use --resume');
  const chunkBytes = Math.min(
    opts.blockBytes ?? TRANSFER_LIMITS.DEFAULT_BLOCK_BYTES,
    TRANSFER_LIMITS.MAX_APPEND_BYTES,
  );
  const begin = await rpc.call('APPEND_BEGIN', {
    fileMode: seekable ? input.source.fileMode : 0o644,
    sourceTag: seekable ? input.source.tag : 0n,
    resume: opts.resume ? 1 : 0,
    name,
  });
  const hasher = opts.verify === false ? null : createXxh64();
  let offset = begin.sizeBytes;
  if (seekable && begin.sizeBytes > 0 && hasher) {
    for await (const c of sourceChunks({ ...input.source, sizeBytes: begin.sizeBytes }, 0, 1 << 20))
      hasher.update(c);
  }
  const window = windowBlocksOf(opts);
  const held = new Map<number, Buffer>();
  const inFlight = new Set<Promise<void>>();
  const pacer = new Pacer(opts.rateBytesPerSec, opts.clock ?? systemClock);
  const state = {
    rewindTo: -1,
    fatal: null as unknown,
    rewinds: 0,
    sent: 0,
    resent: 0,
    moved: 0,
    acked: begin.sizeBytes,
  };
  const total = seekable ? input.source.sizeBytes : null;

  const send = (seq: number, data: Buffer, again: boolean): void => {
    const header = Buffer.allocUnsafe(BLOCK_HEADER_BYTES);
    const hash = xxh64(data);
    const p = rpc
      .request(
        'APPEND_DATA',
        (id) => {
          writeBlockHeader(header, MESSAGES.APPEND_DATA.type, id, begin.transferId, seq, hash);
          return [header, data];
        },
        'fifo',
        () => undefined,
      )
      .then(
        () => {
          held.delete(seq);
          state.acked += data.length;
          opts.onProgress?.({ bytesDone: state.acked, bytesTotal: total });
        },
        (err: unknown) => {
          if (isFerryError(err, 'HASH_MISMATCH'))
            state.rewindTo = state.rewindTo < 0 ? seq : Math.min(state.rewindTo, seq);
          else if (!(isFerryError(err, 'PROTOCOL_ERROR') && state.rewindTo >= 0 && seq > state.rewindTo))
            state.fatal ??= err;
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    state.moved += data.length;
    if (again) state.resent++;
    else state.sent++;
  };

  const waitRoom = async (): Promise<void> => {
    while (inFlight.size >= window) await Promise.race(inFlight);
    if (state.fatal) throw state.fatal;
    if (state.rewindTo >= 0) await rewind();
  };

  const rewind = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.race(inFlight);
    if (state.fatal) throw state.fatal;
    if (++state.rewinds > MAX_REWINDS)
      throw new FerryError('HASH_MISMATCH', 'appends keep arriving corrupted: check the network');
    const from = state.rewindTo;
    state.rewindTo = -1;
    for (const seq of [...held.keys()].filter((s) => s >= from).sort((a, b) => a - b)) {
      while (inFlight.size >= window) await Promise.race(inFlight);
      send(seq, held.get(seq)!, true);
    }
  };

  let seq = begin.nextSeq;
  const chunks = seekable
    ? sourceChunks(input.source, offset, chunkBytes)
    : chunksOf(input.stream, chunkBytes);
  try {
    for await (const chunk of chunks) {
      checkAborted(opts.signal);
      await waitRoom();
      hasher?.update(chunk);
      await pacer.take(chunk.length);
      held.set(seq, chunk);
      send(seq, chunk, false);
      seq++;
      offset += chunk.length;
    }
    for (;;) {
      while (inFlight.size > 0) await Promise.race(inFlight);
      if (state.fatal) throw state.fatal;
      if (state.rewindTo < 0) break;
      await rewind();
    }
    const fileHash = hasher ? hasher.digest() : 0n;
    await rpc.call('APPEND_COMMIT', {
      transferId: begin.transferId,
      sizeBytes: offset,
      fileHash,
      verify: hasher ? 1 : 0,
    });
    return {
      direction: 'upload',
      mode: 'append',
      name,
      bytes: offset,
      bytesMoved: state.moved,
      blockBytes: chunkBytes,
      blocksSent: state.sent,
      blocksResent: state.resent,
      blocksSkipped: begin.nextSeq,
      resumed: begin.resumed === 1,
      fileHash: hasher ? fileHash.toString(16).padStart(16, '0') : null,
    };
  } catch (err) {
    await Promise.allSettled([...inFlight]);
    if (!isFerryError(err, 'HASH_MISMATCH')) {
      await rpc
        .call('TRANSFER_ABORT', { transferId: begin.transferId, keepJournal: seekable ? 1 : 0 })
        .catch(() => undefined);
    }
    throw err;
  }
}
