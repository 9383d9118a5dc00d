/**
 * `Endpoint`: ferry's reliable messaging over one UDP socket, many peers (the MessageEndpoint contract
 * of types.ts).
 *
 * Why this shape: here are the endpoint's creation and both halves of the UDP handshake (HELLO,
 * CHALLENGE, CONFIRM, ACCEPT; the decisions themselves are handshake-auth.ts's, shared with TCP); the
 * socket, demultiplexing and flush loop are endpoint-base.ts's, the public API, the session table and
 * the timer the shell's (endpoint-shell.ts), and everything per peer lives in Session. Whatever does
 * not belong to an authenticated session is dropped and counted.
 *
 * ```ts
 * const server = await Endpoint.create({ port: 7000, secret: 's3cret' });
 * server.onMessage(async (m) => console.log(m.peer.id, m.payload.length));
 * const client = await Endpoint.create({ secret: 's3cret' });
 * const peer = await client.connect({ host: '127.0.0.1', port: 7000 });
 * await client.send(peer, Buffer.from('hello')).delivered;
 * await client.close(); await server.close();
 * ```
 */
import { FerryError } from '../../core/errors.js';
import { initChecksums } from '../../core/checksum.js';
import { systemClock, type Clock } from '../../core/clock.js';
import {
  decodeAccept,
  decodeChallenge,
  decodeConfirm,
  decodeHandshakeFields,
  decodeHello,
  decodeReject,
  encodeAccept,
  encodeChallenge,
  encodeConfirm,
  encodeHandshakeFields,
  encodeHello,
  encodeReject,
  RejectReason,
  type ConfirmBody,
  type HandshakeFields,
} from '../../wire/control-bodies.js';
import { connectionIdOf, encodePacket, PacketView } from '../../wire/packet-codec.js';
import { AEAD_TAG_BYTES, CHECKSUM_OFFSET, PacketType } from '../../wire/packet-layout.js';
import { readTransportConfig, type TransportConfig } from '../config.js';
import { addressKey, planBind } from '../endpoint-shell.js';
import {
  bytesEqual,
  SessionKeys,
  transcriptHash,
  x25519Generate,
  x25519Shared,
} from '../crypto/key-schedule.js';
import { HandshakeAuth, randomNonce } from '../handshake-auth.js';
import { SECRET_REFUSED, SERVER_PROOF_FAILED } from '../handshake-messages.js';
import { sealDatagram } from '../seal.js';
import { endpointImpairment } from '../impair/endpoint-impairment.js';
import { Impairment, type ImpairmentConfig } from '../impair/impairment.js';
import { nativeUdpStatus, selectSocketKind, type SocketKind } from '../native/addon.js';
import type { PeerAddress } from '../types.js';
import { bindNativeSocket, bindSocket } from './bind.js';
import { withInterfacePacketBytes } from './interface-mtu.js';
import { Session } from './session.js';

import { IDLE_TICK_MS, UdpEndpointBase, type BoundSocket, type DatagramSource } from './endpoint-base.js';
import { aeadKind } from '../crypto/native-aead.js';

/**
 * Whether `socket: 'auto'` picks the native socket when the addon loaded (false: dgram unless
 * FERRY_SOCKET asks for native). True since the native path passed every transport test.
 */
const AUTO_PREFERS_NATIVE = true;

export interface EndpointOptions {
  /** Address to bind: IPv4 or IPv6 literal. Default '127.0.0.1'. */
  host?: string;
  /** Port to bind; 0 (default) picks a free one. */
  port?: number;
  /** Pre-shared secret; both sides must have the same. Needed to bind a non-loopback address. */
  secret?: string | Buffer;
  /** Allows a non-loopback bind without a secret (anyone can then talk to this endpoint). */
  insecure?: boolean;
  /** Transport settings (config.ts), as an object or `key=value,...`. */
  config?: Partial<TransportConfig> | string;
  /** Time source; default the system clock. */
  clock?: Clock;
  /**
   * Impairment on the receive path; default from FERRY_IMPAIR; null switches it off. An Impairment
   * object is used as given (a test keeps it to change the path while running, e.g. `setMtu`); the
   * endpoint closes it when it closes.
   */
  impair?: string | Partial<ImpairmentConfig> | Impairment | null;
  /**
   * The UDP socket: `native` is the addon's batched socket (sendmmsg + GSO, recvmmsg + GRO; a
   * NOT_SUPPORTED error naming the reason when it cannot load), `js` node:dgram, `auto` (default)
   * FERRY_SOCKET when set, else native when the addon loaded. Shown in `stats().socket`.
   */
  socket?: 'auto' | SocketKind;
  /**
   * Seal every packet with an AEAD (default true; FERRY_NO_ENCRYPT=1 turns the default off, for
   * loopback benchmarks). false is refused on a non-loopback address; both sides must agree.
   */
  encrypt?: boolean;
}

