/**
 * Turns the options into the list of runs: for each workload, each message size, each variant and
 * each implementation, one scenario with its nodes. Implementations of one variant run one after
 * the other, so the ratios between them come from runs seconds apart on the same machine.
 *
 * The defaults are the sizes the targets name (64-byte messages, 1 MiB bulk messages); a
 * smoke run keeps every workload and implementation but shrinks sizes and durations to seconds.
 */
import { KiB, MiB } from '../../src/index.js';
import type { ImplName } from './links/link.js';
import { MAX_UDP_PAYLOAD_BYTES, type TransportBenchOptions } from './options.js';
import type { NodePlan, NodeRole } from './protocol.js';
import type { Scenario, WorkloadName } from './scenario.js';

/** A bound on every run besides its duration. */
const MAX_MESSAGES_PER_RUN = 100_000_000;
/** Load-curve steps last at most this long (there are several per implementation). */
const CURVE_STEP_MAX_MS = 2000;
/** Offered rates of the load curve, messages/s: a 1-2-5 ladder, cut where an implementation saturates. */
export const CURVE_RATES = [1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000];
const SMOKE_CURVE_RATES = [2000];
/** The loss matrix: loss probabilities at the receiver, each with this one-way delay. */
export const LOSS_PROBABILITIES = [0, 0.01, 0.05, 0.2];
const SMOKE_LOSS_PROBABILITIES = [0, 0.05];
export const LOSS_DELAY_MS = 10;
const LOSS_SEED = 1;
/** Loopback carries datagrams of up to 65507 bytes; the jumbo runs use a round size below that. */
export const JUMBO_PACKET_BYTES = 65_000;

const FULL_SIZES: Record<WorkloadName, number[]> = {
  oneway: [64, 1 * MiB],
  rr: [64],
  bidi: [64 * KiB],
  n1: [1 * MiB],
  nn: [64 * KiB],
  curve: [64],
  jumbo: [1 * MiB],
  loss: [1 * MiB],
};
const SMOKE_SIZES: Record<WorkloadName, number[]> = {
  oneway: [16 * KiB],
  rr: [64],
  bidi: [4 * KiB],
  n1: [4 * KiB],
  nn: [4 * KiB],
  curve: [64],
  jumbo: [64 * KiB],
  loss: [16 * KiB],
};

/** Runs in order. `group` ties the steps of one load curve: after a saturated step the rest are skipped. */
export interface PlannedRun {
  scenario: Scenario;
  group: string | null;
}

export function planRuns(o: TransportBenchOptions): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const w of o.workloads) {
    for (const size of sizesFor(w, o)) runs.push(...planWorkload(w, size, o));
  }
  if (o.lossMatrix) {
    for (const size of sizesFor('loss', o)) runs.push(...planLoss(size, o));
  }
  return runs;
}

function sizesFor(w: WorkloadName, o: TransportBenchOptions): number[] {
  return o.sizes ?? (o.smoke ? SMOKE_SIZES : FULL_SIZES)[w];
}

function planWorkload(w: WorkloadName, size: number, o: TransportBenchOptions): PlannedRun[] {
  const out: PlannedRun[] = [];
  const add = (
    impl: ImplName,
    nodes: NodePlan[],
    extra: Partial<Scenario> = {},
    group: string | null = null,
  ): void => {
    out.push({ scenario: scenario(w, impl, size, nodes, o, extra), group });
  };
  const d = o.durationMs;
  for (const impl of implsFor(w, o)) {
    switch (w) {
      case 'oneway':
      case 'jumbo':
        add(
          impl,
          [node(0, 'sink', [], size, d), node(1, 'stream', [0], size, d, streamBound(w, size, o))],
          w === 'jumbo' ? { packetSizeBytes: jumboPacket() } : streamVariant(w, o),
        );
        break;
      case 'rr':
        for (const depth of rrDepths(o)) {
          add(
            impl,
            [node(0, 'rr-server', [], size, d), node(1, 'rr-client', [0], size, d, { rrDepth: depth })],
            {
              variant: `depth=${depth}`,
            },
          );
        }
        break;
      case 'bidi':
        add(impl, [node(0, 'stream', [1], size, d), node(1, 'stream', [0], size, d)]);
        break;
      case 'n1': {
        const senders = Array.from({ length: o.n1Senders }, (_, i) => node(i + 1, 'stream', [0], size, d));
        add(impl, [node(0, 'sink', [], size, d), ...senders], { variant: `senders=${o.n1Senders}` });
        break;
      }
      case 'nn': {
        const all = Array.from({ length: o.nnNodes }, (_, i) => i);
        add(
          impl,
          all.map((i) =>
            node(
              i,
              'stream',
              all.filter((j) => j !== i),
              size,
              d,
            ),
          ),
          { variant: `nodes=${o.nnNodes}` },
        );
        break;
      }
      case 'curve': {
        const stepMs = Math.min(d, CURVE_STEP_MAX_MS);
        for (const rate of o.smoke ? SMOKE_CURVE_RATES : CURVE_RATES) {
          add(
            impl,
            [
              node(0, 'sink', [], size, stepMs),
              node(1, 'paced', [0], size, stepMs, { rateMsgsPerSec: rate }),
            ],
            { variant: `rate=${rate}/s`, rateMsgsPerSec: rate, durationMs: stepMs },
            `curve/${impl}/${size}`,
          );
        }
        break;
      }
      case 'loss':
        break;
    }
  }
  return out;
}

