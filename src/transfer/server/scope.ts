/**
 * What a request handler sees of the server (the gate, the storage, the transfer table, the reply
 * path and the counters), the shape every handler has, and the bodiless reply header they share.
 *
 * Why: the handlers live in three files grouped by what they serve (files, transfers, devices) and
 * must not reach into the TransferServer's private state; this is the whole of what they may use.
 */
import type { Clock } from '../../core/clock.js';
import type { BlockDevice } from '../../blockdev/types.js';
import type { Peer, SendHandle } from '../../transport/types.js';
import {
  HEADER_BYTES,
  MESSAGES,
  REPLY_BIT,
  STATUS_OK,
  writeHeader,
  type BlockHeader,
  type MessageName,
} from '../../wire/transfer/index.js';
import type { RequestGate } from './gate.js';
import type { ReadBuffers } from './read-buffers.js';
import type { PartUsage } from './part-sweeper.js';
import type { PeerSession } from './peer-session.js';
import type { ServerStats } from './stats.js';
import type { TransferTable } from './transfer-table.js';

export interface ServerScope {
  readonly gate: RequestGate;
  readonly devices: ReadonlyMap<string, BlockDevice>;
  readonly serverName: string;
  readonly stats: ServerStats;
  readonly transfers: TransferTable;
  /**
   * Reply buffers of download reads (header and data in one, read straight into), with the per-peer
   * cap and the release deadline (read-buffers.ts).
   */
  readonly readBuffers: ReadBuffers;
  /** Reused decode target of block message headers (decoded synchronously, used at once). */
  readonly blockHeader: BlockHeader;
  readonly clock: Clock;
  /** What unfinished uploads hold (STATFS), or null without a writable filesystem. */
  partUsage: (() => Promise<PartUsage>) | null;
  /** Sends a reply (waiting out back-pressure); null when the peer is gone. */
  send(peer: Peer, pieces: readonly Uint8Array[]): Promise<SendHandle | null>;
}

/**
 * Handles one request: resolves to the reply's pieces, which the server sends, or to null when the
 * handler sent its reply itself (a download read, whose buffer goes back to a pool once sent).
 * Throwing a FerryError answers with its code.
 */
export type Handler = (
  s: ServerScope,
  session: PeerSession,
  requestId: number,
  payload: Buffer,
) => Promise<readonly Uint8Array[] | null>;

/** A reply with no body (or whose data follows as a separate piece): the header alone. */
export function replyHeader(name: MessageName, requestId: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  writeReplyHeader(b, name, requestId);
  return b;
}

/** Writes an OK reply's header at the start of `b` (a reply whose body follows in the same buffer). */
export function writeReplyHeader(b: Buffer, name: MessageName, requestId: number): void {
  writeHeader(b, MESSAGES[name].type | REPLY_BIT, 0, STATUS_OK, requestId);
}
