/**
 * The client half of the transfer RPC: requests with ids over one peer session, many in flight,
 * replies matched by id in whatever order they come.
 *
 * Why: every client feature (copy, RemoteFlatFs, RemoteBlockDevice) is "send a request, act on its
 * reply". Keeping the pending table, the back-pressure loop, the reply-to-error mapping and the
 * end-of-session cleanup here once means each feature only encodes and decodes.
 *
 * A reply's bytes are valid only while its handler runs (the transport may reuse them after), so
 * hot paths pass an `onReply` that consumes the payload in place (a download writes it straight to
 * its file offset); control calls get a decoded copy.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { FerryError, isErrorCode } from '../../core/errors.js';
import type {
  IncomingMessage,
  MessageEndpoint,
  Peer,
  PeerStateChange,
  SendHandle,
} from '../../transport/types.js';
import {
  decodeErrorReply,
  readHeader,
  REPLY_BIT,
  STATUS_OK,
  type MessageHeader,
  type MessageName,
  type RequestOf,
  encodeRequest,
  decodeReplyAnyLayout,
  REQUEST_FLAG_EXTENDED_REPLY,
  type ReplyFromAnyServer,
  messageNameOf,
  OFF_TYPE,
} from '../../wire/transfer/index.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';

/** Consumes a reply payload in place; its promise settles before the payload may be reused. */
export type ReplyConsumer<T> = (payload: Buffer, header: MessageHeader) => T | Promise<T>;

interface Pending {
  type: number;
  startedMs: number;
  consume: ReplyConsumer<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface RpcClientOptions {
  /** Requests in flight at once (default and ceiling TRANSFER_LIMITS.RPC_MAX_IN_FLIGHT). */
  maxInFlight?: number;
  /** A request unanswered this long fails with TIMEOUT (default TRANSFER_LIMITS.RPC_TIMEOUT_MS). */
  timeoutMs?: number;
  clock?: Clock;
}

/** Turns an error reply into the FerryError the server raised (same code and message). */
export function errorFromReply(payload: Buffer): FerryError {
  const { code, message } = decodeErrorReply(payload);
  return errorFromCode(code, message);
}

/** The FerryError a server named by code and message (PROTOCOL_ERROR for a code this side lacks). */
export function errorFromCode(code: string, message: string): FerryError {
  if (!isErrorCode(code))
    return new FerryError('PROTOCOL_ERROR', `server answered unknown error ${code}: ${message}`);
  return new FerryError(code, message);
}

export class RpcClient {
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private sweepTimer: TimerHandle | null = null;
  private slotWaiters: Array<() => void> = [];
  private ended: FerryError | null = null;
  private readonly header: MessageHeader = { type: 0, flags: 0, status: 0, requestId: 0 };
  /** Requests sent, by message name (for stats and tests). */
  readonly sentByName = new Map<MessageName, number>();

  constructor(
    readonly endpoint: MessageEndpoint,
    readonly peer: Peer,
    opts: RpcClientOptions = {},
  ) {
    this.maxInFlight = Math.min(
      opts.maxInFlight ?? TRANSFER_LIMITS.RPC_MAX_IN_FLIGHT,
      TRANSFER_LIMITS.RPC_MAX_IN_FLIGHT,
    );
    this.timeoutMs = opts.timeoutMs ?? TRANSFER_LIMITS.RPC_TIMEOUT_MS;
    this.clock = opts.clock ?? systemClock;
  }

  /** Requests awaiting their reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Why this client stopped working, or null while it works. */
  get endedBy(): FerryError | null {
    return this.ended;
  }

  /**
   * A control call: encodes, sends, decodes the reply (a copy, safe to keep). It asks for the
   * extended reply layout (REQUEST_FLAG_EXTENDED_REPLY) and takes the earlier one from a server
   * from before, whose replies lack the fields added since (ReplyFromAnyServer: they are optional).
   */
  call<N extends MessageName>(name: N, fields: RequestOf<N>): Promise<ReplyFromAnyServer<N>> {
    return this.request(
      name,
      (id) => [encodeRequest(name, id, fields, REQUEST_FLAG_EXTENDED_REPLY)],
      'unordered',
      (payload) => copyBytes(decodeReplyAnyLayout(name, payload)),
    );
  }

  /**
   * A control call whose `bytes` field (the last of the layout, see codec.ts) goes out as a piece of
   * its own, straight from `data`: no copy of a write's bytes into the request. `fields` carries an
   * empty `bytes` value. `data` is lent to the transport: leave it unchanged until the promise
   * settles (a failed call settles only once the transport holds no reference to it).
   */
  callLending<N extends MessageName>(
    name: N,
    fields: RequestOf<N>,
    data: Uint8Array,
  ): Promise<ReplyFromAnyServer<N>> {
    return this.request(
      name,
      (id) => [encodeRequest(name, id, fields, REQUEST_FLAG_EXTENDED_REPLY), data],
      'unordered',
      (payload) => copyBytes(decodeReplyAnyLayout(name, payload)),
      true,
    );
  }

