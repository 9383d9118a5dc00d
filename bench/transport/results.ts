/**
 * Turns the reports of one run's processes into its figures: the JSON row documented in
 * docs/benchmarks.md (`runs[]`). Rates are taken over the receiver's window, from the common start
 * to the last message delivered, so a transport that queues data and delivers it late is not
 * credited with the speed at which it accepted it.
 */
import { LatencyHistogram, type LatencySummary } from '../lib/latency.js';
import type { ImplName, RetransmitCounters } from './links/link.js';
import type { NodeReport, NodeRole } from './protocol.js';
import type { RunOutcome } from './run.js';
import type { Scenario, WorkloadName } from './scenario.js';

export type RunStatus = 'ok' | 'failed' | 'skipped' | 'aborted';

export interface ProcessFigures {
  node: number;
  pid: number;
  role: NodeRole;
  cpu_user_s: number;
  cpu_sys_s: number;
  cpu_s: number;
  peak_rss_bytes: number;
}

/** Retransmissions summed over the nodes; null fields: the transport does not count them. */
export interface RetransmitFigures {
  packets: number;
  fast: number | null;
  timeouts: number | null;
  messages_affected: number | null;
  max_retries_of_one_packet: number | null;
}

export interface RunResult {
  workload: WorkloadName;
  impl: ImplName;
  variant: string;
  size_bytes: number;
  packet_size_bytes: number;
  duration_s: number;
  nodes: number;
  status: RunStatus;
  /** Why the run failed or was skipped; null when ok. */
  reason: string | null;
  offered_rate_msgs_per_s: number | null;
  loss: { probability: number; delay_ms: number } | null;
  /** Fixed-amount one-way runs (`--bytes`): the payload bytes asked for, else null. */
  stream_bytes: number | null;
  /** From the common start to the last message delivered on any node. */
  elapsed_s: number;
  messages_sent: number;
  messages_received: number;
  payload_bytes_sent: number;
  payload_bytes_received: number;
  packets_sent: number | null;
  packets_received: number | null;
  wire_bytes_sent: number | null;
  wire_bytes_received: number | null;
  msgs_per_s: number;
  payload_bytes_per_s: number;
  packets_per_s: number | null;
  wire_bytes_per_s: number | null;
  /** Request-response runs: responses received by the client, and their rate. */
  round_trips: number | null;
  round_trips_per_s: number | null;
  rr_timeouts: number;
  latency: { delivery: LatencySummary; round_trip: LatencySummary | null };
  /** n-to-1 and n-to-n: messages received from each sender, and the smallest share over the largest. */
  /**
   * n1/nn: messages received from each sender while every sender was sending (within the duration),
   * the same over the whole run including the drain, and the smallest over the largest of the first.
   */
  per_sender: { messages: number[]; messages_all: number[]; min_over_max: number } | null;
  retransmits: RetransmitFigures | null;
  processes: ProcessFigures[];
  /** Transport-specific counters, summed over the nodes (ferry's stats, udx's stream counters). */
  extra: Record<string, number>;
}

export function skippedRun(s: Scenario, status: RunStatus, reason: string): RunResult {
  return toResult(s, { reports: [], error: reason, aborted: status === 'aborted' }, status);
}