/** The socket kind `option` asks for, resolved at start-up (see EndpointOptions.socket). */
export function chooseSocket(
  option: EndpointOptions['socket'] = 'auto',
  env: NodeJS.ProcessEnv = process.env,
): SocketKind {
  if (option === 'js') return 'js';
  if (option === 'native') {
    const status = nativeUdpStatus();
    if (!status.available)
      throw new FerryError(
        'NOT_SUPPORTED',
        `socket: 'native' but the native UDP addon is not available: ${status.reason ?? 'unknown'}; build it (node scripts/build-native.js) or use socket: 'js'`,
      );
    return 'native';
  }
  if (option !== 'auto')
    throw new FerryError(
      'INVALID_ARGUMENT',
      `socket must be 'auto', 'js' or 'native', got '${String(option)}'`,
    );
  if (!AUTO_PREFERS_NATIVE && !env.FERRY_SOCKET) return 'js';
  return selectSocketKind(env);
}

export class Endpoint extends UdpEndpointBase {
  private constructor(
    socket: BoundSocket,
    family: 4 | 6,
    config: TransportConfig,
    clock: Clock,
    secret: Buffer | null,
    impairment: Impairment | null,
    encrypt: boolean,
  ) {
    super(socket, family, config, clock, secret, impairment, encrypt);
  }

  /** Binds a socket and returns a ready endpoint. Throws INVALID_ARGUMENT, INVALID_CONFIG, INSECURE_BIND, BIND_FAILED. */
  static async create(options: EndpointOptions = {}): Promise<Endpoint> {
    const encryptDefault = process.env.FERRY_NO_ENCRYPT === '1' ? false : undefined;
    const { host, port, family, secret, encrypt } = planBind(
      { ...options, encrypt: options.encrypt ?? encryptDefault },
      'binding',
    );
    const config = withInterfacePacketBytes(
      readTransportConfig(options.config),
      options.config,
      host,
      family,
    );
    const kind = chooseSocket(options.socket);
    if (encrypt) aeadKind(); // chosen now: FERRY_REQUIRE_NATIVE=1 without the native AEAD fails here
    await initChecksums();
    const clock = options.clock ?? systemClock;
    const impairment = endpointImpairment(options.impair, host, clock);
    let socket: BoundSocket;
    try {
      socket =
        kind === 'native'
          ? { kind, socket: bindNativeSocket(host, port, family, config) }
          : { kind, socket: await bindSocket(host, port, family, config) };
    } catch (err) {
      impairment?.close();
      throw err;
    }
    return new Endpoint(socket, family, config, clock, secret, impairment, encrypt);
  }

  // ================================================================== the handshake, client start

  protected startClientSession(addr: PeerAddress, key: string): Session {
    const now = this.clock.nowMs();
    const session = new Session(this, this.link, key, addr, 'client', this.freshLocalId(), now);
    session.inbox.copyWholeMessages = this.bound.kind === 'native';
    const pair = x25519Generate();
    session.helloNonce = randomNonce();
    session.handshakePrivateKey = pair.privateKey;
    const fields = this.clientFields(session, pair.publicKey);
    session.helloFields = encodeHandshakeFields(fields);
    session.handshakePacket = encodePacket({
      type: PacketType.HELLO,
      connectionId: 0n,
      payload: encodeHello(fields),
    });
    this.addSession(session);
    session.handshakeIntervalMs = Math.min(this.config.initialRtoMs, 1000);
    session.handshakeNextSendMs = now + session.handshakeIntervalMs;
    this.sendControl(session, session.handshakePacket);
    this.ensureTimer(this.config.tickMs);
    return session;
  }

