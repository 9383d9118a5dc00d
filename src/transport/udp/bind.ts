/**
 * Opens and binds the UDP endpoint's socket, a node:dgram one or a native one (the choice is
 * endpoint.ts's): the family from the address, the socket buffers from the config; for dgram a name
 * lookup that answers at once (every address the endpoint sends to is a literal).
 */
import dgram from 'node:dgram';
import { FerryError } from '../../core/errors.js';
import type { TransportConfig } from '../config.js';
import { addressKey } from '../endpoint-shell.js';
import { NativeUdpSocket } from '../native/native-udp-socket.js';

/**
 * Every address this endpoint sends to is an IP literal (checked in connect and taken from rinfo), so
 * the socket's name lookup answers at once: the default (dns.lookup) costs a regular expression and
 * a nextTick per datagram sent.
 */
function literalLookup(
  host: string,
  family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, host, host.includes(':') ? 6 : 4);
}

/** A bound socket, or BIND_FAILED (the socket closed). */
export async function bindSocket(
  host: string,
  port: number,
  family: 4 | 6,
  config: TransportConfig,
): Promise<dgram.Socket> {
  const socket = dgram.createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    lookup: literalLookup,
    recvBufferSize: config.recvBufferBytes,
    sendBufferSize: config.sendBufferBytes,
    ipv6Only: family === 6,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close();
    throw new FerryError(
      'BIND_FAILED',
      `could not bind ${addressKey(host, port)}: ${(err as Error).message}`,
      {},
      err,
    );
  }
  return socket;
}

/**
 * A bound native socket (batched sendmmsg/recvmmsg, GSO, GRO), or BIND_FAILED. Don't-fragment is set
 * in probe mode: datagrams are never fragmented and the kernel's path-MTU cache is ignored, so the
 * session's path-MTU probes measure the path (a probe too big for the route is refused and lost, as
 * the prober expects).
 */
export function bindNativeSocket(
  host: string,
  port: number,
  family: 4 | 6,
  config: TransportConfig,
): NativeUdpSocket {
  try {
    return NativeUdpSocket.open({
      host,
      port,
      ipv6Only: family === 6,
      sendBufferBytes: config.sendBufferBytes,
      recvBufferBytes: config.recvBufferBytes,
      pmtud: 'probe',
      gro: true,
    });
  } catch (err) {
    if (err instanceof FerryError && err.code !== 'BIND_FAILED') throw err;
    throw new FerryError(
      'BIND_FAILED',
      `could not bind ${addressKey(host, port)}: ${(err as Error).message}`,
      {},
      err,
    );
  }
}
