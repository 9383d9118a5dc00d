/**
 * Per-frame AEAD of a TCP session (AES-256-GCM, the keys of crypto/key-schedule.ts): one
 * `FrameSealer` for what a side writes, one `FrameOpener` for what it reads.
 *
 * Why a counter for a nonce: a TCP stream delivers frames once and in order, so both sides count
 * them; the nonce is the direction's IV base XOR the frame's number in the stream (from 0, the
 * server's ACCEPT or the client's first frame after CONFIRM). A frame dropped, repeated or moved by
 * anyone on the path fails its tag, and the connection is closed. The 16-byte frame header is the
 * associated data (its length counts the tag); the body is encrypted and the tag follows it.
 * Runs on the native AEAD context when it loaded (native-aead.ts), node:crypto otherwise.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { AEAD_TAG_BYTES } from '../../wire/packet-layout.js';
import { LENGTH_OFFSET } from '../tcp/frame-layout.js';
import { aeadKind, type AeadKind } from './native-aead.js';
import { AEAD_ALGORITHM, DirectionKey } from './packet-aead.js';

/** A direction of a TCP stream: the nonce of a frame is built from its number in the stream. */
class FrameKey extends DirectionKey {
  /** Frames sealed (or opened) so far in this direction: the next frame's number. */
  protected count = 0;

  protected nextNonce(): Buffer {
    return this.nonceFor(this.count++);
  }
}

export class FrameSealer extends FrameKey {
  constructor(key: Buffer, ivBase: Buffer, kind: AeadKind = aeadKind()) {
    super(key, ivBase, true, kind);
  }

  /**
   * Seals a DATA frame written in pieces: `header` (its length already counting the tag) is written
   * as is, then each piece's ciphertext, then the tag, each through `write` (in this order).
   */
  sealPieces(header: Buffer, pieces: readonly Uint8Array[], write: (b: Buffer) => void): void {
    if (this.native) {
      let bytes = AEAD_TAG_BYTES;
      for (const piece of pieces) bytes += piece.length;
      const out = Buffer.allocUnsafe(bytes);
      this.native.sealTo(header, out, pieces, pieces.length, this.count++);
      write(header);
      write(out);
      return;
    }
    const cipher = createCipheriv(AEAD_ALGORITHM, this.key, this.nextNonce(), {
      authTagLength: AEAD_TAG_BYTES,
    });
    cipher.setAAD(header);
    write(header);
    for (const piece of pieces) if (piece.length > 0) write(cipher.update(piece));
    cipher.final();
    write(cipher.getAuthTag());
  }

  /** A whole control frame (header + body) sealed into a new buffer, its length field grown by the tag. */
  sealFrame(frame: Buffer, headerBytes: number): Buffer {
    const out = Buffer.allocUnsafe(frame.length + AEAD_TAG_BYTES);
    frame.copy(out, 0, 0, headerBytes);
    out.writeUInt32BE(frame.length - headerBytes + AEAD_TAG_BYTES, LENGTH_OFFSET);
    if (this.native) {
      frame.copy(out, headerBytes, headerBytes);
      this.native.seal(out, headerBytes, frame.length, undefined, 0, this.count++);
      return out;
    }
    const cipher = createCipheriv(AEAD_ALGORITHM, this.key, this.nextNonce(), {
      authTagLength: AEAD_TAG_BYTES,
    });
    cipher.setAAD(out.subarray(0, headerBytes));
    let at = headerBytes;
    if (frame.length > headerBytes) at += cipher.update(frame.subarray(headerBytes)).copy(out, at);
    cipher.final();
    cipher.getAuthTag().copy(out, at);
    return out;
  }
}

export class FrameOpener extends FrameKey {
  constructor(key: Buffer, ivBase: Buffer, kind: AeadKind = aeadKind()) {
    super(key, ivBase, false, kind);
  }

  /**
   * The plaintext of a frame (`header` as read, `body` = ciphertext + tag), or null when forged. The
   * native path decrypts in place and returns the front of `body` (untouched when forged).
   */
  open(header: Buffer, body: Buffer): Buffer | null {
    if (body.length < AEAD_TAG_BYTES) return null;
    const end = body.length - AEAD_TAG_BYTES;
    if (this.native) return this.native.openIn(header, body, this.count++) ? body.subarray(0, end) : null;
    const decipher = createDecipheriv(AEAD_ALGORITHM, this.key, this.nextNonce(), {
      authTagLength: AEAD_TAG_BYTES,
    });
    decipher.setAAD(header);
    decipher.setAuthTag(body.subarray(end));
    const plain = end > 0 ? decipher.update(body.subarray(0, end)) : Buffer.alloc(0);
    try {
      decipher.final();
    } catch {
      return null;
    }
    return plain;
  }
}
