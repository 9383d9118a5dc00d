/**
 * The handshake's key exchange and key schedule: X25519 (node:crypto), the transcript hash, and
 * HKDF-SHA-256 from the shared secret and the pre-shared secret to the session's keys.
 *
 * ```
 * TH  = SHA-256("ferry/4 transcript" || client fields (72) || server fields (72))
 * PRK = HKDF-Extract(salt = TH, IKM = X25519(client, server) || secret)     (secret empty without one)
 * OKM = HKDF-Expand(PRK, "ferry/4 session keys", 216) =
 *       c2s key (32) | c2s IV base (12) | s2c key (32) | s2c IV base (12) |
 *       client proof key (32) | server proof key (32) | c2s handshake key (32) | s2c handshake key (32)
 * client proof = HMAC-SHA-256(client proof key, "client" || TH)
 * server proof = HMAC-SHA-256(server proof key, "server" || TH)
 * ```
 *
 * Why the secret goes into the IKM and not into a MAC of the messages: nothing that crosses the wire
 * can be checked against a guess of the secret without the X25519 shared secret, which a passive
 * observer does not have. The handshake keys seal one value each (the reset token of CONFIRM and of
 * ACCEPT) with an all-zero nonce: each is used once per direction (a resent CONFIRM or ACCEPT is the
 * same bytes), and they are not the packet keys, whose nonces start from packet number 0.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { AEAD_TAG_BYTES } from '../../wire/packet-layout.js';
import { FrameOpener, FrameSealer } from './frame-aead.js';
import { AEAD_ALGORITHM, AEAD_IV_BYTES, AEAD_KEY_BYTES, PacketOpener, PacketSealer } from './packet-aead.js';
import { aeadKind, type AeadKind } from './native-aead.js';

export const X25519_KEY_BYTES = 32;
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const TRANSCRIPT_LABEL = Buffer.from('ferry/4 transcript');
const KEYS_INFO = Buffer.from('ferry/4 session keys');
const CLIENT_PROOF_LABEL = Buffer.from('client');
const SERVER_PROOF_LABEL = Buffer.from('server');
const OKM_BYTES = 2 * (AEAD_KEY_BYTES + AEAD_IV_BYTES) + 4 * 32;
const ZERO_IV = Buffer.alloc(AEAD_IV_BYTES);

/** An X25519 key pair as raw 32-byte strings. */
export interface X25519Pair {
  privateKey: Buffer;
  publicKey: Buffer;
}

/** A fresh random X25519 key pair (the client's, one per handshake). */
export function x25519Generate(): X25519Pair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' });
  const pub = publicKey.export({ format: 'der', type: 'spki' });
  return {
    privateKey: Buffer.from(priv.subarray(priv.length - X25519_KEY_BYTES)),
    publicKey: Buffer.from(pub.subarray(pub.length - X25519_KEY_BYTES)),
  };
}

