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
import { LIMITS } from '../../core/limits.js';
import {
  decodeChallenge,
  decodeHello,
  decodeProof,
  encodeChallenge,
  encodeHello,
  type HelloBody,
} from '../../wire/control-bodies.js';
import { encodePacket, PacketView } from '../../wire/packet-codec.js';
import { PacketType } from '../../wire/packet-layout.js';
import { readTransportConfig, type TransportConfig } from '../config.js';
import { addressKey, planBind } from '../endpoint-shell.js';
import { HandshakeAuth, randomNonce } from '../handshake-auth.js';
import { endpointImpairment } from '../impair/endpoint-impairment.js';
import { Impairment, type ImpairmentConfig } from '../impair/impairment.js';
import { nativeUdpStatus, selectSocketKind, type SocketKind } from '../native/addon.js';
import type { PeerAddress } from '../types.js';
import { bindNativeSocket, bindSocket } from './bind.js';
import { withInterfacePacketBytes } from './interface-mtu.js';
import { Session } from './session.js';

import {
  IDLE_TICK_MS,
  UdpEndpointBase,
  type BoundSocket,
  type DatagramSource,
  type PendingHandshake,
} from './endpoint-base.js';

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
  ) {
    super(socket, family, config, clock, secret, impairment);
  }

  /** Binds a socket and returns a ready endpoint. Throws INVALID_ARGUMENT, INVALID_CONFIG, INSECURE_BIND, BIND_FAILED. */
  static async create(options: EndpointOptions = {}): Promise<Endpoint> {
    const { host, port, family, secret } = planBind(options, 'binding');
    const config = withInterfacePacketBytes(
      readTransportConfig(options.config),
      options.config,
      host,
      family,
    );
    const kind = chooseSocket(options.socket);
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
    return new Endpoint(socket, family, config, clock, secret, impairment);
  }

  // ================================================================== the handshake, client start

  protected startClientSession(addr: PeerAddress, key: string): Session {
    const now = this.clock.nowMs();
    const session = new Session(this, this.link, key, addr, 'client', this.freshLocalId(), now);
    session.inbox.copyWholeMessages = this.bound.kind === 'native';
    const nonce = randomNonce();
    session.handshakePacket = encodePacket({
      type: PacketType.HELLO,
      connectionId: 0n,
      payload: encodeHello({
        sourceConnectionId: session.localConnectionId,
        incarnation: this.incarnation,
        nonce,
        maxPacketBytes: this.config.packetBytes,
      }),
    });
    this.clientNonces.set(session, nonce);
    this.addSession(session);
    session.handshakeIntervalMs = Math.min(this.config.initialRtoMs, 1000);
    session.handshakeNextSendMs = now + session.handshakeIntervalMs;
    this.sendControl(session, session.handshakePacket);
    this.ensureTimer(this.config.tickMs);
    return session;
  }

  // ------------------------------------------------------------------ handshake, server side

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
    for (const p of this.pendingByLocalLow.values()) {
      if (
        p.hello.sourceConnectionId === hello.sourceConnectionId &&
        p.address.port === rinfo.port &&
        p.address.host === rinfo.address
      ) {
        this.link.sendRaw(p.challenge, p.address); // a repeated HELLO: the CHALLENGE was lost
        return;
      }
    }
    if (
      this.pendingByLocalLow.size >= LIMITS.MAX_PENDING_HANDSHAKES ||
      this.sessionsByAddress.size >= this.config.maxPeers
    ) {
      this.dropped.overLimit++;
      return;
    }
    this.answerHello(hello, { host: rinfo.address, port: rinfo.port });
  }

  private answerHello(hello: HelloBody, address: PeerAddress): void {
    const localId = this.freshLocalId();
    const nonce = randomNonce();
    const { transcript, proof } = this.auth.challenge(
      { connectionId: hello.sourceConnectionId, incarnation: hello.incarnation, nonce: hello.nonce },
      { connectionId: localId, incarnation: this.incarnation, nonce },
    );
    const challenge = encodePacket({
      type: PacketType.CHALLENGE,
      connectionId: hello.sourceConnectionId,
      payload: encodeChallenge({
        sourceConnectionId: localId,
        incarnation: this.incarnation,
        nonce,
        maxPacketBytes: this.config.packetBytes,
        proof,
      }),
    });
    const pending: PendingHandshake = {
      localId,
      address,
      hello,
      transcript,
      challenge,
      createdMs: this.clock.nowMs(),
    };
    this.pendingByLocalLow.set(Number(localId & 0xffff_ffffn), pending);
    this.link.sendRaw(challenge, address);
    this.ensureTimer(IDLE_TICK_MS);
  }

  protected onConfirm(view: PacketView, rinfo: DatagramSource): void {
    const proof = decodeProof(view.payload());
    const established = this.sessionFor(view, rinfo);
    if (established) {
      // a repeated CONFIRM: our ACCEPT was lost
      if (
        proof &&
        established.expectedClientProof &&
        HandshakeAuth.equal(proof, established.expectedClientProof)
      ) {
        if (established.handshakePacket) this.sendControl(established, established.handshakePacket);
      }
      return;
    }
    const pending = this.pendingByLocalLow.get(view.connectionIdLow);
    const sameAddress =
      pending && pending.address.port === rinfo.port && pending.address.host === rinfo.address;
    if (!pending || !sameAddress || Number(pending.localId >> 32n) !== view.connectionIdHigh) {
      this.dropped.unauthenticated++;
      return;
    }
    const expected = this.auth.verifyConfirm(pending.transcript, proof);
    if (!expected) {
      this.dropped.unauthenticated++;
      return;
    }
    this.pendingByLocalLow.delete(view.connectionIdLow);
    this.acceptSession(pending, expected);
  }

  private acceptSession(pending: PendingHandshake, clientProof: Buffer): void {
    const key = addressKey(pending.address.host, pending.address.port);
    const now = this.clock.nowMs();
    const old = this.sessionsByAddress.get(key);
    if (old && old.remoteIncarnation > pending.hello.incarnation) {
      this.dropped.staleIncarnation++;
      return;
    }
    const { waiters, pinned } = this.takeOver(old);
    const session = new Session(this, this.link, key, pending.address, 'server', pending.localId, now);
    session.inbox.copyWholeMessages = this.bound.kind === 'native';
    session.pinned = pinned;
    session.establish(
      pending.hello.sourceConnectionId,
      pending.hello.incarnation,
      pending.hello.maxPacketBytes,
      now,
      now - pending.createdMs,
    );
    session.expectedClientProof = clientProof;
    session.handshakePacket = encodePacket({
      type: PacketType.ACCEPT,
      connectionId: pending.hello.sourceConnectionId,
    });
    session.connectWaiters.push(...waiters);
    this.addSession(session);
    this.sendControl(session, session.handshakePacket);
    session.setConnected();
    this.ensureTimer(IDLE_TICK_MS);
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
    const nonce = this.clientNonces.get(session)!;
    const confirmProof = this.auth.confirm(
      { connectionId: session.localConnectionId, incarnation: this.incarnation, nonce },
      { connectionId: body.sourceConnectionId, incarnation: body.incarnation, nonce: body.nonce },
      body.proof,
    );
    if (!confirmProof) {
      this.dropped.unauthenticated++;
      session.end('closed', 'AUTH_FAILED');
      return;
    }
    const now = this.clock.nowMs();
    session.establish(
      body.sourceConnectionId,
      body.incarnation,
      body.maxPacketBytes,
      now,
      now - session.handshakeStartedMs,
    );
    session.handshakePacket = encodePacket({
      type: PacketType.CONFIRM,
      connectionId: body.sourceConnectionId,
      payload: confirmProof,
    });
    session.handshakeIntervalMs = Math.min(this.config.initialRtoMs, 1000);
    session.handshakeNextSendMs = now + session.handshakeIntervalMs;
    this.sendControl(session, session.handshakePacket);
  }

  protected onAccept(view: PacketView, rinfo: DatagramSource): void {
    const session = this.sessionFor(view, rinfo);
    if (!session || session.role !== 'client' || session.remoteConnectionId === 0n) {
      this.dropped.unknownSession++;
      return;
    }
    session.handshakePacket = null;
    session.setConnected();
  }
}
