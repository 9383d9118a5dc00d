/**
 * TransferServer, the ferry server proper: answers transfer requests from any number of peers over
 * one MessageEndpoint you own, serving one flat filesystem and any number of named block devices.
 * (FerryServer, in ferry-server.ts, is the packaged process around it: it binds the endpoint and
 * opens the storage, then runs one of these.)
 *
 * Why this shape: every request passes the same gate (gate.ts: request not reply, not closing, the
 * peer's in-flight cap, known name, read-only) and is then one lookup in the handler table
 * (handlers.ts); every failure becomes a typed error reply with the request's id. The server never
 * throws out of its message handler, so one peer's bad request cannot disturb anyone else. Per-peer
 * state (peer-session.ts) is dropped when the peer's session ends; its uploads are left resumable.
 *
 * @example
 * const server = new TransferServer({ endpoint, fs: new MemoryFlatFs({ quotaBytes: 1 << 30 }) });
 * // ... later
 * await server.close();
 */
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import type { BlockDevice } from '../../blockdev/types.js';
import type { FlatFs } from '../../flatfs/types.js';
import type {
  IncomingMessage,
  MessageEndpoint,
  Peer,
  PeerStateChange,
  SendHandle,
} from '../../transport/types.js';
import {
  OFF_TYPE,
  READ_REPLY_HEADER_BYTES,
  encodeErrorReply,
  peekRequestId,
  readHeader,
  type MessageHeader,
} from '../../wire/transfer/index.js';
import { WaitingPool } from '../waiting-pool.js';
import { RequestGate } from './gate.js';
import { HANDLERS } from './handlers.js';
import { PartSweeper, type PartUsage } from './part-sweeper.js';
import { PeerSession } from './peer-session.js';
import { ReadBuffers } from './read-buffers.js';
import type { ServerScope } from './scope.js';
import type { ServerStats } from './stats.js';
import { TransferTable } from './transfer-table.js';

