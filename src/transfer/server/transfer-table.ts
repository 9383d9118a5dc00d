/**
 * The server's open transfers: uploads, append sequences and downloads, each under an id of its
 * peer's session, with the bounds (per peer and per server), the one-upload-per-name rule, and the
 * bookkeeping every way a transfer ends shares (commit, abort, peer gone, take-over): retire it,
 * count it, and log one line.
 *
 * Why: the handlers for begin, commit and abort of both upload kinds and of downloads, and the
 * session teardown, all end transfers; doing the retiring here keeps counts and logs consistent.
 */
import type { Clock } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { TRANSFER_LIMITS } from '../../core/limits.js';
import { uploadFileOf, uploadNames } from '../names.js';
import type { EntryOf, PeerSession, Transfer, TransferEntry } from './peer-session.js';
import type { ServerStats } from './stats.js';

/** How each kind is named in the PROTOCOL_ERROR for a request of the wrong kind. */
const KIND_NAMES: Record<Transfer['kind'], string> = {
  upload: 'an upload',
  append: 'an append sequence',
  download: 'a download',
};

/** The key of an upload's hidden files (uploadFileOf), the same for every name form. */
function uploadKeyOf(name: string): string {
  return uploadFileOf(uploadNames(name).part)?.key ?? name;
}

