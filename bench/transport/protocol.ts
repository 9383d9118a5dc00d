/**
 * What the parent (orchestrator) and each worker process of a run say to each other over the
 * child_process IPC channel. A run moves through fixed phases, each acknowledged by every worker
 * before the next starts, so no sender starts before every receiver is listening and connected:
 *
 *   parent: init ─► worker: listening(port)
 *   parent: connect(peers) ─► worker: connected
 *   parent: start(startNs) ─► worker: sent            (its sending ended: duration or count limit)
 *   parent: poll ─► worker: progress                  (repeated while receivers drain)
 *   parent: finish ─► worker: report, then it exits (or, when reused, waits for the next init)
 *
 * A worker that fails says `error` and exits. Every wait on either side has a deadline.
 */
import type { ResourceUsage } from '../lib/resources.js';
import type { LatencyHistogram } from '../lib/latency.js';
import type { ImplName, LinkCounters, LinkOptions, PeerEndpoint } from './links/link.js';

/**
 * What one node does. Every node counts what it receives; `sink` only receives, `stream` sends
 * as fast as back-pressure allows, `paced` sends at a fixed rate, `rr-client` keeps `rrDepth`
 * requests outstanding, `rr-server` answers each request with a response of the same size.
 */
export type NodeRole = 'sink' | 'stream' | 'paced' | 'rr-client' | 'rr-server';

export interface NodePlan {
  node: number;
  role: NodeRole;
  /** Nodes this one sends to (round robin), for stream, paced and rr-client. */
  sendTo: number[];
  sizeBytes: number;
  rateMsgsPerSec: number;
  rrDepth: number;
  durationMs: number;
  /** Stop sending after this many messages even if the duration has not passed. */
  maxMessages: number;
}

export type HistogramJson = ReturnType<LatencyHistogram['toJSON']>;

export interface NodeReport {
  node: number;
  pid: number;
  role: NodeRole;
  sent: {
    messages: number;
    payloadBytes: number;
    /** Paced only: messages due by the schedule, and those refused by back-pressure. */
    offered: number;
    refused: number;
    backPressureWaits: number;
    seconds: number;
  };
  received: {
    /** Complete messages (all fragments, for raw dgram). */
    messages: number;
    payloadBytes: number;
    fragments: number;
    /** Complete messages by sending node. */
    bySource: number[];
    /**
     * The same, counting only messages received within the plan's duration from the start: while
     * every sender was still sending (what a fairness share compares; the drain after it empties
     * whatever each sender still had queued, which says how deep its queue was, not its share).
     */
    bySourceWhileSending: number[];
    /** Nanoseconds from the run's start to the first and last received message. */
    firstNs: number;
    lastNs: number;
  };
  /** One-way delivery time of every data message and request received. */
  delivery: HistogramJson;
  /** Round trips measured by an rr-client (empty otherwise). */
  rtt: HistogramJson;
  rrTimeouts: number;
  link: LinkCounters;
  resources: ResourceUsage;
}

export type ToWorker =
  | { t: 'init'; impl: ImplName; plan: NodePlan; link: LinkOptions; deadlineMs: number }
  | { t: 'connect'; peers: PeerEndpoint[] }
  | { t: 'start'; startNs: string }
  | { t: 'poll' }
  /** `stay`: report, then wait for the next init (a reused process) instead of exiting. */
  | { t: 'finish'; stay: boolean }
  /** Ends an idle reused process. */
  | { t: 'exit' };

export type FromWorker =
  | { t: 'listening'; port: number }
  | { t: 'connected' }
  | { t: 'sent' }
  | { t: 'progress'; messages: number; payloadBytes: number }
  | { t: 'report'; report: NodeReport }
  | { t: 'error'; message: string };
