/**
 * The ferry server: answers transfer requests from any number of peers over one MessageEndpoint,
 * serving one flat filesystem and any number of named block devices.
 *
 * Why one dispatcher: every request, whatever its kind, is checked the same way (header, version,
 * per-peer in-flight cap, read-only, names) and every failure becomes a typed error reply with the
 * request's id; the server never throws out of its message handler, so one peer's bad request
 * cannot disturb anyone else. Per-peer state (handles, devices, transfers) is dropped when the
 * peer's session ends; its uploads are left resumable.
 *
 * @example
 * const server = new TransferServer({ endpoint, fs: new MemoryFlatFs({ quotaBytes: 1 << 30 }) });
 * // ... later
 * await server.close();
 */
import { xxh64 } from '../../core/checksum.js';
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import type { BlockDevice } from '../../blockdev/types.js';
import type { FileHandle, FlatFs } from '../../flatfs/types.js';
import type {
  IncomingMessage,
  MessageEndpoint,
  Peer,
  PeerStateChange,
  SendHandle,
} from '../../transport/types.js';
import {
  BLOCK_HEADER_BYTES,
  HEADER_BYTES,
  MESSAGES,
  OFF_TYPE,
  READ_REPLY_HEADER_BYTES,
  REPLY_BIT,
  STATUS_OK,
  decodeRequest,
  encodeDevices,
  encodeEntries,
  encodeErrorReply,
  encodeExtents,
  encodeReply,
  messageNameOf,
  peekRequestId,
  readBlockHeader,
  readHeader,
  writeHeader,
  writeReadReplyHeader,
  type BlockHeader,
  type MessageHeader,
  type MessageName,
} from '../../wire/transfer/index.js';
import { AppendUpload } from './append-upload.js';
import { Download } from './download.js';
import { OffsetUpload } from './offset-upload.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import { checkUserName } from '../names.js';
import { validateName } from '../../flatfs/names.js';
import { WaitingPool } from '../waiting-pool.js';

export interface TransferServerOptions {
  endpoint: MessageEndpoint;
  /** The filesystem served (omit for a block-device-only server). */
  fs?: FlatFs;
  /** Named block devices served. */
  devices?: ReadonlyMap<string, BlockDevice>;
  /** Refuse every change, whatever the storage allows. */
  readOnly?: boolean;
  /**
   * Treat HIDDEN_PREFIX names as ordinary names in client requests (default false: refused with
   * BAD_NAME, so clients cannot touch transfers in progress). For a server used as a plain remote
   * filesystem by one trusted client, where the FlatFs contract's hidden names must work end to end.
   */
  exposeHidden?: boolean;
  /** Name announced in PING and discovery answers. */
  serverName?: string;
  /** One line per finished transfer (who, what, bytes, time, result). */
  log?: (line: string) => void;
  clock?: Clock;
}

type Transfer =
  | { kind: 'upload'; up: OffsetUpload }
  | { kind: 'append'; up: AppendUpload }
  | { kind: 'download'; dl: Download };

interface TransferEntry {
  id: number;
  t: Transfer;
  startedMs: number;
  ctx: PeerContext;
}

interface PeerContext {
  peer: Peer;
  requests: number;
  handles: Map<number, FileHandle>;
  devices: Map<number, BlockDevice>;
  transfers: Map<number, TransferEntry>;
  nextLocalId: number;
}

/** Counters for tests and stats. */
export interface ServerStats {
  requests: number;
  errors: number;
  blocksWritten: number;
  blocksRefused: number;
  uploadsCommitted: number;
  downloadsServed: number;
}

/** Requests refused on a read-only server (handle writes need a writable handle, which OPEN refuses). */
const MUTATING = new Set<MessageName>([
  'UNLINK',
  'RENAME',
  'TRUNCATE',
  'SET_TIMES',
  'CREATE',
  'UPLOAD_BEGIN',
  'UPLOAD_BLOCK',
  'UPLOAD_COMMIT',
  'APPEND_BEGIN',
  'APPEND_DATA',
  'APPEND_COMMIT',
  'BD_WRITE',
  'BD_TRIM',
  'BD_ZERO',
]);