  private clientFields(session: Session, publicKey: Buffer): HandshakeFields {
    return {
      sourceConnectionId: session.localConnectionId,
      incarnation: this.incarnation,
      nonce: session.helloNonce!,
      maxPacketBytes: this.config.packetBytes,
      encrypt: this.encrypt,
      publicKey,
    };
  }

  // ------------------------------------------------------------------ handshake, server side

  /**
   * HELLO: answered with a CHALLENGE carrying the server's fields and a cookie, and nothing is kept
   * (the CONFIRM brings it all back). Never larger than the HELLO (padded to CHALLENGE_BYTES).
   */
  protected onHello(view: PacketView, rinfo: DatagramSource): void {
    const key = addressKey(rinfo.address, rinfo.port);
    if (this.blacklisted.has(key)) {
      this.dropped.blacklisted++;
      return;
    }
    const hello = decodeHello(view.payload());
    if (!hello) {
      this.dropped.malformed++;
      return;
    }
    const existing = this.sessionsByAddress.get(key);
    if (existing && existing.remoteIncarnation > hello.incarnation) {
      this.dropped.staleIncarnation++;
      return;
    }
    if (
      existing &&
      existing.role === 'client' &&
      existing.state === 'connecting' &&
      existing.localConnectionId < hello.sourceConnectionId
    ) {
      return; // both sides connect at once: the smaller connection id stays the client
    }
    const address = { host: rinfo.address, port: rinfo.port };
    if (hello.encrypt !== this.encrypt) {
      const reason = this.encrypt ? RejectReason.SERVER_ENCRYPTED : RejectReason.SERVER_UNENCRYPTED;
      this.sendReject(hello.sourceConnectionId, hello.nonce, reason, address);
      return;
    }
    if (this.sessionsByAddress.size >= this.config.maxPeers && !existing) {
      this.dropped.overLimit++;
      return;
    }
    const now = this.clock.nowMs();
    const bucket = HandshakeAuth.cookieBucket(now);
    const localId = this.freshLocalId();
    const nonce = randomNonce();
    const clientFields = encodeHandshakeFields(hello);
    const pair = this.auth.serverKeyPair(key, clientFields, nonce, localId, bucket, now)!;
    const server: HandshakeFields = {
      sourceConnectionId: localId,
      incarnation: this.incarnation,
      nonce,
      maxPacketBytes: this.config.packetBytes,
      encrypt: this.encrypt,
      publicKey: pair.publicKey,
    };
    const cookie = this.auth.cookie(key, clientFields, encodeHandshakeFields(server), bucket, now)!;
    const challenge = encodePacket({
      type: PacketType.CHALLENGE,
      connectionId: hello.sourceConnectionId,
      payload: encodeChallenge({ ...server, cookieBucket: bucket, cookie }),
    });
    this.link.sendRaw(challenge, address);
  }

  private sendReject(clientId: bigint, clientNonce: Buffer, reason: number, to: PeerAddress): void {
    const reject = encodePacket({
      type: PacketType.REJECT,
      connectionId: clientId,
      payload: encodeReject(clientNonce, reason),
    });
    this.link.sendRaw(reject, to);
  }

  /**
   * CONFIRM: the cookie (MAC and freshness) says the CHALLENGE was ours for this address; the keys
   * follow from it and the client's X25519 key; only a right client proof makes a session.
   */
  protected onConfirm(view: PacketView, rinfo: DatagramSource): void {
    const body = decodeConfirm(view.payload());
    const established = this.sessionFor(view, rinfo);
    if (established) {
      // a repeated CONFIRM: our ACCEPT was lost
      if (
        body &&
        established.expectedClientProof &&
        bytesEqual(body.proof, established.expectedClientProof) &&
        established.handshakePacket
      )
        this.sendControl(established, established.handshakePacket);
      else this.dropped.unauthenticated++;
      return;
    }
    const key = addressKey(rinfo.address, rinfo.port);
    if (!body || body.server.sourceConnectionId !== connectionIdOf(view)) {
      this.dropped.malformed++;
      return;
    }
    if (this.blacklisted.has(key)) {
      this.dropped.blacklisted++;
      return;
    }
    const keys = this.checkConfirm(body, key);
    if (!keys) {
      this.dropped.unauthenticated++;
      return;
    }
    const address = { host: rinfo.address, port: rinfo.port };
    if (!bytesEqual(body.proof, keys.clientProof)) {
      this.dropped.unauthenticated++;
      this.sendReject(body.client.sourceConnectionId, body.client.nonce, RejectReason.BAD_PROOF, address);
      return;
    }
    if (body.client.encrypt !== this.encrypt || body.server.incarnation !== this.incarnation) {
      this.dropped.unauthenticated++;
      return;
    }
    const clientToken = keys.openToken('client', body.sealedToken);
    if (!clientToken) {
      this.dropped.unauthenticated++;
      return;
    }
    this.acceptSession(body, keys, clientToken, address);
  }

