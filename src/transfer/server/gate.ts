/**
 * The request gate: the checks every request passes, whatever its kind, before and inside its
 * handler. Admission (a request, not a reply; the server not closing; the peer under its in-flight
 * cap), the message name (known to this version), read-only, names (user names never reach hidden
 * transfer files), sizes (one read at most MAX_IO_BYTES) and the storage a request needs.
 *
 * Why one place: a handler then says only what its request does. Authentication is the endpoint's
 * (a request arrives only on a session that proved the secret) and quota is the storage's (NO_SPACE
 * from the FlatFs); upload geometry is checked where the upload begins (offset-upload.ts).
 */
import { FerryError } from '../../core/errors.js';
import { LIMITS, TRANSFER_LIMITS } from '../../core/limits.js';
import { SEPARATOR, validateCursor, validateName } from '../../flatfs/names.js';
import type { FlatFs } from '../../flatfs/types.js';
import { REPLY_BIT, messageNameOf, type MessageHeader, type MessageName } from '../../wire/transfer/index.js';
import { checkUserName } from '../names.js';
import type { PeerSession } from './peer-session.js';

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
  'UPLOAD_FILES',
  'BD_WRITE',
  'BD_TRIM',
  'BD_ZERO',
]);

export class RequestGate {
  constructor(
    readonly readOnly: boolean,
    private readonly exposeHidden: boolean,
    private readonly fs: FlatFs | undefined,
  ) {}

  /** Throws PROTOCOL_ERROR for a reply: a server takes requests only. */
  checkIsRequest(header: MessageHeader): void {
    if ((header.type & REPLY_BIT) !== 0)
      throw new FerryError('PROTOCOL_ERROR', 'a server does not take replies');
  }

  /** Throws CLOSED while the server shuts down, LIMIT_EXCEEDED past the peer's in-flight cap. */
  admit(session: PeerSession, closing: boolean): void {
    if (closing) throw new FerryError('CLOSED', 'the server is shutting down: try again later');
    if (session.requests >= TRANSFER_LIMITS.SERVER_MAX_REQUESTS_PER_PEER) {
      throw new FerryError(
        'LIMIT_EXCEEDED',
        `more than ${TRANSFER_LIMITS.SERVER_MAX_REQUESTS_PER_PEER} requests in flight: wait for replies`,
      );
    }
  }

  /** The request's name; throws UNKNOWN_REQUEST, and READ_ONLY for a change to a read-only server. */
  nameOf(type: number): MessageName {
    const name = messageNameOf(type);
    if (name === undefined) {
      throw new FerryError(
        'UNKNOWN_REQUEST',
        `request type 0x${type.toString(16)} is unknown: use the same ferry version on both sides`,
      );
    }
    if (MUTATING.has(name)) this.checkWritable();
    return name;
  }

  checkWritable(): void {
    if (this.readOnly) throw new FerryError('READ_ONLY', 'this server is read-only');
  }

  /** Throws BAD_NAME / NAME_TOO_LONG (hidden names too, unless the server exposes them). */
  checkName(name: string): void {
    if (this.exposeHidden) validateName(name);
    else checkUserName(name);
  }

  /**
   * Throws BAD_NAME / NAME_TOO_LONG unless `cursor` is a LIST cursor: a name or a folder (`a/`), as
   * the flat FS's validateCursor; a hidden one only when the server exposes hidden names.
   */
  checkCursor(cursor: string): void {
    validateCursor(cursor);
    if (!this.exposeHidden) checkUserName(cursor.endsWith(SEPARATOR) ? cursor.slice(0, -1) : cursor);
  }

  /** Whether LIST may include hidden names when the client asks. */
  get listsHidden(): boolean {
    return this.exposeHidden;
  }

  /** Throws OUT_OF_RANGE for a read larger than one reply may carry. */
  checkReadLength(length: number): void {
    if (length > LIMITS.MAX_IO_BYTES)
      throw new FerryError('OUT_OF_RANGE', `read of ${length} bytes exceeds ${LIMITS.MAX_IO_BYTES}`);
  }

  /** The served filesystem; throws NOT_SUPPORTED on a block-device-only server. */
  needFs(): FlatFs {
    if (!this.fs)
      throw new FerryError('NOT_SUPPORTED', 'this server serves no filesystem, only block devices');
    return this.fs;
  }
}
