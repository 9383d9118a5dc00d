/**
 * The cryptography of the handshake: connection ids, nonces, proofs of the shared secret, and reset
 * tokens (node:crypto, HMAC-SHA-256).
 *
 * Why challenge-response: each side proves it knows the secret by MACing both nonces and both
 * connection ids, so a recorded handshake cannot be replayed and neither side ever sends the secret.
 * A RESET carries a token that only a holder of the secret can compute for that connection id, so
 * nobody else can tear a session down. Without a secret (loopback, or insecure) the key is empty: the
 * same code runs, it just proves nothing.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const SERVER_LABEL = Buffer.from('ferry/1 server proof');
const CLIENT_LABEL = Buffer.from('ferry/1 client proof');
const RESET_LABEL = Buffer.from('ferry/1 reset');

export interface HandshakeTranscript {
  clientConnectionId: bigint;
  serverConnectionId: bigint;
  clientIncarnation: number;
  serverIncarnation: number;
  clientNonce: Buffer;
  serverNonce: Buffer;
}

/** What one side contributes to a handshake (in its HELLO or CHALLENGE). */
export interface HandshakeSide {
  connectionId: bigint;
  incarnation: number;
  nonce: Buffer;
}

function transcriptOf(client: HandshakeSide, server: HandshakeSide): HandshakeTranscript {
  return {
    clientConnectionId: client.connectionId,
    serverConnectionId: server.connectionId,
    clientIncarnation: client.incarnation,
    serverIncarnation: server.incarnation,
    clientNonce: client.nonce,
    serverNonce: server.nonce,
  };
}

/**
 * The handshake's three decisions, the same for both transports (each encodes them in its own
 * packets or frames): the server answers a HELLO with a CHALLENGE, the client checks the CHALLENGE
 * and answers with a CONFIRM, the server checks the CONFIRM.
 */
export class HandshakeAuth {
  private readonly key: Buffer;

  constructor(secret: Buffer | null) {
    this.key = secret ?? Buffer.alloc(0);
  }

  /** Server: the transcript to keep and the proof the CHALLENGE carries, for `client`'s HELLO. */
  challenge(
    client: HandshakeSide,
    server: HandshakeSide,
  ): { transcript: HandshakeTranscript; proof: Buffer } {
    const transcript = transcriptOf(client, server);
    return { transcript, proof: this.serverProof(transcript) };
  }

  /** Client: the proof the CONFIRM carries, or null when the CHALLENGE's proof is wrong (no shared secret). */
  confirm(client: HandshakeSide, server: HandshakeSide, serverProof: Buffer): Buffer | null {
    const transcript = transcriptOf(client, server);
    if (!HandshakeAuth.equal(serverProof, this.serverProof(transcript))) return null;
    return this.clientProof(transcript);
  }

  /** Server: the client's proof when the CONFIRM carries it (kept to recognise a repeat), else null. */
  verifyConfirm(transcript: HandshakeTranscript, proof: Buffer | null): Buffer | null {
    if (!proof) return null;
    const expected = this.clientProof(transcript);
    return HandshakeAuth.equal(proof, expected) ? expected : null;
  }

  serverProof(t: HandshakeTranscript): Buffer {
    return this.mac(SERVER_LABEL, t);
  }

  clientProof(t: HandshakeTranscript): Buffer {
    return this.mac(CLIENT_LABEL, t);
  }

  resetToken(connectionId: bigint): Buffer {
    const id = Buffer.alloc(8);
    id.writeBigUInt64BE(connectionId);
    return createHmac('sha256', this.key).update(RESET_LABEL).update(id).digest();
  }

  static equal(a: Buffer, b: Buffer): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private mac(label: Buffer, t: HandshakeTranscript): Buffer {
    const fixed = Buffer.alloc(32);
    fixed.writeBigUInt64BE(t.clientConnectionId, 0);
    fixed.writeBigUInt64BE(t.serverConnectionId, 8);
    fixed.writeBigUInt64BE(BigInt(t.clientIncarnation), 16);
    fixed.writeBigUInt64BE(BigInt(t.serverIncarnation), 24);
    return createHmac('sha256', this.key)
      .update(label)
      .update(fixed)
      .update(t.clientNonce)
      .update(t.serverNonce)
      .digest();
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
