/**
 * Is an address loopback? One exact answer for every layer that refuses to expose itself beyond this
 * machine without a secret or `--insecure` (the UDP and TCP endpoints, the impairment proxy, the NBD
 * server, discovery defaults). Node's BlockList does the matching, so IPv4 127.0.0.0/8, IPv6 ::1 in
 * any spelling and IPv4-mapped ::ffff:127.x.y.z all count, and string-prefix slips cannot happen.
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for IP literals in 127.0.0.0/8, ::1 and ::ffff:127.x.y.z; false for names and anything else. */
export function isLoopbackHost(host: string): boolean {
  const v = isIP(host);
  if (v === 0) return false;
  return LOOPBACK.check(host, v === 4 ? 'ipv4' : 'ipv6');
}