/** A fixed-amount one-way run (`--bytes`) sends whole messages until the amount is reached. */
function streamBound(w: WorkloadName, size: number, o: TransportBenchOptions): Partial<NodePlan> {
  if (w !== 'oneway' || o.streamBytes === null) return {};
  return { maxMessages: Math.ceil(o.streamBytes / size) };
}

function streamVariant(w: WorkloadName, o: TransportBenchOptions): Partial<Scenario> {
  if (w !== 'oneway' || o.streamBytes === null) return {};
  return { variant: `bytes=${o.streamBytes}`, streamBytes: o.streamBytes };
}

/** One outstanding request and the pipelined depth; a smoke run checks only the pipelined one. */
function rrDepths(o: TransportBenchOptions): number[] {
  if (o.rrDepth <= 1) return [1];
  return o.smoke ? [o.rrDepth] : [1, o.rrDepth];
}

/** The jumbo workload is about packet size: only the transports whose packet size can be set. */
function implsFor(w: WorkloadName, o: TransportBenchOptions): ImplName[] {
  if (w === 'jumbo') return o.impls.filter((i) => i === 'dgram' || i === 'ferry');
  return o.impls;
}

function jumboPacket(): number {
  return Math.min(JUMBO_PACKET_BYTES, MAX_UDP_PAYLOAD_BYTES);
}

/**
 * ferry through its own receive-path impairment; udx-native through an impairment proxy in front of
 * its receiver (same settings, data direction only; one more user-space hop than ferry's rows).
 */
function planLoss(size: number, o: TransportBenchOptions): PlannedRun[] {
  const out: PlannedRun[] = [];
  const impls = o.impls.filter((i) => i === 'ferry' || i === 'udx');
  for (const p of o.smoke ? SMOKE_LOSS_PROBABILITIES : LOSS_PROBABILITIES) {
    const impair = `loss=${p},delayMs=${LOSS_DELAY_MS},seed=${LOSS_SEED}`;
    for (const impl of impls) {
      const d = o.durationMs;
      const nodes = [node(0, 'sink', [], size, d), node(1, 'stream', [0], size, d)];
      const s = scenario('loss', impl, size, nodes, o, {
        variant: `loss=${p * 100}%`,
        impair: impl === 'ferry' ? [impair, ''] : ['', ''],
        proxyImpair: impl === 'udx' ? impair : '',
        loss: { probability: p, delayMs: LOSS_DELAY_MS },
      });
      out.push({ scenario: s, group: null });
    }
  }
  return out;
}

function scenario(
  workload: WorkloadName,
  impl: ImplName,
  sizeBytes: number,
  nodes: NodePlan[],
  o: TransportBenchOptions,
  extra: Partial<Scenario>,
): Scenario {
  return {
    workload,
    impl,
    variant: '',
    sizeBytes,
    packetSizeBytes: o.packetSizeBytes,
    durationMs: o.durationMs,
    nodes,
    impair: nodes.map(() => ''),
    proxyImpair: '',
    rateMsgsPerSec: null,
    loss: null,
    streamBytes: null,
    ...extra,
  };
}

function node(
  n: number,
  role: NodeRole,
  sendTo: number[],
  sizeBytes: number,
  durationMs: number,
  extra: Partial<NodePlan> = {},
): NodePlan {
  return {
    node: n,
    role,
    sendTo,
    sizeBytes,
    rateMsgsPerSec: 0,
    rrDepth: 1,
    durationMs,
    maxMessages: MAX_MESSAGES_PER_RUN,
    ...extra,
  };
}