export function toResult(s: Scenario, out: RunOutcome, forced?: RunStatus): RunResult {
  const reports = out.reports;
  const status: RunStatus = forced ?? (out.error !== null ? 'failed' : out.aborted ? 'aborted' : 'ok');
  const lastNs = Math.max(0, ...reports.map((r) => r.received.lastNs));
  const elapsed = lastNs > 0 ? lastNs / 1e9 : Math.max(0, ...reports.map((r) => r.sent.seconds));
  const per = (n: number | null): number | null => (n === null ? null : elapsed > 0 ? n / elapsed : 0);
  const client = reports.find((r) => r.role === 'rr-client');
  const roundTrips = client ? LatencyHistogram.fromJSON(client.rtt).count : null;
  const roundTripElapsed = client && client.received.lastNs > 0 ? client.received.lastNs / 1e9 : elapsed;
  const received = sum(reports, (r) => r.received.messages);
  const payloadReceived = sum(reports, (r) => r.received.payloadBytes);
  const packetsReceived = sumOrNull(reports, (r) => r.link.packetsReceived);
  const wireReceived = sumOrNull(reports, (r) => r.link.wireBytesReceived);
  return {
    workload: s.workload,
    impl: s.impl,
    variant: s.variant,
    size_bytes: s.sizeBytes,
    packet_size_bytes: s.packetSizeBytes,
    duration_s: s.durationMs / 1000,
    nodes: s.nodes.length,
    status,
    reason: status === 'ok' ? null : (out.error ?? (status === 'aborted' ? 'interrupted' : null)),
    offered_rate_msgs_per_s: s.rateMsgsPerSec,
    loss: s.loss ? { probability: s.loss.probability, delay_ms: s.loss.delayMs } : null,
    stream_bytes: s.streamBytes,
    elapsed_s: elapsed,
    messages_sent: sum(reports, (r) => r.sent.messages),
    messages_received: received,
    payload_bytes_sent: sum(reports, (r) => r.sent.payloadBytes),
    payload_bytes_received: payloadReceived,
    packets_sent: sumOrNull(reports, (r) => r.link.packetsSent),
    packets_received: packetsReceived,
    wire_bytes_sent: sumOrNull(reports, (r) => r.link.wireBytesSent),
    wire_bytes_received: wireReceived,
    msgs_per_s: per(received) ?? 0,
    payload_bytes_per_s: per(payloadReceived) ?? 0,
    packets_per_s: per(packetsReceived),
    wire_bytes_per_s: per(wireReceived),
    round_trips: roundTrips,
    round_trips_per_s: roundTrips === null ? null : roundTripElapsed > 0 ? roundTrips / roundTripElapsed : 0,
    rr_timeouts: sum(reports, (r) => r.rrTimeouts),
    latency: {
      delivery: merged(reports.map((r) => r.delivery)).summary(),
      round_trip: client ? LatencyHistogram.fromJSON(client.rtt).summary() : null,
    },
    per_sender: perSender(s, reports),
    retransmits: retransmits(reports),
    processes: reports
      .map((r) => ({
        node: r.node,
        pid: r.pid,
        role: r.role,
        cpu_user_s: r.resources.cpu_user_s,
        cpu_sys_s: r.resources.cpu_sys_s,
        cpu_s: r.resources.cpu_user_s + r.resources.cpu_sys_s,
        peak_rss_bytes: r.resources.peak_rss_bytes,
      }))
      .sort((a, b) => a.node - b.node),
    extra: sumExtra(reports),
  };
}

function sum(reports: readonly NodeReport[], f: (r: NodeReport) => number): number {
  return reports.reduce((acc, r) => acc + f(r), 0);
}

function sumOrNull(reports: readonly NodeReport[], f: (r: NodeReport) => number | null): number | null {
  let total = 0;
  for (const r of reports) {
    const v = f(r);
    if (v === null) return null;
    total += v;
  }
  return reports.length > 0 ? total : null;
}

function merged(hists: readonly NodeReport['delivery'][]): LatencyHistogram {
  const h = new LatencyHistogram();
  // Empty ones are skipped: their minimum (Infinity) does not survive JSON.
  for (const j of hists) if (j.total > 0) h.merge(LatencyHistogram.fromJSON(j));
  return h;
}

/** Messages each sender got through, as counted by the receivers (n-to-1 and n-to-n only). */
function perSender(s: Scenario, reports: readonly NodeReport[]): RunResult['per_sender'] {
  if (s.workload !== 'n1' && s.workload !== 'nn') return null;
  const senders = s.nodes.filter((n) => n.sendTo.length > 0).map((n) => n.node);
  const counts = senders.map((from) => sum(reports, (r) => r.received.bySourceWhileSending[from] ?? 0));
  const all = senders.map((from) => sum(reports, (r) => r.received.bySource[from] ?? 0));
  const max = Math.max(0, ...counts);
  return { messages: counts, messages_all: all, min_over_max: max > 0 ? Math.min(...counts) / max : 0 };
}

function retransmits(reports: readonly NodeReport[]): RetransmitFigures | null {
  const all = reports.map((r) => r.link.retransmits).filter((x): x is RetransmitCounters => x !== null);
  if (all.length === 0) return null;
  const add = (f: (x: RetransmitCounters) => number | null): number | null =>
    all.some((x) => f(x) === null) ? null : all.reduce((acc, x) => acc + (f(x) ?? 0), 0);
  const maxRetries = all.some((x) => x.maxRetriesOfOnePacket === null)
    ? null
    : Math.max(...all.map((x) => x.maxRetriesOfOnePacket ?? 0));
  return {
    packets: add((x) => x.packets) ?? 0,
    fast: add((x) => x.fast),
    timeouts: add((x) => x.timeouts),
    messages_affected: add((x) => x.messagesAffected),
    max_retries_of_one_packet: maxRetries,
  };
}

function sumExtra(reports: readonly NodeReport[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.link.extra)) out[k] = (out[k] ?? 0) + v;
  return out;
}