function privateKeyObject(raw: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

/** The key pair of 32 bytes used as the private key (X25519 clamps any 32 bytes into a valid key). */
export function x25519FromPrivate(raw: Buffer): X25519Pair {
  const pub = createPublicKey(privateKeyObject(raw)).export({ format: 'der', type: 'spki' });
  return { privateKey: raw, publicKey: Buffer.from(pub.subarray(pub.length - X25519_KEY_BYTES)) };
}

/** X25519(private, peer public), or null for a public key that gives no secret (a low-order point). */
export function x25519Shared(privateRaw: Buffer, peerPublicRaw: Buffer): Buffer | null {
  try {
    const publicKey = createPublicKey({
      key: Buffer.concat([SPKI_X25519_PREFIX, peerPublicRaw]),
      format: 'der',
      type: 'spki',
    });
    return diffieHellman({ privateKey: privateKeyObject(privateRaw), publicKey });
  } catch {
    return null;
  }
}

/** SHA-256 over both sides' 72-byte handshake fields. */
export function transcriptHash(clientFields: Buffer, serverFields: Buffer): Buffer {
  return createHash('sha256').update(TRANSCRIPT_LABEL).update(clientFields).update(serverFields).digest();
}

/** Everything a session needs from its handshake. */
export class SessionKeys {
  readonly clientProof: Buffer;
  readonly serverProof: Buffer;
  private readonly okm: Buffer;

  constructor(shared: Buffer, secret: Buffer, th: Buffer) {
    this.okm = Buffer.from(hkdfSync('sha256', Buffer.concat([shared, secret]), th, KEYS_INFO, OKM_BYTES));
    const proofKeys = 2 * (AEAD_KEY_BYTES + AEAD_IV_BYTES);
    this.clientProof = createHmac('sha256', this.part(proofKeys, 32))
      .update(CLIENT_PROOF_LABEL)
      .update(th)
      .digest();
    this.serverProof = createHmac('sha256', this.part(proofKeys + 32, 32))
      .update(SERVER_PROOF_LABEL)
      .update(th)
      .digest();
  }

  /** The packet sealer of `role`'s sending direction. */
  sealer(role: 'client' | 'server', kind: AeadKind = aeadKind()): PacketSealer {
    const at = role === 'client' ? 0 : AEAD_KEY_BYTES + AEAD_IV_BYTES;
    return new PacketSealer(
      this.part(at, AEAD_KEY_BYTES),
      this.part(at + AEAD_KEY_BYTES, AEAD_IV_BYTES),
      kind,
    );
  }

  /** The packet opener of `role`'s receiving direction. */
  opener(role: 'client' | 'server', kind: AeadKind = aeadKind()): PacketOpener {
    const at = role === 'server' ? 0 : AEAD_KEY_BYTES + AEAD_IV_BYTES;
    return new PacketOpener(
      this.part(at, AEAD_KEY_BYTES),
      this.part(at + AEAD_KEY_BYTES, AEAD_IV_BYTES),
      kind,
    );
  }

  /** The TCP frame sealer of `role`'s writing direction (same keys as the packet sealer's). */
  frameSealer(role: 'client' | 'server', kind: AeadKind = aeadKind()): FrameSealer {
    const at = role === 'client' ? 0 : AEAD_KEY_BYTES + AEAD_IV_BYTES;
    return new FrameSealer(
      this.part(at, AEAD_KEY_BYTES),
      this.part(at + AEAD_KEY_BYTES, AEAD_IV_BYTES),
      kind,
    );
  }

  /** The TCP frame opener of `role`'s reading direction. */
  frameOpener(role: 'client' | 'server', kind: AeadKind = aeadKind()): FrameOpener {
    const at = role === 'server' ? 0 : AEAD_KEY_BYTES + AEAD_IV_BYTES;
    return new FrameOpener(
      this.part(at, AEAD_KEY_BYTES),
      this.part(at + AEAD_KEY_BYTES, AEAD_IV_BYTES),
      kind,
    );
  }

  /** `token` sealed by `from` for its peer (the reset token in CONFIRM or ACCEPT). */
  sealToken(from: 'client' | 'server', token: Buffer): Buffer {
    const cipher = createCipheriv(AEAD_ALGORITHM, this.handshakeKey(from), ZERO_IV, {
      authTagLength: AEAD_TAG_BYTES,
    });
    return Buffer.concat([cipher.update(token), cipher.final(), cipher.getAuthTag()]);
  }

  /** The token `from` sealed, or null when it does not open. */
  openToken(from: 'client' | 'server', sealed: Buffer): Buffer | null {
    if (sealed.length < AEAD_TAG_BYTES) return null;
    const decipher = createDecipheriv(AEAD_ALGORITHM, this.handshakeKey(from), ZERO_IV, {
      authTagLength: AEAD_TAG_BYTES,
    });
    decipher.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - AEAD_TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      return null;
    }
  }

  private handshakeKey(from: 'client' | 'server'): Buffer {
    const at = 2 * (AEAD_KEY_BYTES + AEAD_IV_BYTES) + 64 + (from === 'client' ? 0 : 32);
    return this.part(at, 32);
  }

  private part(at: number, bytes: number): Buffer {
    return this.okm.subarray(at, at + bytes);
  }
}

/** Constant-time equality of two byte strings of any length. */
export function bytesEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
