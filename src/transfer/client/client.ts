/**
 * A client session with one ferry server: connect (with a bounded handshake), then copy files up
 * and down, list, stat and remove, with progress callbacks and a stats summary per copy.
 *
 * Why a class over the copy functions: one session (its RpcClient and reply route) serves every
 * copy and call made through it, and the stats of each copy (time, rate, the transport's
 * retransmits and RTT) are taken the same way around whichever copy function ran.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import type { FileStat, FsStat, ListOptions, ListPage } from '../../flatfs/types.js';
import type { MessageEndpoint, Peer, PeerAddress } from '../../transport/types.js';
import { decodeDevices, type WireDevice } from '../../wire/transfer/index.js';
import { listPageOf, listRequestOf } from './list-request.js';
import { uploadAppend } from './upload-append.js';
import { downloadFile, type MakeSink } from './download-file.js';
import { uploadOffset } from './upload-offset.js';
import type { CopyOptions, CopyResult, CopyStats } from './copy-options.js';
import { attachRpc } from './router.js';
import { RpcClient, type RpcClientOptions } from './rpc-client.js';
import type { UploadSource } from './sources.js';
import {
  downloadFileBatch,
  uploadFileBatch,
  type BatchResult,
  type DownloadBatchResult,
  type SmallFile,
} from './small-files.js';

/** How long `connect` waits for the handshake before UNREACHABLE (default). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export interface ConnectOptions extends RpcClientOptions {
  endpoint: MessageEndpoint;
  address: PeerAddress;
  /** Handshake deadline (default DEFAULT_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /** Close the endpoint with the client (default false: the caller owns it). */
  ownsEndpoint?: boolean;
  clock?: Clock;
}

export interface ServerInfo {
  serverName: string;
  readOnly: boolean;
  maxBlockBytes: number;
}

/**
 * A session with one ferry server over an endpoint you own (`openClient` makes the endpoint too).
 *
 * @example
 * const client = await FerryClient.connect({ endpoint, address: { host: '127.0.0.1', port: 7733 } });
 * const stats = await client.upload(await fileSource('big.iso'), 'big.iso', {
 *   onProgress: (p) => console.log(p.bytesDone, p.bytesTotal),
 * });
 * console.log(stats.rateBytesPerSec);
 * await client.close();
 */
export class FerryClient {
  private constructor(
    readonly endpoint: MessageEndpoint,
    readonly peer: Peer,
    readonly rpc: RpcClient,
    readonly server: ServerInfo,
    private readonly clock: Clock,
    private readonly detach: () => void,
    private readonly ownsEndpoint: boolean,
  ) {}

  /** Opens a session (authenticated by the endpoint's secret) and checks the server answers. */
  static async connect(opts: ConnectOptions): Promise<FerryClient> {
    const clock = opts.clock ?? systemClock;
    const where = `${opts.address.host}:${opts.address.port}`;
    const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const peer = await withTimeout(opts.endpoint.connect(opts.address), timeoutMs, clock, where).catch(
      (err: unknown) => {
        if (isFerryError(err, 'AUTH_FAILED') || isFerryError(err, 'ENCRYPT_MISMATCH')) {
          // the transport's message names the fix ("the server refused the secret: check
          // --secret-file or FERRY_SECRET", or which side's --no-encrypt to change)
          throw new FerryError(err.code, `${where}: ${err.message}`);
        }
        if (
          isFerryError(err, 'HANDSHAKE_TIMEOUT') ||
          isFerryError(err, 'TIMEOUT') ||
          isFerryError(err, 'PEER_DEAD')
        ) {
          throw new FerryError(
            'UNREACHABLE',
            `no ferry server answered at ${where} within ${timeoutMs / 1000} s: check the address, the port and that ferry serve runs`,
          );
        }
        throw err;
      },
    );
    const rpc = new RpcClient(opts.endpoint, peer, { ...opts, clock });
    const detach = attachRpc(rpc);
    try {
      const ping = await withTimeout(rpc.call('PING', {}), timeoutMs, clock, where);
      return new FerryClient(
        opts.endpoint,
        peer,
        rpc,
        { serverName: ping.serverName, readOnly: ping.readOnly === 1, maxBlockBytes: ping.maxBlockBytes },
        clock,
        detach,
        opts.ownsEndpoint === true,
      );
    } catch (err) {
      detach();
      throw isFerryError(err, 'TIMEOUT')
        ? new FerryError(
            'UNREACHABLE',
            `${where} accepted a session but did not answer: is it a ferry server?`,
          )
        : err;
    }
  }

  async statfs(): Promise<FsStat> {
    const r = await this.rpc.call('STATFS', {});
    return { ...r, readOnly: r.readOnly === 1 };
  }

  async stat(name: string): Promise<FileStat> {
    return this.rpc.call('STAT', { name });
  }

  async list(opts: ListOptions = {}): Promise<ListPage> {
    const request = listRequestOf({ ...opts, includeHidden: false }, opts.limit ?? 0);
    return listPageOf(await this.rpc.call('LIST', request));
  }

