/**
 * A plain UDP socket for tests that play a forger or a fuzzer against an endpoint: it sends datagrams
 * built with the packet codec (or none at all) and is closed at teardown.
 *
 * The one place the tests reach into the UDP wire format: what a test needs of the packet codec and
 * layout is re-exported here, so a move inside src changes this file only.
 */
import type { ExecutionContext } from 'ava';
import dgram from 'node:dgram';
import type { PeerAddress } from '../../src/index.js';

export { encodePacket, type PacketFields } from '../../src/wire/packet-codec.js';
export { PacketType } from '../../src/wire/packet-layout.js';
export { encodeHello } from '../../src/wire/control-bodies.js';

export interface RawUdp {
  readonly socket: dgram.Socket;
  /** Sends `datagram` to `to` and resolves once the socket has handed it to the kernel. */
  send(datagram: Buffer, to: PeerAddress): Promise<void>;
}

/** A UDP socket bound on 127.0.0.1, closed at teardown. */
export async function rawUdp(t: ExecutionContext, opts: { sendBufferSize?: number } = {}): Promise<RawUdp> {
  const socket = dgram.createSocket({ type: 'udp4', ...opts });
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    socket,
    send: (datagram, to) =>
      new Promise((resolve) => socket.send(datagram, to.port, to.host, () => resolve())),
  };
}

/**
 * Takes over a connected `js`-socket endpoint's socket so a test can send hand-made packets inside a
 * real session (a lying peer that holds a valid session); shared with the session fuzzer.
 */
export { hijackSession } from '../../bench/transport/session-fuzz.js';
