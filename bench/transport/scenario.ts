/**
 * One measured run: an implementation, a workload, a message size, and the nodes taking part
 * (each a separate process), as planned by plan.ts and run by run.ts.
 */
import type { ImplName } from './links/link.js';
import type { NodePlan } from './protocol.js';

export type WorkloadName = 'oneway' | 'rr' | 'bidi' | 'n1' | 'nn' | 'curve' | 'jumbo' | 'loss';

export interface Scenario {
  workload: WorkloadName;
  impl: ImplName;
  /** What sets this run apart within its workload (`depth=16`, `rate=10000/s`, `loss=1%`), or ''. */
  variant: string;
  sizeBytes: number;
  packetSizeBytes: number;
  durationMs: number;
  nodes: NodePlan[];
  /** Impairment settings per node ('' for none): the loss matrix impairs ferry's receiver. */
  impair: string[];
  /**
   * Impairment settings of a UDP proxy in front of node 0 ('' for none), impairing what the other
   * nodes send it: the loss matrix for udx, which has no impairment layer of its own.
   */
  proxyImpair: string;
  /** Paced runs: the offered rate. */
  rateMsgsPerSec: number | null;
  /** Loss matrix: the loss probability and one-way delay applied at the receiver. */
  loss: { probability: number; delayMs: number } | null;
  /** Fixed-amount one-way runs (`--bytes`): the payload bytes the sender streams, else null. */
  streamBytes: number | null;
}