export class TransferServer {
  readonly endpoint: MessageEndpoint;
  readonly readOnly: boolean;
  readonly stats: ServerStats = {
    requests: 0,
    errors: 0,
    blocksWritten: 0,
    blocksRefused: 0,
    uploadsCommitted: 0,
    downloadsServed: 0,
  };
  private readonly fs: FlatFs | undefined;
  private readonly devices: ReadonlyMap<string, BlockDevice>;
  private readonly serverName: string;
  private readonly exposeHidden: boolean;
  private readonly log: (line: string) => void;
  private readonly clock: Clock;
  private readonly peers = new Map<string, PeerContext>();
  private readonly uploadsByName = new Map<string, TransferEntry>();
  private transferCount = 0;
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private closing = false;
  private readonly readPool: WaitingPool;
  private readonly header: MessageHeader = { type: 0, flags: 0, status: 0, requestId: 0 };
  private readonly blockHeader: BlockHeader = { transferId: 0, position: 0, hash: 0n };
  private readonly unsubscribe: () => void;

  constructor(opts: TransferServerOptions) {
    this.endpoint = opts.endpoint;
    this.fs = opts.fs;
    this.devices = opts.devices ?? new Map();
    this.readOnly = opts.readOnly === true || opts.fs?.readOnly === true;
    this.serverName = opts.serverName ?? 'ferry';
    this.exposeHidden = opts.exposeHidden === true;
    this.log = opts.log ?? (() => undefined);
    this.clock = opts.clock ?? systemClock;
    this.readPool = new WaitingPool(
      READ_REPLY_HEADER_BYTES + TRANSFER_LIMITS.MAX_BLOCK_BYTES,
      TRANSFER_LIMITS.SERVER_READ_BUFFERS,
    );
    this.endpoint.onMessage((msg) => this.handleMessage(msg));
    this.unsubscribe = this.endpoint.onPeerState((c) => this.handlePeerState(c));
  }

