import test from 'ava';
import { readTransportConfig } from '../../../src/transport/config.js';
import {
  largestDatagramBytes,
  withInterfacePacketBytes,
  type InterfaceList,
} from '../../../src/transport/udp/interface-mtu.js';

const IFACES: InterfaceList = {
  lo: [
    { address: '127.0.0.1', internal: true },
    { address: '::1', internal: true },
  ],
  eth0: [{ address: '10.0.0.5', internal: false }],
  jumbo0: [{ address: '10.9.0.5', internal: false }],
};
const MTUS: Record<string, number> = { lo: 65536, eth0: 1500, jumbo0: 9000 };
const readMtu = (name: string): number | null => MTUS[name] ?? null;

test('loopback carries the largest IPv4 UDP payload; IPv6 loopback its MTU less 48 header bytes', (t) => {
  t.is(largestDatagramBytes('127.0.0.1', 4, 1452, IFACES, readMtu), 65507);
  t.is(largestDatagramBytes('::1', 6, 1452, IFACES, readMtu), 65536 - 48);
});

test("an address's own interface sets the size: MTU less 28 (IPv4)", (t) => {
  t.is(largestDatagramBytes('10.0.0.5', 4, 1452, IFACES, readMtu), 1472);
  t.is(largestDatagramBytes('10.9.0.5', 4, 1452, IFACES, readMtu), 8972);
});

test('a wildcard bind takes the largest external interface, not loopback', (t) => {
  t.is(largestDatagramBytes('0.0.0.0', 4, 1452, IFACES, readMtu), 8972);
  t.is(largestDatagramBytes('0.0.0.0', 4, 1452, { lo: IFACES.lo }, readMtu), 65507);
});

test('an address no interface holds, or MTUs that cannot be read, keep the fallback', (t) => {
  t.is(largestDatagramBytes('10.1.1.1', 4, 1452, IFACES, readMtu), 1452);
  t.is(
    largestDatagramBytes('127.0.0.1', 4, 1452, IFACES, () => null),
    1452,
  );
});

test('a tiny MTU is never taken below the smallest packet the protocol allows', (t) => {
  t.is(
    largestDatagramBytes('10.0.0.5', 4, 1452, IFACES, () => 576),
    1200,
  );
});

test('packetBytes the user set is kept as given; unset, it follows the interface within the send pool', (t) => {
  const given = readTransportConfig('packetBytes=1452');
  t.is(withInterfacePacketBytes(given, 'packetBytes=1452', '127.0.0.1', 4).packetBytes, 1452);
  const givenObj = readTransportConfig({ packetBytes: 2000 });
  t.is(withInterfacePacketBytes(givenObj, { packetBytes: 2000 }, '127.0.0.1', 4).packetBytes, 2000);
  const small = readTransportConfig('sendPoolBytes=256KiB');
  const sized = withInterfacePacketBytes(small, 'sendPoolBytes=256KiB', '127.0.0.1', 4);
  t.true(sized.packetBytes * 16 <= 256 * 1024, `packetBytes ${sized.packetBytes} fits 16 in the pool`);
  t.true(Object.isFrozen(sized));
});
