/**
 * Transport statistics: the zero values, sums over peers, and the text form.
 *
 * Message counters per peer: `messagesQueued`/`messagesInFlight`/`messagesFailed` count messages this
 * side SENDS to the peer (queued = not a byte sent yet, in flight = sent but not yet delivered);
 * `messagesReceived`/`messagesDelivered` count messages this side RECEIVED from the peer (complete,
 * and handed to the handler and finished).
 */
import type { EndpointStats, PeerStats } from './types.js';

export function zeroPeerStats(): PeerStats {
  return {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    payloadBytesSent: 0,
    payloadBytesReceived: 0,
    retransmits: 0,
    fastRetransmits: 0,
    timeouts: 0,
    duplicates: 0,
    rttMs: 0,
    rttVarMs: 0,
    rtoMs: 0,
    cwndPackets: 0,
    inFlightPackets: 0,
    messagesQueued: 0,
    messagesInFlight: 0,
    messagesReceived: 0,
    messagesDelivered: 0,
    messagesFailed: 0,
    bytesCopied: 0,
    packetBytes: 0,
    pmtuProbesSent: 0,
    pmtuProbesAcked: 0,
    pmtuProbesLost: 0,
    pmtuBlackHoles: 0,
  };
}

const GAUGES = new Set<keyof PeerStats>(['rttMs', 'rttVarMs', 'rtoMs', 'packetBytes']);

/** Sums counters; RTT figures become the mean over the peers given. */
export function sumPeerStats(all: readonly PeerStats[]): PeerStats {
  const total = zeroPeerStats();
  for (const s of all) {
    for (const key of Object.keys(total) as (keyof PeerStats)[])
      total[key] = (total[key] ?? 0) + (s[key] ?? 0);
  }
  if (all.length > 0) for (const key of GAUGES) total[key] /= all.length;
  return total;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** Multi-line text: the endpoint line, drops, totals, then one block per peer. */
export function formatEndpointStats(
  address: string,
  stats: EndpointStats,
  peers: readonly { id: string; state: string; stats: PeerStats }[],
): string {
  const lines: string[] = [];
  lines.push(
    `endpoint ${address}: ${stats.peers} peers, ${stats.packetsSent} packets / ${stats.bytesSent} bytes sent, ` +
      `${stats.packetsReceived} packets / ${stats.bytesReceived} bytes received`,
  );
  const drops = Object.entries(stats.dropped)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  lines.push(`  dropped: ${drops.length > 0 ? drops.join(', ') : 'none'}`);
  const io = stats.socket;
  if (io)
    lines.push(
      `  socket: ${io.kind}, gso ${io.gso ? 'on' : 'off'}, gro ${io.gro ? 'on' : 'off'}, ` +
        `${io.sendSyscalls} send calls (${fmt(io.datagramsPerSend)} datagrams each), ` +
        `${io.receiveSyscalls} receive calls (${fmt(io.datagramsPerReceive)} datagrams each)` +
        (io.droppedQueueFull > 0 ? `, ${io.droppedQueueFull} dropped on a full queue` : '') +
        (io.sendErrors > 0 ? `, ${io.sendErrors} send errors` : '') +
        (stats.aead ? `, aead ${stats.aead}` : ''),
    );
  const imp = stats.impairment;
  if (imp)
    lines.push(
      `  IMPAIRED (${imp.source}, seed ${imp.seed}): ${imp.datagramsIn} datagrams in, ${imp.datagramsDelivered} delivered, ` +
        `${imp.droppedLoss + imp.droppedBurst} lost, ${imp.corrupted} corrupted, ${imp.duplicated} duplicated`,
    );
  const mem = stats.receiveMemory;
  if (mem)
    lines.push(
      `  receive memory: ${mem.usedBytes} of ${mem.capBytes} bytes (peak ${mem.peakBytes}), ` +
        `${mem.refusals} refused at the cap, ${mem.allocationFailures} allocation failures`,
    );
  lines.push(`  totals: ${peerLine(stats.totals)}`);
  for (const p of peers) lines.push(`  peer ${p.id} (${p.state}): ${peerLine(p.stats)}`);
  return lines.join('\n');
}

function peerLine(s: PeerStats): string {
  return Object.entries(s)
    .map(([k, v]) => `${k} ${fmt(v as number)}`)
    .join(', ');
}
