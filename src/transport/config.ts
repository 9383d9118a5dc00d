/**
 * Every setting of the UDP transport, declared once: timings, formats and resources, with defaults,
 * bounds and a line of doc each (docs/protocol.md renders the same table). Read with
 * `readTransportConfig(object | 'key=value,...')`; cross-field rules are checked here too, so an
 * Endpoint never starts with a combination that cannot work.
 */
import { readConfig, type ConfigOf, type Schema } from '../core/config.js';
import { FerryError } from '../core/errors.js';
import { LIMITS, MiB } from '../core/limits.js';

export const TRANSPORT_SCHEMA = {
  // --- format ---
  packetBytes: {
    kind: 'bytes',
    default: 1452,
    min: LIMITS.MIN_PACKET_BYTES,
    max: LIMITS.MAX_PACKET_BYTES,
    doc: 'largest datagram sent (UDP payload); unset, what the bound interface carries (65507 on loopback, its MTU less 28 on an interface, the largest external MTU on a wildcard bind; 1452 where the MTU cannot be read); a session uses at most the smaller of both sides, probing up to it (pmtuProbe)',
  },
  pmtuProbe: {
    kind: 'bool',
    default: true,
    doc: 'probe the path for the largest packet size that works, from pmtuStartBytes up to packetBytes; off: send packetBytes at once',
  },
  pmtuStartBytes: {
    kind: 'bytes',
    default: 1452,
    min: LIMITS.MIN_PACKET_BYTES,
    max: LIMITS.MAX_PACKET_BYTES,
    doc: 'packet size a session starts with before probing proves more (never above packetBytes)',
  },
  pmtuGranularityBytes: {
    kind: 'bytes',
    default: 32,
    min: 1,
    max: 65_536,
    doc: 'the path-MTU search stops when the largest possible size is within this of the largest proven one',
  },
  pmtuMaxProbes: {
    kind: 'int',
    default: 3,
    min: 1,
    max: 100,
    doc: 'a probe size lost this many times is taken as too big',
  },
  pmtuReprobeMs: {
    kind: 'ms',
    default: 60_000,
    min: 0,
    max: 86_400_000,
    doc: 'a finished path-MTU search starts again after this long, to find a path that grew (0: never)',
  },
  pmtuBlackHoleLosses: {
    kind: 'int',
    default: 3,
    min: 1,
    max: 1000,
    doc: 'packets bigger than 1200 bytes lost in a row that make the prober suspect a black hole: it then probes the current size (pmtuMaxProbes losses, then a base-size probe acked, drop the packet size to 1200)',
  },
  maxMessageBytes: {
    kind: 'bytes',
    default: 64 * MiB,
    min: 1,
    max: LIMITS.MAX_MESSAGE_BYTES,
    doc: 'largest message accepted for sending or reassembly (set the same on both sides)',
  },
  // --- timings ---
  handshakeTimeoutMs: {
    kind: 'ms',
    default: 5000,
    min: 10,
    max: 600_000,
    doc: 'connect gives up after this long',
  },
  heartbeatStartMs: {
    kind: 'ms',
    default: 1000,
    min: 1,
    max: 600_000,
    doc: 'a session that sent nothing for this long sends a heartbeat',
  },
  heartbeatIntervalMs: {
    kind: 'ms',
    default: 1000,
    min: 1,
    max: 600_000,
    doc: 'a session that heard nothing for this long probes with heartbeats 4 times per interval',
  },
  heartbeatTimeoutMs: {
    kind: 'ms',
    default: 3000,
    min: 1,
    max: 3_600_000,
    doc: 'a peer silent this long is declared dead (default: 3 heartbeat intervals)',
  },
  ackDelayMs: {
    kind: 'ms',
    default: 5,
    min: 0,
    max: 1000,
    doc: 'longest an acknowledgement is held back to batch it',
  },
  ackEveryPackets: {
    kind: 'int',
    default: 8,
    min: 1,
    max: 1024,
    doc: 'acknowledge at once after this many ack-eliciting packets (ack frequency)',
  },
  initialRtoMs: {
    kind: 'ms',
    default: 250,
    min: 1,
    max: 60_000,
    doc: 'retransmission timeout before any RTT sample',
  },
  minRtoMs: {
    kind: 'ms',
    default: 25,
    min: 1,
    max: 60_000,
    doc: 'lower bound of the retransmission timeout',
  },
  maxRtoMs: {
    kind: 'ms',
    default: 5000,
    min: 1,
    max: 600_000,
    doc: 'upper bound of the (backed-off) retransmission timeout',
  },
  maxRetransmits: {
    kind: 'int',
    default: 50,
    min: 1,
    max: 10_000,
    doc: 'sends of one fragment before the peer is declared dead',
  },
  messageTimeoutMs: {
    kind: 'ms',
    default: 0,
    min: 0,
    max: 86_400_000,
    doc: 'received/delivered promises of a message fail with MESSAGE_TIMEOUT after this long (0: never)',
  },
  tickMs: {
    kind: 'ms',
    default: 2,
    min: 1,
    max: 1000,
    doc: 'period of the endpoint timer while sessions are busy',
  },
  // --- resources ---
  maxQueuedMessages: {
    kind: 'int',
    default: 8192,
    min: 1,
    max: LIMITS.MAX_MESSAGE_WINDOW,
    doc: 'messages per peer between the oldest undelivered and the newest (trySend says BACK_PRESSURED beyond)',
  },
  maxQueuedBytes: {
    kind: 'bytes',
    default: 256 * MiB,
    min: 1,
    max: 64 * 1024 * MiB,
    doc: 'payload bytes per peer queued or in flight, not yet received',
  },
  maxQueuedPackets: {
    kind: 'int',
    default: 262_144,
    min: 1,
    max: 1 << 26,
    doc: 'fragments per peer queued or in flight, not yet received',
  },
  maxInFlightPackets: {
    kind: 'int',
    default: 8192,
    min: 4,
    max: LIMITS.MAX_IN_FLIGHT_PACKETS,
    doc: 'largest congestion window, in packets',
  },
  initialCwndPackets: {
    kind: 'int',
    default: 32,
    min: 2,
    max: LIMITS.MAX_IN_FLIGHT_PACKETS,
    doc: 'initial congestion window',
  },
  minCwndPackets: {
    kind: 'int',
    default: 8,
    min: 1,
    max: LIMITS.MAX_IN_FLIGHT_PACKETS,
    doc: 'smallest congestion window',
  },
  maxReassemblyBytes: {
    kind: 'bytes',
    default: 256 * MiB,
    min: 1,
    max: 64 * 1024 * MiB,
    doc: 'bytes per peer held for messages being reassembled or awaiting delivery (the receive window)',
  },
  maxReceiveMemoryBytes: {
    kind: 'bytes',
    default: 1024 * MiB,
    min: 1,
    max: 1024 * 1024 * MiB,
    doc: 'bytes held for received messages (being reassembled, waiting, or in their handlers) over all peers of the endpoint; past it fragments are refused until memory frees',
  },
  maxPeers: { kind: 'int', default: 1024, min: 1, max: LIMITS.MAX_PEERS, doc: 'sessions one endpoint holds' },
  sendBufferBytes: {
    kind: 'bytes',
    default: 8 * MiB,
    min: 64 * 1024,
    max: LIMITS.MAX_SOCKET_BUFFER_BYTES,
    doc: 'kernel socket send buffer asked for',
  },
  recvBufferBytes: {
    kind: 'bytes',
    default: 8 * MiB,
    min: 64 * 1024,
    max: LIMITS.MAX_SOCKET_BUFFER_BYTES,
    doc: 'kernel socket receive buffer asked for',
  },
  sendPoolBytes: {
    kind: 'bytes',
    default: 8 * MiB,
    min: 64 * 1024,
    max: 1024 * MiB,
    doc: 'packet buffers awaiting the kernel (send pool); sending pauses while it is empty',
  },
  nativeSend: {
    kind: 'bool',
    default: true,
    doc: "send through dgram's native UDP handle when Node exposes it (0.5 us less per datagram); false uses socket.send",
  },
} as const satisfies Schema;

