/**
 * A hand-driven TCP transport client for tests: opens a plain socket to an endpoint, writes frames
 * built with the codec, and collects the frames it gets back, so tests can play a forger, a stale
 * incarnation or a restarted peer without going through TcpEndpoint.
 *
 * The one place the tests reach into the TCP transport's internals (frame codec and layout, the
 * handshake proof): what a test needs of them is re-exported here, so a move inside src/transport
 * changes this file only.
 */
import net from 'node:net';
import { randomNonce } from '../../src/transport/handshake-auth.js';
import {
  SessionKeys,
  transcriptHash,
  x25519Generate,
  x25519Shared,
} from '../../src/transport/crypto/key-schedule.js';
import {
  decodeChallengeBody,
  decodeCloseBody,
  encodeFrame,
  encodeHelloBody,
} from '../../src/transport/tcp/frame-codec.js';
import { FrameType, PROTOCOL_VERSION } from '../../src/transport/tcp/frame-layout.js';
import { FrameReader } from '../../src/transport/tcp/frame-reader.js';
import type { PeerAddress } from '../../src/index.js';

export { randomNonce } from '../../src/transport/handshake-auth.js';
export { encodeFrame, encodeHelloBody, writeFrameHeader } from '../../src/transport/tcp/frame-codec.js';
export {
  CloseReason,
  FRAME_HEADER_BYTES,
  FrameType,
  PROTOCOL_VERSION,
} from '../../src/transport/tcp/frame-layout.js';

export interface RawFrame {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

export class RawClient {
  readonly frames: RawFrame[] = [];
  closed = false;
  private readonly reader = new FrameReader(64 << 20, {
    onFrame: (f, body) => {
      this.frames.push({ type: f.type, flags: f.flags, seq: f.seq, body: Buffer.from(body) });
      return true;
    },
  });

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => void this.reader.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  static async open(to: PeerAddress): Promise<RawClient> {
    const socket = net.connect({ host: to.host, port: to.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Waits for a frame of `type` (or the close); bounded by `limitMs`. */
  async next(type: number, limitMs = 5000): Promise<RawFrame | null> {
    const started = Date.now();
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed || Date.now() - started > limitMs) return null;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async waitClosed(limitMs = 5000): Promise<boolean> {
    const started = Date.now();
    while (!this.closed && Date.now() - started < limitMs) await new Promise((r) => setTimeout(r, 5));
    return this.closed;
  }

  /** The reason byte of a CLOSE the endpoint sent, or -1. */
  async closeReason(): Promise<number> {
    const f = await this.next(FrameType.CLOSE);
    return f ? decodeCloseBody(f.body) : -1;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Runs the client half of the handshake as the peer listening on `listenPort` with `incarnation`;
   * `secret` null proves nothing, `forge` sends a random proof. Resolves with the frame that ended
   * it (ACCEPT, CLOSE) or null.
   */
  async handshake(opts: {
    listenPort: number;
    incarnation: number;
    secret: Buffer | null;
    forge?: boolean;
    connectionId?: bigint;
    /** The HELLO's encryption flag (default true); a raw client cannot seal, so its frames after
     * the handshake only make sense against an endpoint with encryption off. */
    encrypt?: boolean;
  }): Promise<RawFrame | null> {
    const nonce = randomNonce();
    const connectionId = opts.connectionId ?? 0x1234_5678_9abc_def0n;
    const pair = x25519Generate();
    const helloBody = encodeHelloBody({
      version: PROTOCOL_VERSION,
      listenPort: opts.listenPort,
      connectionId,
      incarnation: opts.incarnation,
      nonce,
      encrypt: opts.encrypt ?? true,
      publicKey: pair.publicKey,
    });
    this.write(encodeFrame(FrameType.HELLO, 0, 0, helloBody));
    const challenge = await this.next(FrameType.CHALLENGE, 2000);
    if (!challenge) return this.next(FrameType.CLOSE, 100);
    const c = decodeChallengeBody(challenge.body)!;
    const shared = x25519Shared(pair.privateKey, c.publicKey)!;
    const keys = new SessionKeys(
      shared,
      opts.secret ?? Buffer.alloc(0),
      transcriptHash(helloBody, challenge.body),
    );
    const proof = opts.forge ? Buffer.alloc(32, 0xab) : keys.clientProof;
    this.write(encodeFrame(FrameType.CONFIRM, 0, 0, proof));
    for (let i = 0; i < 400; i++) {
      const end = this.frames.find((f) => f.type === FrameType.ACCEPT || f.type === FrameType.CLOSE);
      if (end) return end;
      if (this.closed) return null;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return null;
  }
}
