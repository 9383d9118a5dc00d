/**
 * Discovery datagrams: a client broadcasts a probe, every ferry server that hears it answers with
 * the port its transfer endpoint listens on. Plain UDP, outside any session (nothing secret is in
 * them: a server says only that it exists and whether it wants a secret).
 *
 * ```
 *  0        4        5        6        8                16
 *  +--------+--------+--------+--------+----------------+
 *  | 'FRYD' | version|  kind  | port   | nonce (8)      |   kind 1 = probe (port 0), 2 = answer
 *  +--------+--------+--------+--------+----------------+
 *  16       17       18
 *  +--------+--------+--------...
 *  | flags  | nameLen| name (UTF-8, answer only)          flags bit 0: needs a secret, bit 1: read-only
 *  +--------+--------+--------...
 * ```
 * The answer repeats the probe's nonce so a client ignores stray answers. An answer is never larger
 * than the probe it answers (the name is cut to fit), so a probe with a forged source cannot make a
 * server send more bytes than it received; `ferry discover` pads its probes (a name of
 * DISCOVERY_PROBE_PAD_BYTES zero bytes, ignored) so whole names fit.
 */
export const DISCOVERY_MAGIC = 0x44595246; // 'FRYD' as u32 LE
export const DISCOVERY_VERSION = 1;
export const DISCOVERY_PROBE = 1;
export const DISCOVERY_ANSWER = 2;
export const DISCOVERY_HEADER_BYTES = 18;
export const DISCOVERY_FLAG_SECRET = 1;
export const DISCOVERY_FLAG_READ_ONLY = 2;
/** Longest name a discovery datagram carries (its length is one byte). */
export const DISCOVERY_MAX_NAME_BYTES = 255;
/** Padding of a probe (as its name): room for an answer with the longest name. */
export const DISCOVERY_PROBE_PAD_BYTES = DISCOVERY_MAX_NAME_BYTES;

export interface DiscoveryDatagram {
  kind: typeof DISCOVERY_PROBE | typeof DISCOVERY_ANSWER;
  port: number;
  nonce: bigint;
  flags: number;
  name: string;
}

/**
 * Encodes a datagram of at most `maxBytes` (at least DISCOVERY_HEADER_BYTES): the name is cut, at a
 * character boundary, to what fits.
 */
export function encodeDiscovery(d: DiscoveryDatagram, maxBytes = Number.POSITIVE_INFINITY): Buffer {
  const full = Buffer.from(d.name.slice(0, 200), 'utf8');
  const room = Math.max(0, Math.min(DISCOVERY_MAX_NAME_BYTES, maxBytes - DISCOVERY_HEADER_BYTES));
  let nameBytes = Math.min(full.length, room);
  // never cut inside a UTF-8 sequence: back off over continuation bytes
  while (nameBytes > 0 && nameBytes < full.length && (full[nameBytes]! & 0xc0) === 0x80) nameBytes--;
  const name = full.subarray(0, nameBytes);
  const buf = Buffer.alloc(DISCOVERY_HEADER_BYTES + name.length);
  buf.writeUInt32LE(DISCOVERY_MAGIC, 0);
  buf[4] = DISCOVERY_VERSION;
  buf[5] = d.kind;
  buf.writeUInt16LE(d.port, 6);
  buf.writeBigUInt64LE(d.nonce, 8);
  buf[16] = d.flags;
  buf[17] = name.length;
  name.copy(buf, DISCOVERY_HEADER_BYTES);
  return buf;
}

/** A probe padded to DISCOVERY_HEADER_BYTES + DISCOVERY_PROBE_PAD_BYTES (its name: zero bytes). */
export function encodeProbe(nonce: bigint): Buffer {
  const buf = Buffer.alloc(DISCOVERY_HEADER_BYTES + DISCOVERY_PROBE_PAD_BYTES);
  encodeDiscovery({ kind: DISCOVERY_PROBE, port: 0, nonce, flags: 0, name: '' }).copy(buf);
  buf[17] = DISCOVERY_PROBE_PAD_BYTES;
  return buf;
}

/** Decodes a datagram; null for anything that is not a well-formed discovery datagram. */
export function decodeDiscovery(buf: Buffer): DiscoveryDatagram | null {
  if (buf.length < DISCOVERY_HEADER_BYTES) return null;
  if (buf.readUInt32LE(0) !== DISCOVERY_MAGIC || buf[4] !== DISCOVERY_VERSION) return null;
  const kind = buf[5];
  if (kind !== DISCOVERY_PROBE && kind !== DISCOVERY_ANSWER) return null;
  const nameLen = buf[17]!;
  if (buf.length !== DISCOVERY_HEADER_BYTES + nameLen) return null;
  return {
    kind,
    port: buf.readUInt16LE(6),
    nonce: buf.readBigUInt64LE(8),
    flags: buf[16]!,
    name: buf.toString('utf8', DISCOVERY_HEADER_BYTES),
  };
}