  /**
   * The pages of a listing, one request at a time, following nextCursor until the last: with
   * `delimiter: '/'` one level of the folder `prefix` names (files and `prefixes`), without it every
   * file below `prefix` at any depth.
   */
  async *pages(opts: Omit<ListOptions, 'cursor' | 'includeHidden'> = {}): AsyncGenerator<ListPage> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.list(cursor === undefined ? opts : { ...opts, cursor });
      yield page;
      if (page.nextCursor === null) return;
      cursor = page.nextCursor;
    }
  }

  /** Every file whose name starts with `prefix` (default: all), at any depth, page after page. */
  async listAll(prefix = ''): Promise<FileStat[]> {
    const out: FileStat[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.list(cursor === undefined ? { prefix } : { prefix, cursor });
      out.push(...page.entries);
      if (page.nextCursor === null) return out;
      cursor = page.nextCursor;
    }
  }

  /** Sets a file's access and modification times (ms since the epoch, finite). */
  async setTimes(name: string, atimeMs: number, mtimeMs: number): Promise<void> {
    if (!Number.isFinite(atimeMs) || !Number.isFinite(mtimeMs)) {
      throw new FerryError('INVALID_ARGUMENT', `times must be finite numbers, got ${atimeMs}, ${mtimeMs}`);
    }
    await this.rpc.call('SET_TIMES', { atimeMs, mtimeMs, name });
  }

  /**
   * The server's whole-file xxhash64 of `name` (it reads the file through), with its size and
   * modification time. A server from before answers UNKNOWN_REQUEST.
   */
  async fileHash(name: string): Promise<{ sizeBytes: number; mtimeMs: number; fileHash: bigint }> {
    return this.rpc.call('FILE_HASH', { name });
  }

  /**
   * Uploads several whole small files in one message (at most BATCH_LIMITS files and bytes, see
   * smallFileBatchBytes); each is published with its mode and times, durable, before the answer.
   * A server from before answers UNKNOWN_REQUEST: upload the files one by one then.
   */
  uploadFiles(files: readonly SmallFile[]): Promise<BatchResult> {
    return uploadFileBatch(this.rpc, files);
  }

  /**
   * Fetches several whole small files in one message (at most BATCH_LIMITS files; the reply holds
   * those that fit in FILE_BATCH_MAX_BYTES, each checked against its xxhash64); `error` says why it
   * stopped early. A server from before answers UNKNOWN_REQUEST: download the files one by one then.
   */
  downloadFiles(names: readonly string[]): Promise<DownloadBatchResult> {
    return downloadFileBatch(this.rpc, names);
  }

  async unlink(name: string): Promise<void> {
    await this.rpc.call('UNLINK', { name });
  }

  async devices(): Promise<WireDevice[]> {
    return decodeDevices((await this.rpc.call('BD_LIST', {})).devices);
  }

  /** Uploads a seekable source by offset (blocks in any order, resumable). */
  upload(source: UploadSource, name: string, opts: CopyOptions = {}): Promise<CopyStats> {
    return this.timed(() => uploadOffset(this.rpc, source, name, opts));
  }

  /** Uploads as an append sequence, from a seekable source (resumable) or a stream of unknown size. */
  uploadAppend(
    input: { source: UploadSource } | { stream: Readable },
    name: string,
    opts: CopyOptions = {},
  ): Promise<CopyStats> {
    return this.timed(() => uploadAppend(this.rpc, input, name, opts));
  }

  /**
   * Downloads into the sink `makeSink(sizeBytes, geometry)` returns; with `partFileSink` the download
   * keeps a journal and `opts.resume` continues an interrupted one.
   */
  download(name: string, makeSink: MakeSink, opts: CopyOptions = {}): Promise<CopyStats> {
    return this.timed(() => downloadFile(this.rpc, name, makeSink, opts));
  }

  private async timed(run: () => Promise<CopyResult>): Promise<CopyStats> {
    const before = this.peerStats();
    const startMs = this.clock.nowMs();
    const r = await run();
    const seconds = Math.max(1e-6, (this.clock.nowMs() - startMs) / 1000);
    const after = this.peerStats();
    return {
      ...r,
      seconds,
      rateBytesPerSec: r.bytesMoved / seconds,
      retransmits: after.retransmits - before.retransmits,
      rttMs: after.rttMs,
    };
  }

  private peerStats(): { retransmits: number; rttMs: number } {
    const info = this.endpoint.peers().find((p) => p.id === this.peer.id);
    return { retransmits: info?.stats.retransmits ?? 0, rttMs: info?.stats.rttMs ?? 0 };
  }

  /** Ends the session (the endpoint stays open: the caller owns it). */
  async close(): Promise<void> {
    this.rpc.fail(new FerryError('CLOSED', 'the client was closed'));
    this.detach();
    await this.endpoint.disconnect(this.peer).catch(() => undefined);
    if (this.ownsEndpoint) await this.endpoint.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, clock: Clock, where: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(ms, () =>
      reject(new FerryError('TIMEOUT', `no answer from ${where} within ${ms} ms`)),
    );
    p.then(
      (v) => {
        clock.clearTimer(timer);
        resolve(v);
      },
      (e: unknown) => {
        clock.clearTimer(timer);
        reject(e);
      },
    );
  });
}