  /** Handles one incoming message; never throws. */
  async handleMessage(msg: IncomingMessage): Promise<void> {
    const payload = msg.payload;
    let header: MessageHeader;
    try {
      header = readHeader(payload, this.header);
    } catch (err) {
      const id = peekRequestId(payload);
      if (id >= 0) await this.sendError(msg.peer, payload[OFF_TYPE] ?? 0, id, err);
      return;
    }
    if ((header.type & REPLY_BIT) !== 0) {
      await this.sendError(
        msg.peer,
        header.type,
        header.requestId,
        new FerryError('PROTOCOL_ERROR', 'a server does not take replies'),
      );
      return;
    }
    const { type, requestId } = header;
    const ctx = this.context(msg.peer);
    if (this.closing) {
      await this.sendError(
        msg.peer,
        type,
        requestId,
        new FerryError('CLOSED', 'the server is shutting down: try again later'),
      );
      return;
    }
    if (ctx.requests >= TRANSFER_LIMITS.SERVER_MAX_REQUESTS_PER_PEER) {
      const e = new FerryError(
        'LIMIT_EXCEEDED',
        `more than ${TRANSFER_LIMITS.SERVER_MAX_REQUESTS_PER_PEER} requests in flight: wait for replies`,
      );
      await this.sendError(msg.peer, type, requestId, e);
      return;
    }
    ctx.requests++;
    this.active++;
    this.stats.requests++;
    try {
      await this.dispatch(ctx, type, requestId, payload);
    } catch (err) {
      await this.sendError(msg.peer, type, requestId, err);
    } finally {
      ctx.requests--;
      this.active--;
      if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private context(peer: Peer): PeerContext {
    let ctx = this.peers.get(peer.id);
    if (!ctx || ctx.peer !== peer) {
      if (ctx) void this.dropPeer(ctx);
      ctx = {
        peer,
        requests: 0,
        handles: new Map(),
        devices: new Map(),
        transfers: new Map(),
        nextLocalId: 1,
      };
      this.peers.set(peer.id, ctx);
    }
    return ctx;
  }

  private async dispatch(ctx: PeerContext, type: number, requestId: number, payload: Buffer): Promise<void> {
    const name = messageNameOf(type);
    if (name === undefined) {
      throw new FerryError(
        'UNKNOWN_REQUEST',
        `request type 0x${type.toString(16)} is unknown: use the same ferry version on both sides`,
      );
    }
    if (this.readOnly && MUTATING.has(name)) throw new FerryError('READ_ONLY', 'this server is read-only');
    switch (name) {
      case 'UPLOAD_BLOCK':
        return this.onUploadBlock(ctx, requestId, payload);
      case 'APPEND_DATA':
        return this.onAppendData(ctx, requestId, payload);
      case 'DOWNLOAD_READ':
        return this.onDownloadRead(ctx, requestId, payload);
      default: {
        const reply = await this.control(ctx, name, requestId, payload);
        await this.send(ctx.peer, reply);
      }
    }
  }

  // ---------------------------------------------------------------- control requests

  private checkName(name: string): void {
    if (this.exposeHidden) validateName(name);
    else checkUserName(name);
  }

  private needFs(): FlatFs {
    if (!this.fs)
      throw new FerryError('NOT_SUPPORTED', 'this server serves no filesystem, only block devices');
    return this.fs;
  }

  private async control(
    ctx: PeerContext,
    name: MessageName,
    id: number,
    payload: Buffer,
  ): Promise<readonly Uint8Array[]> {
    switch (name) {
      case 'PING':
        return [
          encodeReply('PING', id, {
            readOnly: this.readOnly ? 1 : 0,
            maxBlockBytes: TRANSFER_LIMITS.MAX_BLOCK_BYTES,
            serverName: this.serverName,
          }),
        ];
      case 'STATFS': {
        const s = await this.needFs().statfs();
        return [
          encodeReply('STATFS', id, {
            totalBytes: s.totalBytes,
            usedBytes: s.usedBytes,
            freeBytes: s.freeBytes,
            files: s.files,
            maxNameBytes: s.maxNameBytes,
            readOnly: s.readOnly || this.readOnly ? 1 : 0,
          }),
        ];
      }
      case 'STAT': {
        const { name: file } = decodeRequest('STAT', payload);
        this.checkName(file);
        return [encodeReply('STAT', id, await this.needFs().stat(file))];
      }
      case 'LIST': {
        const r = decodeRequest('LIST', payload);
        if (r.cursor !== '') this.checkName(r.cursor);
        const page = await this.needFs().list({
          cursor: r.cursor === '' ? undefined : r.cursor,
          limit: r.limit === 0 ? undefined : Math.min(r.limit, LIMITS.MAX_LIST_PAGE),
          includeHidden: this.exposeHidden && r.includeHidden === 1,
        });
        return [
          encodeReply('LIST', id, {
            hasMore: page.nextCursor === null ? 0 : 1,
            nextCursor: page.nextCursor ?? '',
            entries: encodeEntries(page.entries),
          }),
        ];
      }
      case 'UNLINK': {
        const { name: file } = decodeRequest('UNLINK', payload);
        this.checkName(file);
        await this.needFs().unlink(file);
        return [encodeReply('UNLINK', id, {})];
      }
      case 'RENAME': {
        const r = decodeRequest('RENAME', payload);
        this.checkName(r.from);
        this.checkName(r.to);
        await this.needFs().rename(r.from, r.to);
        return [encodeReply('RENAME', id, {})];
      }
      case 'TRUNCATE': {
        const r = decodeRequest('TRUNCATE', payload);
        this.checkName(r.name);
        await this.needFs().truncate(r.name, r.sizeBytes);
        return [encodeReply('TRUNCATE', id, {})];
      }
      case 'SET_TIMES': {
        const r = decodeRequest('SET_TIMES', payload);
        this.checkName(r.name);
        await this.needFs().setTimes(r.name, r.atimeMs, r.mtimeMs);
        return [encodeReply('SET_TIMES', id, {})];
      }
      default:
        return this.handleOps(ctx, name, id, payload);
    }
  }

  private async handleOps(
    ctx: PeerContext,
    name: MessageName,
    id: number,
    payload: Buffer,
  ): Promise<readonly Uint8Array[]> {
    switch (name) {
      case 'CREATE': {
        const r = decodeRequest('CREATE', payload);
        this.checkName(r.name);
        this.checkHandleRoom(ctx);
        const h = await this.needFs().create(r.name, {
          exclusive: r.exclusive === 1,
          sizeBytes: r.sizeBytes,
        });
        return [encodeReply('CREATE', id, { handle: this.addHandle(ctx, h) })];
      }
      case 'OPEN': {
        const r = decodeRequest('OPEN', payload);
        this.checkName(r.name);
        if (r.write === 1 && this.readOnly) throw new FerryError('READ_ONLY', 'this server is read-only');
        this.checkHandleRoom(ctx);
        const h = await this.needFs().open(r.name, { write: r.write === 1 });
        return [encodeReply('OPEN', id, { handle: this.addHandle(ctx, h) })];
      }
      case 'CLOSE': {
        const r = decodeRequest('CLOSE', payload);
        const h = this.handleOf(ctx, r.handle);
        ctx.handles.delete(r.handle);
        await this.needFs().closeFile(h);
        return [encodeReply('CLOSE', id, {})];
      }
      case 'FSTAT': {
        const r = decodeRequest('FSTAT', payload);
        return [encodeReply('FSTAT', id, await this.needFs().fstat(this.handleOf(ctx, r.handle)))];
      }
      case 'READ': {
        const r = decodeRequest('READ', payload);
        if (r.length > LIMITS.MAX_IO_BYTES)
          throw new FerryError('OUT_OF_RANGE', `read of ${r.length} bytes exceeds ${LIMITS.MAX_IO_BYTES}`);
        const data = await this.needFs().read(this.handleOf(ctx, r.handle), r.offset, r.length);
        return [replyHeader('READ', id), data];
      }
      case 'WRITE': {
        const r = decodeRequest('WRITE', payload);
        await this.needFs().write(this.handleOf(ctx, r.handle), r.offset, r.data);
        return [encodeReply('WRITE', id, {})];
      }
      case 'APPEND': {
        const r = decodeRequest('APPEND', payload);
        const offset = await this.needFs().append(this.handleOf(ctx, r.handle), r.data);
        return [encodeReply('APPEND', id, { offset })];
      }
      case 'FTRUNCATE': {
        const r = decodeRequest('FTRUNCATE', payload);
        await this.needFs().ftruncate(this.handleOf(ctx, r.handle), r.sizeBytes);
        return [encodeReply('FTRUNCATE', id, {})];
      }
      case 'FSYNC': {
        const r = decodeRequest('FSYNC', payload);
        await this.needFs().fsync(this.handleOf(ctx, r.handle));
        return [encodeReply('FSYNC', id, {})];
      }
      default:
        return this.handleTransfers(ctx, name, id, payload);
    }
  }

  private checkHandleRoom(ctx: PeerContext): void {
    if (ctx.handles.size + ctx.devices.size >= TRANSFER_LIMITS.SERVER_MAX_HANDLES_PER_PEER) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `more than ${TRANSFER_LIMITS.SERVER_MAX_HANDLES_PER_PEER} open handles: close some first`,
      );
    }
  }