  /**
   * Sends one request built by `build(requestId)` (pieces sent as they are) and hands the OK reply
   * to `consume`, whose result the promise resolves to. Error replies reject with their FerryError.
   *
   * `lent`: the pieces are the caller's bytes, which it may reuse as soon as the promise settles. A
   * reply proves the server holds the whole request, but a request that fails without one (timeout,
   * session over) may still be queued or resent by the transport: its rejection then waits until
   * the transport let go of the pieces (the message received, or failed).
   */
  async request<T>(
    name: MessageName,
    build: (requestId: number) => readonly Uint8Array[],
    mode: 'unordered' | 'fifo',
    consume: ReplyConsumer<T>,
    lent = false,
  ): Promise<T> {
    await this.slot();
    const requestId = this.allocateId();
    const pieces = build(requestId);
    const type = pieces[0]?.[OFF_TYPE] ?? 0;
    const done = new Promise<T>((resolve, reject) => {
      this.pending.set(requestId, {
        type,
        startedMs: this.clock.nowMs(),
        consume: consume as ReplyConsumer<unknown>,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
    });
    this.ensureSweep();
    let sent: SendHandle | null = null;
    try {
      sent = await this.sendPieces(pieces, mode);
      this.sentByName.set(name, (this.sentByName.get(name) ?? 0) + 1);
    } catch (err) {
      this.settle(requestId)?.reject(err);
    }
    if (!lent || sent === null) return done;
    const handle = sent;
    return done.catch(async (err: unknown) => {
      await handle.received.catch(() => undefined);
      throw err;
    });
  }

  private async sendPieces(pieces: readonly Uint8Array[], mode: 'unordered' | 'fifo'): Promise<SendHandle> {
    for (let attempt = 0; ; attempt++) {
      if (this.ended) throw this.ended;
      const r = this.endpoint.trySend(this.peer, pieces, { mode });
      if (typeof r !== 'string') return r;
      if (r !== 'BACK_PRESSURED' || attempt >= TRANSFER_LIMITS.SEND_RETRIES)
        throw new FerryError(r === 'BACK_PRESSURED' ? 'BACK_PRESSURED' : r);
      await this.endpoint.writable(this.peer);
    }
  }

  private async slot(): Promise<void> {
    while (this.pending.size >= this.maxInFlight) {
      if (this.ended) throw this.ended;
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    if (this.ended) throw this.ended;
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextRequestId;
      this.nextRequestId = this.nextRequestId >= 0xffff_fffe ? 1 : this.nextRequestId + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private settle(requestId: number): Pending | undefined {
    const p = this.pending.get(requestId);
    if (!p) return undefined;
    this.pending.delete(requestId);
    const w = this.slotWaiters.shift();
    if (w) w();
    return p;
  }

  /** Feeds an incoming message (a reply) to its request; the returned promise covers its use. */
  async handleMessage(msg: IncomingMessage): Promise<void> {
    let header: MessageHeader;
    try {
      header = readHeader(msg.payload, this.header);
    } catch {
      return; // not ours to answer: a client drops junk
    }
    if ((header.type & REPLY_BIT) === 0) return;
    const p = this.pending.get(header.requestId);
    if (!p || (p.type | REPLY_BIT) !== header.type) return;
    this.settle(header.requestId);
    if (header.status !== STATUS_OK) {
      p.reject(safeError(msg.payload));
      return;
    }
    try {
      p.resolve(await p.consume(msg.payload, { ...header }));
    } catch (err) {
      p.reject(err);
    }
  }

  /** Fails every pending request (session over, or close). */
  fail(err: FerryError): void {
    if (!this.ended) this.ended = err;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
    for (const w of this.slotWaiters.splice(0)) w();
    if (this.sweepTimer) this.clock.clearTimer(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** Reacts to the peer session ending. */
  handlePeerState(change: PeerStateChange): void {
    if (change.peer.id !== this.peer.id || change.state === 'connected' || change.state === 'connecting')
      return;
    const code =
      change.state === 'dead' ? 'PEER_DEAD' : change.state === 'reset' ? 'PEER_RESET' : 'NOT_CONNECTED';
    this.fail(
      new FerryError(
        code,
        `the server session ended (${change.state}${change.reason ? `: ${change.reason}` : ''})`,
      ),
    );
  }

  private ensureSweep(): void {
    if (this.sweepTimer || this.ended) return;
    this.sweepTimer = this.clock.setTimer(TRANSFER_LIMITS.RPC_SWEEP_MS, () => this.sweep());
  }

  private sweep(): void {
    this.sweepTimer = null;
    const now = this.clock.nowMs();
    for (const [id, p] of this.pending) {
      if (now - p.startedMs < this.timeoutMs) continue;
      const name = messageNameOf(p.type) ?? 'request';
      this.settle(id)?.reject(
        new FerryError(
          'TIMEOUT',
          `${name} got no answer in ${this.timeoutMs} ms: the server is stuck or gone`,
        ),
      );
    }
    if (this.pending.size > 0) this.ensureSweep();
  }
}

function safeError(payload: Buffer): FerryError {
  try {
    return errorFromReply(payload);
  } catch {
    return new FerryError('PROTOCOL_ERROR', 'server sent an unreadable error reply');
  }
}

/** Decoded replies may hold views into the message buffer: copy them so they outlive it. */
function copyBytes<T>(value: T): T {
  const out = value as Record<string, unknown>;
  for (const key of Object.keys(out)) {
    const v = out[key];
    if (Buffer.isBuffer(v)) out[key] = Buffer.from(v);
  }
  return value;
}