  /** The session keys of a CONFIRM whose cookie holds, or null (forged, stale, another address's). */
  private checkConfirm(body: ConfirmBody, key: string): SessionKeys | null {
    const now = this.clock.nowMs();
    const bucket = body.server.cookieBucket;
    const clientFields = encodeHandshakeFields(body.client);
    const serverFields = encodeHandshakeFields(body.server);
    const cookie = this.auth.cookie(key, clientFields, serverFields, bucket, now);
    if (!cookie || !bytesEqual(cookie, body.server.cookie)) return null;
    const pair = this.auth.serverKeyPair(
      key,
      clientFields,
      body.server.nonce,
      body.server.sourceConnectionId,
      bucket,
      now,
    );
    if (!pair) return null;
    const shared = x25519Shared(pair.privateKey, body.client.publicKey);
    if (!shared) return null;
    return new SessionKeys(shared, this.auth.key, transcriptHash(clientFields, serverFields));
  }

  private acceptSession(body: ConfirmBody, keys: SessionKeys, peerToken: Buffer, address: PeerAddress): void {
    const key = addressKey(address.host, address.port);
    const now = this.clock.nowMs();
    const localId = body.server.sourceConnectionId;
    const low = Number(localId & 0xffff_ffffn);
    if (this.sessionsByLocalLow.has(low) || this.retired.has(low)) {
      this.dropped.unauthenticated++; // a connection id in use (or a CONFIRM of an ended session)
      return;
    }
    const old = this.sessionsByAddress.get(key);
    if (old && old.remoteIncarnation > body.client.incarnation) {
      this.dropped.staleIncarnation++;
      return;
    }
    if (!old && this.sessionsByAddress.size >= this.config.maxPeers) {
      this.dropped.overLimit++;
      return;
    }
    const { waiters, pinned } = this.takeOver(old);
    const session = new Session(this, this.link, key, address, 'server', localId, now);
    session.inbox.copyWholeMessages = this.bound.kind === 'native';
    session.pinned = pinned;
    if (this.encrypt) session.useKeys(keys);
    session.establish(
      body.client.sourceConnectionId,
      body.client.incarnation,
      body.client.maxPacketBytes,
      now,
    );
    session.expectedClientProof = keys.clientProof;
    session.resetToken = peerToken;
    session.handshakePacket = this.acceptPacket(session, keys, key);
    session.connectWaiters.push(...waiters);
    this.addSession(session);
    this.sendControl(session, session.handshakePacket);
    session.setConnected();
    this.ensureTimer(IDLE_TICK_MS);
  }

  /** The ACCEPT: the server's proof and the client's reset token, sealed (packet number 0). */
  private acceptPacket(session: Session, keys: SessionKeys, clientAddress: string): Buffer {
    const token = this.auth.resetToken(session.localConnectionId, clientAddress);
    const body = encodeAccept({ proof: keys.serverProof, sealedToken: keys.sealToken('server', token) });
    return this.sealedControl(session, PacketType.ACCEPT, body);
  }

  /** A control packet of `session` with packet number 0 (never a data packet's), sealed if it seals. */
  private sealedControl(session: Session, type: number, body: Buffer): Buffer {
    const plain = encodePacket({ type, connectionId: session.remoteConnectionId, payload: body });
    if (!session.sealer) return plain;
    const buf = Buffer.alloc(plain.length + AEAD_TAG_BYTES);
    plain.copy(buf);
    buf.writeUInt32BE(0, CHECKSUM_OFFSET);
    const length = sealDatagram(buf, plain.length, undefined, 0, session.sealer);
    return buf.subarray(0, length);
  }

  // ------------------------------------------------------------------ handshake, client side