export class TransferTable {
  private count = 0;
  private readonly uploadsByName = new Map<string, TransferEntry>();
  /** Unfinished uploads begun on this server, by key: the address (host) that began them. */
  private readonly owners = new Map<string, string>();
  /** Unfinished uploads per address (host), bounded by SERVER_MAX_UNFINISHED_UPLOADS_PER_HOST. */
  private readonly perHost = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly stats: ServerStats,
    private readonly log: (line: string) => void,
  ) {}

  /** Throws LIMIT_EXCEEDED when the peer or the server has as many transfers open as it may. */
  checkRoom(session: PeerSession): void {
    if (session.transfers.size >= TRANSFER_LIMITS.SERVER_MAX_TRANSFERS_PER_PEER) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `more than ${TRANSFER_LIMITS.SERVER_MAX_TRANSFERS_PER_PEER} transfers open: finish some first`,
      );
    }
    if (this.count >= TRANSFER_LIMITS.SERVER_MAX_TRANSFERS) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `the server has ${TRANSFER_LIMITS.SERVER_MAX_TRANSFERS} transfers open: try again later`,
      );
    }
  }

  /**
   * Throws LIMIT_EXCEEDED when the peer's address holds SERVER_MAX_UNFINISHED_UPLOADS_PER_HOST
   * unfinished uploads and `name` is not one of them (resuming or redoing one of its own is fine).
   */
  checkUnfinishedRoom(session: PeerSession, name: string): void {
    const host = session.peer.address.host;
    if (this.owners.get(uploadKeyOf(name)) === host) return;
    const held = this.perHost.get(host) ?? 0;
    if (held >= TRANSFER_LIMITS.SERVER_MAX_UNFINISHED_UPLOADS_PER_HOST) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `${host} has ${held} unfinished uploads on this server: finish (--resume) or remove some first; unfinished uploads expire after the server's --part-ttl`,
      );
    }
  }

  /** Records that the peer's address holds the unfinished upload `name`. */
  private claim(session: PeerSession, name: string): void {
    const key = uploadKeyOf(name);
    const host = session.peer.address.host;
    const prev = this.owners.get(key);
    if (prev === host) return;
    if (prev !== undefined) this.forgetKey(key);
    this.owners.set(key, host);
    this.perHost.set(host, (this.perHost.get(host) ?? 0) + 1);
  }

  /** The upload with this key is finished or gone: its address no longer holds it. */
  forgetKey(key: string): void {
    const host = this.owners.get(key);
    if (host === undefined) return;
    this.owners.delete(key);
    const n = (this.perHost.get(host) ?? 1) - 1;
    if (n > 0) this.perHost.set(host, n);
    else this.perHost.delete(host);
  }

  /** Unfinished uploads held by an address (for tests and stats). */
  unfinishedOf(host: string): number {
    return this.perHost.get(host) ?? 0;
  }

  /** The keys of the uploads open now. */
  openUploadKeys(): Set<string> {
    return new Set([...this.uploadsByName.keys()].map(uploadKeyOf));
  }

  /** Aborts open uploads whose peer sent nothing for them in more than `ttlMs`; resolves to how many. */
  async expireOpen(ttlMs: number): Promise<number> {
    const now = this.clock.nowMs();
    let n = 0;
    for (const entry of [...this.uploadsByName.values()]) {
      if (entry.t.kind === 'download' || now - entry.lastActiveMs <= ttlMs) continue;
      this.remove(entry);
      await entry.t.up.abort().catch(() => undefined);
      this.forgetKey(uploadKeyOf(entry.t.up.params.name));
      this.logEnd(entry, 'expired (idle past --part-ttl)');
      n++;
    }
    return n;
  }

  add(session: PeerSession, t: Transfer): TransferEntry {
    const id = session.newId();
    const now = this.clock.nowMs();
    const entry: TransferEntry = { id, t, startedMs: now, lastActiveMs: now, session };
    session.transfers.set(id, entry);
    this.count++;
    if (t.kind !== 'download') {
      this.uploadsByName.set(t.up.params.name, entry);
      this.claim(session, t.up.params.name);
    }
    return entry;
  }

  remove(entry: TransferEntry): void {
    if (entry.session.transfers.delete(entry.id)) this.count--;
    if (entry.t.kind !== 'download') {
      const name = entry.t.up.params.name;
      if (this.uploadsByName.get(name) === entry) this.uploadsByName.delete(name);
    }
  }

  /** The session's transfer `id`, of any kind; throws UNKNOWN_TRANSFER. */
  get(session: PeerSession, id: number): TransferEntry {
    const e = session.transfers.get(id);
    if (!e)
      throw new FerryError(
        'UNKNOWN_TRANSFER',
        `transfer ${id} is not open on this session: start the copy again (with --resume to keep what arrived)`,
      );
    return e;
  }

  /** The session's transfer `id`, which must be of `kind`; throws UNKNOWN_TRANSFER, PROTOCOL_ERROR. */
  of<K extends Transfer['kind']>(session: PeerSession, id: number, kind: K): EntryOf<K> {
    const e = this.get(session, id);
    if (e.t.kind !== kind)
      throw new FerryError('PROTOCOL_ERROR', `transfer ${id} is not ${KIND_NAMES[kind]}`);
    return e as EntryOf<K>;
  }

  /** A second upload to a name takes over from the first (whose session may be dead but not yet noticed). */
  async takeOver(name: string): Promise<void> {
    const old = this.uploadsByName.get(name);
    if (!old || old.t.kind === 'download') return;
    this.remove(old);
    await old.t.up.suspend().catch(() => undefined);
    this.logEnd(old, 'suspended (taken over)');
  }

  /**
   * A whole file published outside a transfer (one file of UPLOAD_FILES): the unfinished upload its
   * name may have had is gone with it, and it counts as a committed upload.
   */
  publishedWhole(name: string): void {
    this.forgetKey(uploadKeyOf(name));
    this.stats.uploadsCommitted++;
  }

  /**
   * Runs an upload's or append's commit: success retires the transfer; a failure that closed it
   * (whole-file hash mismatch, I/O error) retires it too, a failure that left it open does not.
   */
  async commit(entry: EntryOf<'upload'> | EntryOf<'append'>, commit: () => Promise<number>): Promise<number> {
    try {
      const sizeBytes = await commit();
      this.remove(entry);
      this.forgetKey(uploadKeyOf(entry.t.up.params.name));
      this.stats.uploadsCommitted++;
      this.logEnd(entry, 'ok');
      return sizeBytes;
    } catch (err) {
      if (!entry.t.up.isOpen) {
        this.remove(entry);
        this.forgetKey(uploadKeyOf(entry.t.up.params.name));
        this.logEnd(entry, err instanceof FerryError ? err.code : 'INTERNAL');
      }
      throw err;
    }
  }

  /** Ends a transfer at the client's word: a download is released, an upload kept resumable or dropped. */
  async abort(entry: TransferEntry, keepJournal: boolean): Promise<void> {
    this.remove(entry);
    if (entry.t.kind === 'download') await entry.t.dl.release();
    else if (keepJournal) await entry.t.up.suspend();
    else {
      await entry.t.up.abort();
      this.forgetKey(uploadKeyOf(entry.t.up.params.name));
    }
    this.logEnd(entry, keepJournal ? 'aborted (resumable)' : 'aborted');
  }

  /** Ends a session's downloads with `result` in their log lines (the peer stopped taking replies). */
  failDownloads(session: PeerSession, result: string): void {
    for (const entry of [...session.transfers.values()]) {
      if (entry.t.kind !== 'download') continue;
      this.remove(entry);
      void entry.t.dl.release();
      this.logEnd(entry, result);
    }
  }

  /** Ends a gone session's transfers: downloads released, uploads left resumable. */
  async dropSession(session: PeerSession): Promise<void> {
    for (const entry of [...session.transfers.values()]) {
      this.remove(entry);
      if (entry.t.kind === 'download') await entry.t.dl.release();
      else await entry.t.up.suspend().catch(() => undefined);
      this.logEnd(entry, entry.t.kind === 'download' ? 'peer gone' : 'peer gone (resumable)');
    }
  }

  /** One log line for a finished transfer: who, what, bytes, time, rate, result. */
  logEnd(entry: TransferEntry, result: string): void {
    const secs = (this.clock.nowMs() - entry.startedMs) / 1000;
    const t = entry.t;
    const what =
      t.kind === 'download'
        ? `download ${JSON.stringify(t.dl.name)}`
        : `${t.kind} ${JSON.stringify(t.up.params.name)}`;
    const bytes = t.kind === 'download' ? t.dl.bytesServed : t.up.bytesReceived;
    const rate = secs > 0 ? `${(bytes / secs / 1e6).toFixed(1)} MB/s` : '-';
    this.log(
      `${new Date().toISOString()} ${entry.session.peer.id} ${what} bytes=${bytes} time=${secs.toFixed(3)}s rate=${rate} result=${result}`,
    );
  }
}
