/**
 * One error type for the whole of ferry, with a stable `code` per failure.
 *
 * Why: callers (the CLI, the RPC layer, FUSE and NBD adapters) branch on `code`, never on message
 * text, and every code is listed with its fix in docs/errors.md (a test keeps the two in step).
 * Data-path calls return statuses instead of throwing; these errors are for setup and control paths,
 * and for promises that settle a message or request.
 */

/** Every error code ferry can raise, with its default message. Codes are stable: never rename one. */
export const ERROR_CODES = {
  // --- core ---
  INVALID_ARGUMENT: 'an argument is out of its allowed range or of the wrong type',
  INVALID_CONFIG: 'a configuration value is invalid',
  LIMIT_EXCEEDED: 'a configured limit was reached',
  POOL_EXHAUSTED: 'no free buffer in the pool',
  NOT_INITIALIZED: 'checksums are not initialised: await initChecksums() first',
  CLOSED: 'the object was closed',
  TIMEOUT: 'the operation timed out',
  ABORTED: 'the operation was aborted',
  INTERNAL: 'internal error: please report it with the steps that led to it',

  // --- wire ---
  MALFORMED: 'malformed packet or message',
  BAD_CHECKSUM: 'checksum mismatch',
  UNSUPPORTED_VERSION: 'unsupported protocol version',

  // --- transport ---
  INSECURE_BIND: 'binding a non-loopback address needs a secret (or insecure: true)',
  BIND_FAILED: 'could not bind the UDP socket',
  NOT_CONNECTED: 'the peer is not connected',
  PEER_DEAD: 'the peer stopped answering and was declared dead',
  PEER_RESET: 'the peer reset the session (it restarted or forgot it)',
  PEER_BLACKLISTED: 'the peer is blacklisted',
  AUTH_FAILED: 'authentication failed: the peers do not share the same secret',
  ENCRYPT_MISMATCH: 'one side has encryption off (--no-encrypt) and the other on',
  HANDSHAKE_TIMEOUT: 'the peer did not answer the handshake',
  MESSAGE_TOO_LARGE: 'the message is larger than maxMessageBytes',
  BACK_PRESSURED: 'send queue or window limit reached: wait for a drain and retry',
  MESSAGE_TIMEOUT: 'the message was not acknowledged in time',
  TOO_MANY_PEERS: 'the endpoint already has maxPeers peers',
  NOT_LOOPBACK: 'the impairment proxy forwards only between loopback addresses unless insecure is set',

  // --- storage (blockdev, flatfs) ---
  OUT_OF_RANGE: 'offset or length outside the device or file',
  READ_ONLY: 'the device or filesystem is read-only',
  NO_SPACE: 'no space left: the quota or memory limit was reached',
  NOT_FOUND: 'no such file',
  EXISTS: 'the file already exists',
  BAD_NAME: 'invalid file name',
  NAME_TOO_LONG: 'file name longer than 1024 bytes, or a segment of it longer than 255 bytes',
  NOT_A_FOLDER: 'a file holds a folder the name needs (a file `a` leaves no room for `a/b`)',
  IS_A_FOLDER: 'the name is a folder (files exist under `name/`), not a file',
  BAD_HANDLE: 'the file handle is not open',
  IO_ERROR: 'input/output error',
  NOT_SUPPORTED: 'operation not supported',
  PERMISSION_DENIED: 'the host refused access to the file or device',

  // --- transfer ---
  HASH_MISMATCH: 'data does not match its xxhash64',
  PROTOCOL_ERROR: 'unexpected request or reply',
  UNKNOWN_REQUEST: 'unknown request type',
  UNKNOWN_TRANSFER: 'no such transfer: it finished, failed or was never started',
  UNREACHABLE: 'the server did not answer',
  BAD_URL: 'bad remote address: use ferry://HOST:PORT/NAME or HOST:PORT:NAME',

  // --- fuse ---
  FUSE_UNAVAILABLE: 'FUSE is not available on this machine (no /dev/fuse or no libfuse2)',
  MOUNT_FAILED: 'the filesystem could not be mounted',
  UNMOUNT_FAILED: 'the filesystem could not be unmounted',
  NOT_MOUNTED: 'nothing is mounted there',

  // --- nbd ---
  NBD_LISTEN_FAILED: 'the NBD server could not listen on the socket path or TCP address',

  // --- secrets (command line) ---
  WEAK_SECRET: 'the secret carries fewer than 128 bits: make one with `ferry keygen --out FILE`',
  NO_SECRET: "no secret for a loopback server: the server's user keeps it in their config folder",
  UNSAFE_SECRET_FILE: 'the per-user secret file or its folder is open to other users',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Every error ferry raises. `code` is stable; `message` is for people. */
export class FerryError extends Error {
  override readonly name = 'FerryError';
  readonly code: ErrorCode;
  /** Extra machine-readable facts (the limit that was hit, the offending value, ...). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>, cause?: unknown) {
    super(message ?? ERROR_CODES[code], cause === undefined ? undefined : { cause });
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** Factory: `ferryError('NOT_FOUND', `no file named ${name}`)`. */
export function ferryError(code: ErrorCode, message?: string, details?: Record<string, unknown>): FerryError {
  return new FerryError(code, message, details);
}

export function isFerryError(err: unknown, code?: ErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code);
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}