  protected onChallenge(view: PacketView, rinfo: DatagramSource): void {
    const session = this.sessionFor(view, rinfo);
    const body = decodeChallenge(view.payload());
    if (!session || session.role !== 'client' || session.state !== 'connecting' || !body) {
      this.dropped.unknownSession++;
      return;
    }
    if (session.remoteConnectionId !== 0n) {
      if (session.remoteConnectionId === body.sourceConnectionId && session.handshakePacket) {
        this.sendControl(session, session.handshakePacket); // CONFIRM lost or CHALLENGE repeated
      }
      return;
    }
    if (body.encrypt !== this.encrypt) {
      this.dropped.unauthenticated++;
      return; // the server answers a mismatch with REJECT, never a CHALLENGE: not the server
    }
    const priv = session.handshakePrivateKey!;
    const clientFields = session.helloFields!;
    const shared = x25519Shared(priv, body.publicKey);
    if (!shared) {
      this.dropped.unauthenticated++;
      return;
    }
    const keys = new SessionKeys(
      shared,
      this.auth.key,
      transcriptHash(clientFields, encodeHandshakeFields(body)),
    );
    session.handshakePrivateKey = null;
    session.helloFields = null;
    session.handshakeKeys = keys;
    if (this.encrypt) session.useKeys(keys);
    const now = this.clock.nowMs();
    session.establish(
      body.sourceConnectionId,
      body.incarnation,
      body.maxPacketBytes,
      now,
      now - session.handshakeStartedMs,
    );
    const token = this.auth.resetToken(session.localConnectionId, addressKey(rinfo.address, rinfo.port));
    session.handshakePacket = encodePacket({
      type: PacketType.CONFIRM,
      connectionId: body.sourceConnectionId,
      payload: encodeConfirm({
        client: decodeHandshakeFields(clientFields),
        server: body,
        proof: keys.clientProof,
        sealedToken: keys.sealToken('client', token),
      }),
    });
    session.handshakeIntervalMs = Math.min(this.config.initialRtoMs, 1000);
    session.handshakeNextSendMs = now + session.handshakeIntervalMs;
    this.sendControl(session, session.handshakePacket);
  }

  /** ACCEPT (opened under the session's keys when it seals): the server's proof and our reset token. */
  protected onAccept(view: PacketView, session: Session): void {
    const keys = session.handshakeKeys;
    if (session.role !== 'client' || session.state !== 'connecting' || !keys) {
      if (session.role !== 'client' || session.remoteConnectionId === 0n) this.dropped.unknownSession++;
      return; // a repeated ACCEPT
    }
    const body = decodeAccept(view.payload());
    if (!body || !bytesEqual(body.proof, keys.serverProof)) {
      this.dropped.unauthenticated++;
      session.end('closed', 'AUTH_FAILED', SERVER_PROOF_FAILED);
      return;
    }
    session.resetToken = keys.openToken('server', body.sealedToken);
    session.handshakeKeys = null;
    session.handshakePacket = null;
    session.setConnected();
  }

  /** An ACCEPT that did not open: whoever answered our CONFIRM does not have the handshake's keys. */
  protected onForgedAccept(session: Session): void {
    if (session.role !== 'client' || session.state !== 'connecting' || !session.handshakeKeys) return;
    session.end('closed', 'AUTH_FAILED', SERVER_PROOF_FAILED);
  }

  /** REJECT: the server refused our proof (the secret) or our encryption setting. */
  protected onReject(view: PacketView, rinfo: DatagramSource): void {
    const session = this.sessionFor(view, rinfo);
    const body = decodeReject(view.payload());
    if (
      !session ||
      !body ||
      session.role !== 'client' ||
      session.state !== 'connecting' ||
      !session.helloNonce ||
      !bytesEqual(body.clientNonce, session.helloNonce)
    ) {
      this.dropped.unknownSession++;
      return;
    }
    if (body.reason === RejectReason.BAD_PROOF) return session.end('closed', 'AUTH_FAILED', SECRET_REFUSED);
    const message =
      body.reason === RejectReason.SERVER_ENCRYPTED
        ? 'the server requires encryption and this side has it off: drop --no-encrypt on this side'
        : 'the server has encryption off (--no-encrypt) and this side has it on: pass --no-encrypt here too, or drop it on the server';
    session.end('closed', 'ENCRYPT_MISMATCH', message);
  }
}