export type TransportConfig = ConfigOf<typeof TRANSPORT_SCHEMA>;

/** Reads and checks a transport configuration (defaults for everything not given). */
export function readTransportConfig(
  input: Partial<Record<keyof TransportConfig, unknown>> | string | undefined,
): TransportConfig {
  const c = readConfig(TRANSPORT_SCHEMA, input, 'transport');
  const bad = (msg: string): never => {
    throw new FerryError('INVALID_CONFIG', `transport: ${msg}`);
  };
  if (c.minRtoMs > c.maxRtoMs) bad(`minRtoMs (${c.minRtoMs}) must not exceed maxRtoMs (${c.maxRtoMs})`);
  if (c.heartbeatTimeoutMs < c.heartbeatIntervalMs) {
    bad(
      `heartbeatTimeoutMs (${c.heartbeatTimeoutMs}) must be at least heartbeatIntervalMs (${c.heartbeatIntervalMs})`,
    );
  }
  if (c.minCwndPackets > c.maxInFlightPackets || c.initialCwndPackets > c.maxInFlightPackets) {
    bad('minCwndPackets and initialCwndPackets must not exceed maxInFlightPackets');
  }
  if (c.maxReassemblyBytes < c.maxMessageBytes) {
    bad(
      `maxReassemblyBytes (${c.maxReassemblyBytes}) must be at least maxMessageBytes (${c.maxMessageBytes})`,
    );
  }
  if (c.maxReceiveMemoryBytes < c.maxReassemblyBytes + c.maxMessageBytes) {
    bad(
      `maxReceiveMemoryBytes (${c.maxReceiveMemoryBytes}) must be at least maxReassemblyBytes + maxMessageBytes (${c.maxReassemblyBytes + c.maxMessageBytes}): one peer's budget plus its next FIFO message; raise maxReceiveMemoryBytes or lower the other two`,
    );
  }
  if (c.sendPoolBytes < c.packetBytes * 16) bad('sendPoolBytes must hold at least 16 packets of packetBytes');
  return c;
}