export type { ServerStats } from './stats.js';
export type { PartUsage } from './part-sweeper.js';

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
  /**
   * An unfinished upload idle longer than this is aborted and its part file and journal removed
   * (default TRANSFER_LIMITS.DEFAULT_PART_TTL_MS, 24 h). Checked at start and periodically.
   */
  partTtlMs?: number;
  /** Wall clock the part TTL compares file times with (default Date.now; tests move it). */
  wallClockMs?: () => number;
}

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
    readBuffersReclaimed: 0,
  };
  private readonly fs: FlatFs | undefined;
  private readonly clock: Clock;
  private readonly scope: ServerScope;
  private readonly gate: RequestGate;
  private readonly transfers: TransferTable;
  private readonly sessions = new Map<string, PeerSession>();
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private closing = false;
  private readonly header: MessageHeader = { type: 0, flags: 0, status: 0, requestId: 0 };
  private readonly unsubscribe: () => void;
  /** Expires abandoned uploads; null without a writable filesystem. */
  readonly partSweeper: PartSweeper | null;

  constructor(opts: TransferServerOptions) {
    this.endpoint = opts.endpoint;
    this.fs = opts.fs;
    this.readOnly = opts.readOnly === true || opts.fs?.readOnly === true;
    this.clock = opts.clock ?? systemClock;
    this.gate = new RequestGate(this.readOnly, opts.exposeHidden === true, opts.fs);
    this.transfers = new TransferTable(this.clock, this.stats, opts.log ?? (() => undefined));
    this.scope = {
      gate: this.gate,
      devices: opts.devices ?? new Map(),
      serverName: opts.serverName ?? 'ferry',
      stats: this.stats,
      transfers: this.transfers,
      readBuffers: new ReadBuffers(
        new WaitingPool(
          READ_REPLY_HEADER_BYTES + TRANSFER_LIMITS.MAX_BLOCK_BYTES,
          TRANSFER_LIMITS.SERVER_READ_BUFFERS,
        ),
        this.clock,
        (session) => this.readsOverdue(session),
      ),
      blockHeader: { transferId: 0, position: 0, hash: 0n },
      clock: this.clock,
      partUsage: null,
      send: (peer, pieces) => this.send(peer, pieces),
    };
    const sweeper = this.makeSweeper(opts);
    this.partSweeper = sweeper;
    if (sweeper) this.scope.partUsage = () => sweeper.recentUsage();
    // Every handler is done with its request's bytes when its promise settles: data requests
    // (UPLOAD_BLOCK, APPEND_DATA, WRITE, APPEND, BD_WRITE) await the write that consumes them, and
    // what a handler keeps (names, numbers) is decoded out of the payload. So the endpoint may reuse
    // each request's buffer for the next one instead of allocating per block.
    this.endpoint.onMessage((msg) => this.handleMessage(msg), { reusePayloads: true });
    this.unsubscribe = this.endpoint.onPeerState((c) => this.handlePeerState(c));
  }

  private makeSweeper(opts: TransferServerOptions): PartSweeper | null {
    if (!this.fs || this.readOnly) return null;
    const ttlMs = opts.partTtlMs ?? TRANSFER_LIMITS.DEFAULT_PART_TTL_MS;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new FerryError('INVALID_ARGUMENT', `partTtlMs ${ttlMs}: give a positive duration, e.g. 24h`);
    }
    const sweeper = new PartSweeper({
      fs: this.fs,
      ttlMs,
      clock: this.clock,
      ...(opts.wallClockMs ? { wallClockMs: opts.wallClockMs } : {}),
      openKeys: () => this.transfers.openUploadKeys(),
      expireOpen: (ms) => this.transfers.expireOpen(ms),
      onRemoved: (key) => this.transfers.forgetKey(key),
      log: opts.log ?? (() => undefined),
    });
    sweeper.start();
    return sweeper;
  }

  /** What unfinished uploads hold on the storage (zero without a writable filesystem). */
  async partUsage(): Promise<PartUsage> {
    return (await this.partSweeper?.usage()) ?? { uploads: 0, bytes: 0 };
  }

  /** Handles one incoming message; never throws. */
  async handleMessage(msg: IncomingMessage): Promise<void> {
    const payload = msg.payload;
    let header: MessageHeader;
    let session: PeerSession;
    try {
      header = readHeader(payload, this.header);
    } catch (err) {
      const id = peekRequestId(payload);
      if (id >= 0) await this.sendError(msg.peer, payload[OFF_TYPE] ?? 0, id, err);
      return;
    }
    const { type, requestId } = header;
    try {
      this.gate.checkIsRequest(header);
      session = this.session(msg.peer);
      this.gate.admit(session, this.closing);
    } catch (err) {
      await this.sendError(msg.peer, type, requestId, err);
      return;
    }
    session.requests++;
    this.active++;
    this.stats.requests++;
    try {
      const reply = await HANDLERS[this.gate.nameOf(type)](this.scope, session, requestId, payload);
      if (reply !== null) await this.send(msg.peer, reply);
    } catch (err) {
      await this.sendError(msg.peer, type, requestId, err);
    } finally {
      session.requests--;
      this.active--;
      if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** The peer's session state; a peer that reconnected gets a fresh one (the old one is dropped). */
  private session(peer: Peer): PeerSession {
    let session = this.sessions.get(peer.id);
    if (!session || session.peer !== peer) {
      if (session) void this.dropSession(session);
      session = new PeerSession(peer);
      this.sessions.set(peer.id, session);
    }
    return session;
  }

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
    const session = this.sessions.get(change.peer.id);
    if (session && session.peer === change.peer) void this.dropSession(session);
  }

  /**
   * A read reply of `session` was not received within SERVER_READ_RELEASE_MS (its buffer is already
   * back in the pool): the peer is not taking replies, so its downloads fail and its session ends,
   * which also drops the replies the transport still holds for it.
   */
  private readsOverdue(session: PeerSession): void {
    this.stats.readBuffersReclaimed++;
    if (session.closed) return;
    this.transfers.failDownloads(session, 'failed: read replies not received in time');
    void this.endpoint.disconnect(session.peer).catch(() => undefined);
    void this.dropSession(session);
  }

  /** Closes a gone peer's handles and downloads; leaves its uploads resumable. */
  private async dropSession(session: PeerSession): Promise<void> {
    if (this.sessions.get(session.peer.id) === session) this.sessions.delete(session.peer.id);
    if (session.closed) return;
    session.closed = true;
    for (const w of session.readWaiters.splice(0)) w();
    const handles = [...session.handles.values()];
    session.handles.clear();
    session.devices.clear();
    for (const h of handles) await this.fs?.closeFile(h).catch(() => undefined);
    await this.transfers.dropSession(session);
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
    await this.partSweeper?.close();
    this.scope.readBuffers.close();
    for (const session of [...this.sessions.values()]) await this.dropSession(session);
    this.unsubscribe();
  }
}
