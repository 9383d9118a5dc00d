/**
 * The sending side of an append sequence: chunks numbered from the server's next sequence number,
 * sent FIFO with a window in flight, each with its xxhash64; the source may be a pipe of unknown
 * size. Chunks stay held until acknowledged, so a refused chunk (and the ones after it, which the
 * server then refuses as out of order) is sent again from there.
 */
import type { Readable } from 'node:stream';
import { xxh64 } from '../../core/checksum.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { BLOCK_HEADER_BYTES, MESSAGES, writeBlockHeader } from '../../wire/transfer/index.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import { InOrderHasher } from '../in-order.js';
import {
  checkAborted,
  hashHex,
  sourceShrank,
  windowBlocksOf,
  type CopyOptions,
  type CopyResult,
} from './copy-options.js';
import { Pacer } from './pacer.js';
import type { RpcClient } from './rpc-client.js';
import { chunksOf, type UploadSource } from './sources.js';

const MAX_REWINDS = 8;

/** What an append sequence reads: a seekable source (resumable) or a stream (not). */
export type AppendInput = { source: UploadSource } | { stream: Readable };

async function* sourceChunks(source: UploadSource, from: number, chunkBytes: number): AsyncGenerator<Buffer> {
  for (let off = from; off < source.sizeBytes;) {
    const buf = Buffer.allocUnsafe(Math.min(chunkBytes, source.sizeBytes - off));
    const n = await source.readInto(off, buf);
    if (n !== buf.length) throw sourceShrank();
    yield buf;
    off += n;
  }
}

/**
 * The chunks of one append sequence in flight: each held until acknowledged; a refused chunk sets
 * the rewind point, and the next room check re-sends every held chunk from there (the server
 * refuses the ones after a refused chunk as out of order, which is expected, not fatal).
 */
class AppendWindow {
  private readonly held = new Map<number, Buffer>();
  private readonly inFlight = new Set<Promise<void>>();
  private rewindTo = -1;
  private fatal: unknown = null;
  private rewinds = 0;
  sent = 0;
  resent = 0;
  moved = 0;

  constructor(
    private readonly rpc: RpcClient,
    private readonly transferId: number,
    private readonly window: number,
    private acked: number,
    private readonly total: number | null,
    private readonly opts: CopyOptions,
  ) {}

  /** Sends chunk `seq` and holds it until acknowledged. */
  send(seq: number, data: Buffer, again = false): void {
    this.held.set(seq, data);
    const header = Buffer.allocUnsafe(BLOCK_HEADER_BYTES);
    const hash = xxh64(data);
    const p = this.rpc
      .request(
        'APPEND_DATA',
        (id) => {
          writeBlockHeader(header, MESSAGES.APPEND_DATA.type, id, this.transferId, seq, hash);
          return [header, data];
        },
        'fifo',
        () => undefined,
      )
      .then(
        () => this.onAcked(seq, data.length),
        (err: unknown) => this.onRefused(seq, err),
      )
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    this.moved += data.length;
    if (again) this.resent++;
    else this.sent++;
  }

  private onAcked(seq: number, length: number): void {
    this.held.delete(seq);
    this.acked += length;
    this.opts.onProgress?.({ bytesDone: this.acked, bytesTotal: this.total });
  }

  private onRefused(seq: number, err: unknown): void {
    if (isFerryError(err, 'HASH_MISMATCH'))
      this.rewindTo = this.rewindTo < 0 ? seq : Math.min(this.rewindTo, seq);
    else if (!(isFerryError(err, 'PROTOCOL_ERROR') && this.rewindTo >= 0 && seq > this.rewindTo))
      this.fatal ??= err;
  }

  /** Waits for room in the window; rewinds first when a chunk was refused. */
  async waitRoom(): Promise<void> {
    while (this.inFlight.size >= this.window) await Promise.race(this.inFlight);
    if (this.fatal) throw this.fatal;
    if (this.rewindTo >= 0) await this.rewind();
  }

  private async rewind(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.fatal) throw this.fatal;
    if (++this.rewinds > MAX_REWINDS)
      throw new FerryError('HASH_MISMATCH', 'appends keep arriving corrupted: check the network');
    const from = this.rewindTo;
    this.rewindTo = -1;
    for (const seq of [...this.held.keys()].filter((s) => s >= from).sort((a, b) => a - b)) {
      while (this.inFlight.size >= this.window) await Promise.race(this.inFlight);
      this.send(seq, this.held.get(seq)!, true);
    }
  }

  /** Waits until every chunk is acknowledged, rewinding as often as needed. */
  async drain(): Promise<void> {
    for (;;) {
      while (this.inFlight.size > 0) await Promise.race(this.inFlight);
      if (this.fatal) throw this.fatal;
      if (this.rewindTo < 0) return;
      await this.rewind();
    }
  }

  /** Lets whatever is in flight end (after a failure). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}

/**
 * The whole-file hasher (null with verify off). A resumed sequence's hash starts with what the
 * server already holds, read back from the source.
 */
async function resumedHasher(
  input: AppendInput,
  heldBytes: number,
  opts: CopyOptions,
): Promise<InOrderHasher | null> {
  if (opts.verify === false) return null;
  const hasher = new InOrderHasher();
  if ('source' in input && heldBytes > 0) {
    const source = input.source;
    const read = (offset: number, target: Buffer): Promise<number> => source.readInto(offset, target);
    await hasher.readUpTo(heldBytes, read, Buffer.allocUnsafe(1 << 20), sourceShrank);
  }
  return hasher;
}

export async function uploadAppend(
  rpc: RpcClient,
  input: AppendInput,
  name: string,
  opts: CopyOptions,
): Promise<CopyResult> {
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
  const hasher = await resumedHasher(input, begin.sizeBytes, opts);
  const total = seekable ? input.source.sizeBytes : null;
  const w = new AppendWindow(rpc, begin.transferId, windowBlocksOf(opts), begin.sizeBytes, total, opts);
  const pacer = new Pacer(opts.rateBytesPerSec, opts.clock ?? systemClock);
  let seq = begin.nextSeq;
  let offset = begin.sizeBytes;
  const chunks = seekable
    ? sourceChunks(input.source, offset, chunkBytes)
    : chunksOf(input.stream, chunkBytes);
  try {
    for await (const chunk of chunks) {
      checkAborted(opts.signal);
      await w.waitRoom();
      hasher?.offer(offset, chunk);
      await pacer.take(chunk.length);
      w.send(seq++, chunk);
      offset += chunk.length;
    }
    await w.drain();
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
      bytesMoved: w.moved,
      blockBytes: chunkBytes,
      blocksSent: w.sent,
      blocksResent: w.resent,
      blocksSkipped: begin.nextSeq,
      resumed: begin.resumed === 1,
      fileHash: hasher ? hashHex(fileHash) : null,
    };
  } catch (err) {
    await w.settle();
    if (!isFerryError(err, 'HASH_MISMATCH')) {
      await rpc
        .call('TRANSFER_ABORT', { transferId: begin.transferId, keepJournal: seekable ? 1 : 0 })
        .catch(() => undefined);
    }
    throw err;
  }
}
