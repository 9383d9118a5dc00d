/**
 * What the server holds for one peer session: its open file handles, open block devices and
 * transfers, under ids the server hands out, and how many of its requests are in flight.
 *
 * Why a class of its own: handles, devices and transfers share one id space and one per-peer bound,
 * and all of them are dropped together when the session ends; keeping the lookups (with the error a
 * client sees for a stale id) here means no handler repeats them.
 */
import { FerryError } from '../../core/errors.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import type { BlockDevice } from '../../blockdev/types.js';
import type { FileHandle } from '../../flatfs/types.js';
import type { Peer } from '../../transport/types.js';
import type { AppendUpload } from './append-upload.js';
import type { Download } from './download.js';
import type { OffsetUpload } from './offset-upload.js';

/** An open transfer of a peer session, by kind. */
export type Transfer =
  | { kind: 'upload'; up: OffsetUpload }
  | { kind: 'append'; up: AppendUpload }
  | { kind: 'download'; dl: Download };

export interface TransferEntry {
  id: number;
  t: Transfer;
  startedMs: number;
  /** When the peer last sent data for it (clock ms): uploads idle past the part TTL expire. */
  lastActiveMs: number;
  session: PeerSession;
}

/** An entry whose transfer is of kind K. */
export type EntryOf<K extends Transfer['kind']> = TransferEntry & { t: Extract<Transfer, { kind: K }> };

export class PeerSession {
  /** Requests of this peer being handled now (bounded by SERVER_MAX_REQUESTS_PER_PEER). */
  requests = 0;
  /** Download read buffers this peer holds (bounded by SERVER_READ_BUFFERS_PER_PEER; read-buffers.ts). */
  readBuffers = 0;
  /** Reads of this peer waiting for it to hold fewer read buffers. */
  readonly readWaiters: Array<() => void> = [];
  /** Set when the session is dropped: its waiting reads give up. */
  closed = false;
  readonly handles = new Map<number, FileHandle>();
  readonly devices = new Map<number, BlockDevice>();
  readonly transfers = new Map<number, TransferEntry>();
  private nextLocalId = 1;

  constructor(readonly peer: Peer) {}

  /** A fresh id for a handle, device or transfer of this session. */
  newId(): number {
    return this.nextLocalId++;
  }

  /** Throws LIMIT_EXCEEDED when the session holds as many handles and devices as it may. */
  checkHandleRoom(): void {
    if (this.handles.size + this.devices.size >= TRANSFER_LIMITS.SERVER_MAX_HANDLES_PER_PEER) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `more than ${TRANSFER_LIMITS.SERVER_MAX_HANDLES_PER_PEER} open handles: close some first`,
      );
    }
  }

  addHandle(h: FileHandle): number {
    const id = this.newId();
    this.handles.set(id, h);
    return id;
  }

  handleOf(id: number): FileHandle {
    const h = this.handles.get(id);
    if (h === undefined) throw new FerryError('BAD_HANDLE', `handle ${id} is not open`);
    return h;
  }

  addDevice(d: BlockDevice): number {
    const id = this.newId();
    this.devices.set(id, d);
    return id;
  }

  deviceOf(id: number): BlockDevice {
    const d = this.devices.get(id);
    if (!d) throw new FerryError('BAD_HANDLE', `device handle ${id} is not open: BD_OPEN it first`);
    return d;
  }
}
