/**
 * A capturing UDP relay for tests that play an on-path observer or forger: a client talks to the
 * relay's address, the relay forwards to the server from its own socket (so the server sees the
 * relay's address as the client's) and back, keeping a copy of every datagram both ways. `inject`
 * sends a datagram to the server from that same address: a forgery "from the client's address".
 * Closed at teardown.
 */
import type { ExecutionContext } from 'ava';
import dgram from 'node:dgram';
import type { PeerAddress } from '../../src/index.js';

export interface Captured {
  /** 'up': client to server; 'down': server to client. */
  dir: 'up' | 'down';
  bytes: Buffer;
}

export interface UdpRelay {
  /** Where the client connects. */
  readonly address: PeerAddress;
  /** Every datagram relayed so far, in order. */
  readonly captured: Captured[];
  /** Sends `datagram` to the server from the relay (the client's address as the server sees it). */
  inject(datagram: Buffer): Promise<void>;
  /** Sends `datagram` to the client from the relay (the server's address as the client sees it). */
  injectDown(datagram: Buffer): Promise<void>;
  /** While set, datagrams for which it returns false are dropped instead of forwarded (still captured). */
  filter: ((c: Captured) => boolean) | null;
}

/** A relay on 127.0.0.1 in front of `server`. */
export async function udpRelay(t: ExecutionContext, server: PeerAddress): Promise<UdpRelay> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let client: PeerAddress | null = null;
  const relay: UdpRelay = {
    address: { host: '127.0.0.1', port: socket.address().port },
    captured: [],
    filter: null,
    inject: (d) => new Promise((resolve) => socket.send(d, server.port, server.host, () => resolve())),
    injectDown: (d) =>
      new Promise((resolve) => {
        if (!client) return resolve();
        socket.send(d, client.port, client.host, () => resolve());
      }),
  };
  socket.on('message', (msg, rinfo) => {
    const fromServer = rinfo.port === server.port && rinfo.address === server.host;
    const c: Captured = { dir: fromServer ? 'down' : 'up', bytes: Buffer.from(msg) };
    relay.captured.push(c);
    if (relay.filter && !relay.filter(c)) return;
    if (fromServer) {
      if (client) socket.send(msg, client.port, client.host);
      return;
    }
    client = { host: rinfo.address, port: rinfo.port };
    socket.send(msg, server.port, server.host);
  });
  return relay;
}
