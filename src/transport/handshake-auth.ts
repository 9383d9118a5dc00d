/**
 * The cryptography of the handshake: connection ids, nonces, the stateless cookie, the server's
 * per-handshake X25519 key, proofs of the shared secret (crypto/key-schedule.ts), and reset tokens.
 *
 * Why a stateless cookie: a server that kept state for every HELLO could be filled by anyone who can
 * send datagrams (1,024 forged HELLOs used to lock every client out). The CHALLENGE instead carries a
 * MAC, under a random per-endpoint key rotated every HANDSHAKE_COOKIE_ROTATE_MS, of the client's
 * address, both sides' fields and the key's time bucket; the CONFIRM echoes them, and the server
 * rebuilds everything from it. The server's X25519 private key for a handshake is derived from the
 * same rotating key (HMAC of the address, the client's fields, the server's nonce and connection id),
 * so it too needs no state; once a key is rotated out (after at most two periods) it is forgotten,
 * and the handshakes made under it keep their forward secrecy.
 *
 * Why the client proves first: a proof only the holder of the secret can make, sent to whoever asks,
 * lets anyone guess a weak secret offline. The server now proves nothing until the client has.
 *
 * A RESET token is bound to the address the RESET goes to: HMAC(K_reset, connection id || address),
 * K_reset = HKDF(secret, "reset") (random per process without a secret), and each side learns the
 * token for its own address inside the sealed part of CONFIRM / ACCEPT, so asking for a RESET from
 * another address yields nothing usable against a victim.
 *
 * TCP runs the same key exchange and proofs (the client first), without the cookie: there the TCP
 * connection itself is the state a half-open handshake holds, bounded and timed out as before.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { LIMITS } from '../core/limits.js';
import { RESET_TOKEN_BYTES } from '../wire/control-bodies.js';
import { x25519FromPrivate, type X25519Pair } from './crypto/key-schedule.js';

const RESET_LABEL = Buffer.from('ferry/4 reset');
const RESET_SALT = Buffer.from('ferry/4 reset key');
const COOKIE_LABEL = Buffer.from('ferry/4 cookie');
const SERVER_KEY_LABEL = Buffer.from('ferry/4 server x25519');
/** Cookie keys kept: the current bucket's and the previous one's. */
const COOKIE_KEYS_KEPT = 2;

/**
 * The endpoint's handshake secrets: the pre-shared secret (for the key schedule), the rotating cookie
 * keys (UDP) and the reset key. The key schedule itself is crypto/key-schedule.ts, shared by both
 * transports.
 */
export class HandshakeAuth {
  /** The pre-shared secret (empty without one): it goes into the key schedule's IKM. */
  readonly key: Buffer;
  private readonly resetKey: Buffer;
  /** Cookie keys by time bucket (the current and the previous one only). */
  private readonly cookieKeys = new Map<number, Buffer>();

  constructor(secret: Buffer | null) {
    this.key = secret ?? Buffer.alloc(0);
    this.resetKey = secret
      ? Buffer.from(hkdfSync('sha256', secret, RESET_SALT, RESET_LABEL, 32))
      : randomBytes(32);
  }

  /** The cookie time bucket at `nowMs`. */
  static cookieBucket(nowMs: number): number {
    return Math.floor(nowMs / LIMITS.HANDSHAKE_COOKIE_ROTATE_MS) >>> 0;
  }

  /** The cookie key of `bucket`, or null when it is neither the current nor the previous one. */
  private cookieKey(bucket: number, nowMs: number): Buffer | null {
    const current = HandshakeAuth.cookieBucket(nowMs);
    if (bucket !== current && bucket !== (current - 1) >>> 0) return null;
    let key = this.cookieKeys.get(bucket);
    if (!key) {
      if (bucket !== current) return null; // never made: nothing was issued under it
      key = randomBytes(32);
      this.cookieKeys.set(bucket, key);
      for (const b of this.cookieKeys.keys()) {
        if (this.cookieKeys.size <= COOKIE_KEYS_KEPT) break;
        if (b !== current && b !== (current - 1) >>> 0) this.cookieKeys.delete(b);
      }
    }
    return key;
  }

  /**
   * Server: its X25519 key pair for the handshake a HELLO (`clientFields`, from `address`) starts,
   * given its nonce and connection id for it and the cookie bucket; null when the bucket is stale.
   */
  serverKeyPair(
    address: string,
    clientFields: Buffer,
    serverNonce: Buffer,
    serverConnectionId: bigint,
    bucket: number,
    nowMs: number,
  ): X25519Pair | null {
    const key = this.cookieKey(bucket, nowMs);
    if (!key) return null;
    const id = Buffer.alloc(8);
    id.writeBigUInt64BE(serverConnectionId);
    const raw = createHmac('sha256', key)
      .update(SERVER_KEY_LABEL)
      .update(address)
      .update(clientFields)
      .update(serverNonce)
      .update(id)
      .digest();
    return x25519FromPrivate(raw);
  }

  /** Server: the cookie over the client's address, both sides' fields and the bucket (null: stale). */
  cookie(
    address: string,
    clientFields: Buffer,
    serverFields: Buffer,
    bucket: number,
    nowMs: number,
  ): Buffer | null {
    const key = this.cookieKey(bucket, nowMs);
    if (!key) return null;
    const b = Buffer.alloc(4);
    b.writeUInt32BE(bucket >>> 0);
    return createHmac('sha256', key)
      .update(COOKIE_LABEL)
      .update(address)
      .update(clientFields)
      .update(serverFields)
      .update(b)
      .digest();
  }

  /**
   * The token of a RESET for `connectionId` (one of ours) sent to `address` (the peer's, as we see
   * it: `host:port`). The peer learned it in the handshake's sealed part; nobody else can get it.
   */
  resetToken(connectionId: bigint, address: string): Buffer {
    const id = Buffer.alloc(8);
    id.writeBigUInt64BE(connectionId);
    return createHmac('sha256', this.resetKey)
      .update(RESET_LABEL)
      .update(id)
      .update(address)
      .digest()
      .subarray(0, RESET_TOKEN_BYTES);
  }

  static equal(a: Buffer, b: Buffer): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

export function randomNonce(): Buffer {
  return randomBytes(16);
}

/** A random non-zero 64-bit connection id. */
export function randomConnectionId(): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE();
    if (id !== 0n) return id;
  }
}

let lastIncarnation = 0;

/** A number that grows with every endpoint this machine starts (wall-clock ms, strictly increasing). */
export function nextIncarnation(): number {
  lastIncarnation = Math.max(Date.now(), lastIncarnation + 1);
  return lastIncarnation;
}
