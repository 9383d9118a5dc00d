/**
 * `HOST:PORT` parsing and the loopback test for the impairment proxy.
 *
 * Why here: `ferry impair` forwards datagrams, including to ports it does not own, so by default it
 * refuses anything but loopback on both sides (an impairment proxy on a real interface can disturb
 * other people's traffic); the check must be exact for IPv4 (127.0.0.0/8), IPv6 (::1) and IPv4-mapped
 * forms, which is src/core/address.ts (one check for every layer).
 */
import { isIP } from 'node:net';
import { isLoopbackHost } from '../../core/address.js';
import { FerryError } from '../../core/errors.js';

export interface HostPort {
  /** An IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  family: 'udp4' | 'udp6';
}

export { isLoopbackHost };

/**
 * Parses `127.0.0.1:9000`, `[::1]:9000` or `localhost:9000` (taken as 127.0.0.1). Host names other
 * than localhost are refused (give an IP address): the proxy must know which address it forwards to.
 * Port 0 is allowed only with `allowPortZero` (a listen address: the system picks a free port).
 */
export function parseHostPort(text: string, what: string, allowPortZero = false): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const bad = (why: string): never => {
    throw new FerryError('INVALID_ARGUMENT', `${what} "${text}": ${why}`, { value: text });
  };
  if (!m) return bad('use HOST:PORT, e.g. 127.0.0.1:9000 or [::1]:9000');
  let host = (m[1] ?? m[2])!;
  if (host.toLowerCase() === 'localhost') host = '127.0.0.1';
  const version = isIP(host);
  if (version === 0) return bad('HOST must be an IP address (or localhost)');
  if (m[2] !== undefined && version === 6) return bad('write an IPv6 address in brackets: [::1]:9000');
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !allowPortZero)) {
    return bad(`PORT must be from ${allowPortZero ? 0 : 1} to 65535`);
  }
  return { host, port, family: version === 4 ? 'udp4' : 'udp6' };
}

/** `host:port`, with brackets around IPv6. */
export function formatHostPort(a: { host: string; port: number }): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