  private addHandle(ctx: PeerContext, h: FileHandle): number {
    const id = ctx.nextLocalId++;
    ctx.handles.set(id, h);
    return id;
  }

  private handleOf(ctx: PeerContext, id: number): FileHandle {
    const h = ctx.handles.get(id);
    if (h === undefined) throw new FerryError('BAD_HANDLE', `handle ${id} is not open`);
    return h;
  }

  // ---------------------------------------------------------------- transfers

  private addTransfer(ctx: PeerContext, t: Transfer): TransferEntry {
    const id = ctx.nextLocalId++;
    const entry: TransferEntry = { id, t, startedMs: this.clock.nowMs(), ctx };
    ctx.transfers.set(id, entry);
    this.transferCount++;
    return entry;
  }

  private checkTransferRoom(ctx: PeerContext): void {
    if (ctx.transfers.size >= TRANSFER_LIMITS.SERVER_MAX_TRANSFERS_PER_PEER) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `more than ${TRANSFER_LIMITS.SERVER_MAX_TRANSFERS_PER_PEER} transfers open: finish some first`,
      );
    }
    if (this.transferCount >= TRANSFER_LIMITS.SERVER_MAX_TRANSFERS) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `the server has ${TRANSFER_LIMITS.SERVER_MAX_TRANSFERS} transfers open: try again later`,
      );
    }
  }

  private removeTransfer(entry: TransferEntry): void {
    if (entry.ctx.transfers.delete(entry.id)) this.transferCount--;
    if (entry.t.kind !== 'download') {
      const name = entry.t.up.params.name;
      if (this.uploadsByName.get(name) === entry) this.uploadsByName.delete(name);
    }
  }

  private transferOf(ctx: PeerContext, id: number): TransferEntry {
    const e = ctx.transfers.get(id);
    if (!e)
      throw new FerryError(
        'UNKNOWN_TRANSFER',
        `transfer ${id} is not open on this session: start the copy again (with --resume to keep what arrived)`,
      );
    return e;
  }

  /** A second upload to a name takes over from the first (whose session may be dead but not yet noticed). */
  private async takeOver(name: string): Promise<void> {
    const old = this.uploadsByName.get(name);
    if (!old || old.t.kind === 'download') return;
    this.removeTransfer(old);
    await old.t.up.suspend().catch(() => undefined);
    this.logTransfer(old, 'suspended (taken over)');
  }

  private async handleTransfers(
    ctx: PeerContext,
    name: MessageName,
    id: number,
    payload: Buffer,
  ): Promise<readonly Uint8Array[]> {
    switch (name) {
      case 'UPLOAD_BEGIN': {
        const r = decodeRequest('UPLOAD_BEGIN', payload);
        this.checkName(r.name);
        this.checkTransferRoom(ctx);
        await this.takeOver(r.name);
        const up = await OffsetUpload.begin(this.needFs(), { ...r, resume: r.resume === 1 }, this.clock);
        const entry = this.addTransfer(ctx, { kind: 'upload', up });
        this.uploadsByName.set(r.name, entry);
        return [
          encodeReply('UPLOAD_BEGIN', id, {
            transferId: entry.id,
            blockCount: up.blockCount,
            resumed: up.resumed ? 1 : 0,
            verified: up.resumed ? Buffer.from(up.verified.bytes) : Buffer.alloc(0),
          }),
        ];
      }
      case 'UPLOAD_COMMIT': {
        const r = decodeRequest('UPLOAD_COMMIT', payload);
        const entry = this.transferOf(ctx, r.transferId);
        if (entry.t.kind !== 'upload')
          throw new FerryError('PROTOCOL_ERROR', `transfer ${r.transferId} is not an upload`);
        const up = entry.t.up;
        const sizeBytes = await this.commitTransfer(entry, up, () =>
          up.commit(r.verify === 1 ? r.fileHash : null),
        );
        return [encodeReply('UPLOAD_COMMIT', id, { sizeBytes })];
      }
      case 'TRANSFER_ABORT': {
        const r = decodeRequest('TRANSFER_ABORT', payload);
        const entry = this.transferOf(ctx, r.transferId);
        this.removeTransfer(entry);
        if (entry.t.kind === 'download') await entry.t.dl.release();
        else if (r.keepJournal === 1) await entry.t.up.suspend();
        else await entry.t.up.abort();
        this.logTransfer(entry, r.keepJournal === 1 ? 'aborted (resumable)' : 'aborted');
        return [encodeReply('TRANSFER_ABORT', id, {})];
      }
      case 'APPEND_BEGIN': {
        const r = decodeRequest('APPEND_BEGIN', payload);
        this.checkName(r.name);
        this.checkTransferRoom(ctx);
        await this.takeOver(r.name);
        const up = await AppendUpload.begin(this.needFs(), { ...r, resume: r.resume === 1 }, this.clock);
        const entry = this.addTransfer(ctx, { kind: 'append', up });
        this.uploadsByName.set(r.name, entry);
        return [
          encodeReply('APPEND_BEGIN', id, {
            transferId: entry.id,
            nextSeq: up.nextSeq,
            sizeBytes: up.sizeBytes,
            resumed: up.resumed ? 1 : 0,
          }),
        ];
      }
      case 'APPEND_COMMIT': {
        const r = decodeRequest('APPEND_COMMIT', payload);
        const entry = this.transferOf(ctx, r.transferId);
        if (entry.t.kind !== 'append')
          throw new FerryError('PROTOCOL_ERROR', `transfer ${r.transferId} is not an append sequence`);
        const up = entry.t.up;
        const sizeBytes = await this.commitTransfer(entry, up, () =>
          up.commit(r.sizeBytes, r.verify === 1 ? r.fileHash : null),
        );
        return [encodeReply('APPEND_COMMIT', id, { sizeBytes })];
      }
      case 'DOWNLOAD_OPEN': {
        const r = decodeRequest('DOWNLOAD_OPEN', payload);
        this.checkName(r.name);
        this.checkTransferRoom(ctx);
        const dl = await Download.open(this.needFs(), r.name);
        const entry = this.addTransfer(ctx, { kind: 'download', dl });
        return [
          encodeReply('DOWNLOAD_OPEN', id, {
            transferId: entry.id,
            sizeBytes: dl.sizeBytes,
            mtimeMs: dl.mtimeMs,
          }),
        ];
      }
      case 'DOWNLOAD_CLOSE': {
        const r = decodeRequest('DOWNLOAD_CLOSE', payload);
        const entry = this.transferOf(ctx, r.transferId);
        if (entry.t.kind !== 'download')
          throw new FerryError('PROTOCOL_ERROR', `transfer ${r.transferId} is not a download`);
        this.removeTransfer(entry);
        const fileHash = await entry.t.dl.close(r.verify === 1);
        this.stats.downloadsServed++;
        this.logTransfer(entry, 'ok');
        return [encodeReply('DOWNLOAD_CLOSE', id, { fileHash })];
      }
      default:
        return this.handleDevices(ctx, name, id, payload);
    }
  }

  /**
   * Runs an upload's or append's commit: success retires the transfer; a failure that closed it
   * (whole-file hash mismatch, I/O error) retires it too, a failure that left it open does not.
   */
  private async commitTransfer(
    entry: TransferEntry,
    up: OffsetUpload | AppendUpload,
    commit: () => Promise<number>,
  ): Promise<number> {
    try {
      const sizeBytes = await commit();
      this.removeTransfer(entry);
      this.stats.uploadsCommitted++;
      this.logTransfer(entry, 'ok');
      return sizeBytes;
    } catch (err) {
      if (!up.isOpen) {
        this.removeTransfer(entry);
        this.logTransfer(entry, codeOf(err));
      }
      throw err;
    }
  }

  private async onUploadBlock(ctx: PeerContext, id: number, payload: Buffer): Promise<void> {
    const h = readBlockHeader(payload, this.blockHeader);
    const entry = this.transferOf(ctx, h.transferId);
    if (entry.t.kind !== 'upload')
      throw new FerryError('PROTOCOL_ERROR', `transfer ${h.transferId} is not an upload`);
    const { position, hash } = h;
    try {
      await entry.t.up.writeBlock(position, hash, payload.subarray(BLOCK_HEADER_BYTES));
    } catch (err) {
      if (isFerryError(err, 'HASH_MISMATCH')) this.stats.blocksRefused++;
      throw err;
    }
    this.stats.blocksWritten++;
    await this.send(ctx.peer, [emptyReply(MESSAGES.UPLOAD_BLOCK.type, id)]);
  }

  private async onAppendData(ctx: PeerContext, id: number, payload: Buffer): Promise<void> {
    const h = readBlockHeader(payload, this.blockHeader);
    const entry = this.transferOf(ctx, h.transferId);
    if (entry.t.kind !== 'append')
      throw new FerryError('PROTOCOL_ERROR', `transfer ${h.transferId} is not an append sequence`);
    await entry.t.up.append(h.position, h.hash, payload.subarray(BLOCK_HEADER_BYTES));
    this.stats.blocksWritten++;
    await this.send(ctx.peer, [emptyReply(MESSAGES.APPEND_DATA.type, id)]);
  }

  /** Reads straight into a pooled buffer that holds the reply header and the data; no copy. */
  private async onDownloadRead(ctx: PeerContext, id: number, payload: Buffer): Promise<void> {
    const r = decodeRequest('DOWNLOAD_READ', payload);
    const entry = this.transferOf(ctx, r.transferId);
    if (entry.t.kind !== 'download')
      throw new FerryError('PROTOCOL_ERROR', `transfer ${r.transferId} is not a download`);
    entry.t.dl.check(r.offset, r.length);
    const buf = await this.readPool.acquire();
    let handed = false;
    try {
      const data = buf.subarray(READ_REPLY_HEADER_BYTES, READ_REPLY_HEADER_BYTES + r.length);
      await entry.t.dl.readInto(r.offset, data);
      writeReadReplyHeader(buf, id, xxh64(data));
      const handle = await this.send(ctx.peer, [buf.subarray(0, READ_REPLY_HEADER_BYTES), data]);
      if (handle) {
        handed = true;
        handle.received.then(
          () => this.readPool.release(buf),
          () => this.readPool.release(buf),
        );
      }
    } finally {
      if (!handed) this.readPool.release(buf);
    }
  }

  // ---------------------------------------------------------------- block devices

  private deviceOf(ctx: PeerContext, id: number): BlockDevice {
    const d = ctx.devices.get(id);
    if (!d) throw new FerryError('BAD_HANDLE', `device handle ${id} is not open: BD_OPEN it first`);
    return d;
  }

  private async handleDevices(
    ctx: PeerContext,
    name: MessageName,
    id: number,
    payload: Buffer,
  ): Promise<readonly Uint8Array[]> {
    switch (name) {
      case 'BD_LIST': {
        const list = [...this.devices].map(([n, d]) => ({
          name: n,
          sizeBytes: d.sizeBytes,
          blockBytes: d.blockBytes,
          readOnly: d.readOnly || this.readOnly,
        }));
        return [encodeReply('BD_LIST', id, { devices: encodeDevices(list) })];
      }
      case 'BD_OPEN': {
        const r = decodeRequest('BD_OPEN', payload);
        const d = this.devices.get(r.name);
        if (!d)
          throw new FerryError(
            'NOT_FOUND',
            `no block device named "${r.name}": see the server's --blockdev list`,
          );
        this.checkHandleRoom(ctx);
        const dev = ctx.nextLocalId++;
        ctx.devices.set(dev, d);
        return [
          encodeReply('BD_OPEN', id, {
            device: dev,
            sizeBytes: d.sizeBytes,
            blockBytes: d.blockBytes,
            readOnly: d.readOnly || this.readOnly ? 1 : 0,
          }),
        ];
      }
      case 'BD_CLOSE': {
        const r = decodeRequest('BD_CLOSE', payload);
        this.deviceOf(ctx, r.device);
        ctx.devices.delete(r.device);
        return [encodeReply('BD_CLOSE', id, {})];
      }
      case 'BD_READ': {
        const r = decodeRequest('BD_READ', payload);
        if (r.length > LIMITS.MAX_IO_BYTES)
          throw new FerryError('OUT_OF_RANGE', `read of ${r.length} bytes exceeds ${LIMITS.MAX_IO_BYTES}`);
        const data = await this.deviceOf(ctx, r.device).read(r.offset, r.length);
        return [replyHeader('BD_READ', id), data];
      }
      case 'BD_WRITE': {
        const r = decodeRequest('BD_WRITE', payload);
        await this.deviceOf(ctx, r.device).write(r.offset, r.data);
        return [encodeReply('BD_WRITE', id, {})];
      }
      case 'BD_FLUSH': {
        const r = decodeRequest('BD_FLUSH', payload);
        await this.deviceOf(ctx, r.device).flush();
        return [encodeReply('BD_FLUSH', id, {})];
      }
      case 'BD_TRIM': {
        const r = decodeRequest('BD_TRIM', payload);
        await this.deviceOf(ctx, r.device).trim(r.offset, r.length);
        return [encodeReply('BD_TRIM', id, {})];
      }
      case 'BD_ZERO': {
        const r = decodeRequest('BD_ZERO', payload);
        await this.deviceOf(ctx, r.device).writeZeroes(r.offset, r.length);
        return [encodeReply('BD_ZERO', id, {})];
      }
      case 'BD_EXTENTS': {
        const r = decodeRequest('BD_EXTENTS', payload);
        const extents = await this.deviceOf(ctx, r.device).extents(r.offset, r.length);
        return [encodeReply('BD_EXTENTS', id, { extents: encodeExtents(extents) })];
      }
      default:
        throw new FerryError('PROTOCOL_ERROR', `request ${name} is not valid here`);
    }
  }

  // ---------------------------------------------------------------- replies, peers, shutdown

  private async send(peer: Peer, pieces: readonly Uint8Array[]): Promise<SendHandle | null> {
    for (let attempt = 0; attempt < TRANSFER_LIMITS.SEND_RETRIES; attempt++) {
      const r = this.endpoint.trySend(peer, pieces, { mode: 'unordered' });
      if (typeof r !== 'string') return r;
      if (r !== 'BACK_PRESSURED') return null;
      try {
        await this.endpoint.writable(peer);
      } catch {
        return null;
      }
    }
    return null;
  }

  private async sendError(peer: Peer, type: number, requestId: number, err: unknown): Promise<void> {
    this.stats.errors++;
    const fe =
      err instanceof FerryError
        ? err
        : new FerryError('INTERNAL', `internal error: ${err instanceof Error ? err.message : String(err)}`);
    await this.send(peer, [encodeErrorReply(type, requestId, fe.code, fe.message)]);
  }

  private handlePeerState(change: PeerStateChange): void {
    if (change.state === 'connected' || change.state === 'connecting') return;
    const ctx = this.peers.get(change.peer.id);
    if (ctx && ctx.peer === change.peer) void this.dropPeer(ctx);
  }

  /** Closes a gone peer's handles and downloads; leaves its uploads resumable. */
  private async dropPeer(ctx: PeerContext): Promise<void> {
    if (this.peers.get(ctx.peer.id) === ctx) this.peers.delete(ctx.peer.id);
    const handles = [...ctx.handles.values()];
    ctx.handles.clear();
    ctx.devices.clear();
    for (const h of handles) await this.fs?.closeFile(h).catch(() => undefined);
    for (const entry of [...ctx.transfers.values()]) {
      this.removeTransfer(entry);
      if (entry.t.kind === 'download') await entry.t.dl.release();
      else await entry.t.up.suspend().catch(() => undefined);
      this.logTransfer(entry, entry.t.kind === 'download' ? 'peer gone' : 'peer gone (resumable)');
    }
  }

  private logTransfer(entry: TransferEntry, result: string): void {
    const secs = (this.clock.nowMs() - entry.startedMs) / 1000;
    const t = entry.t;
    const what =
      t.kind === 'download'
        ? `download ${JSON.stringify(t.dl.name)}`
        : `${t.kind} ${JSON.stringify(t.up.params.name)}`;
    const bytes = t.kind === 'download' ? t.dl.bytesServed : t.up.bytesReceived;
    const rate = secs > 0 ? `${(bytes / secs / 1e6).toFixed(1)} MB/s` : '-';
    this.log(
      `${new Date().toISOString()} ${entry.ctx.peer.id} ${what} bytes=${bytes} time=${secs.toFixed(3)}s rate=${rate} result=${result}`,
    );
  }

  /**
   * Stops serving: refuses new requests, lets those in progress finish (up to SHUTDOWN_GRACE_MS),
   * leaves open uploads resumable, closes handles. Does not close the endpoint or the storage (the
   * caller owns them).
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimer(TRANSFER_LIMITS.SHUTDOWN_GRACE_MS, resolve);
        this.idleWaiters.push(() => {
          this.clock.clearTimer(timer);
          resolve();
        });
      });
    }
    for (const ctx of [...this.peers.values()]) await this.dropPeer(ctx);
    this.unsubscribe();
  }
}

function emptyReply(type: number, requestId: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  writeHeader(b, type | REPLY_BIT, 0, STATUS_OK, requestId);
  return b;
}

function replyHeader(name: MessageName, requestId: number): Buffer {
  return emptyReply(MESSAGES[name].type, requestId);
}

function codeOf(err: unknown): string {
  return err instanceof FerryError ? err.code : 'INTERNAL';
}
