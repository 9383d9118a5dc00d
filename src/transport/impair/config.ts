/**
 * The settings of the impairment layer, declared once as a readConfig schema.
 *
 * Why a schema: the same settings arrive from code (`{ loss: 0.05 }`), from the FERRY_IMPAIR
 * environment variable and from `ferry impair --config` (`loss=0.05,dup=0.01,seed=7`); one
 * declaration validates all three with messages that name the fix, and documents the defaults.
 *
 * Model, in the order a datagram meets it:
 * 0. mtu: a datagram larger than `mtu` bytes is dropped (a path that carries smaller packets only;
 *    `Impairment.setMtu` changes it while running, to shrink or grow a path mid-transfer).
 * 1. loss: each datagram is dropped with probability `loss`.
 * 2. burst loss (Gilbert model, a two-state Gilbert-Elliott chain whose bad state drops everything):
 *    in the good state a datagram moves the chain to the bad state with probability `burstLoss`;
 *    in the bad state every datagram is dropped and the chain returns to good with probability
 *    1 / `burstLen` after each, so bursts last `burstLen` datagrams on average.
 * 3. duplication: with probability `dup` the datagram is sent twice; each copy goes on independently.
 * 4. corruption: with probability `corrupt` a copy gets `corruptBits` distinct bits flipped (length
 *    unchanged; empty datagrams cannot be corrupted).
 * 5. rate limit: a token bucket of `rateBytesPerSec` with `rateBurstBytes` of burst (0: a link that
 *    serialises every datagram); datagrams wait their turn in a queue of at most `rateQueueBytes`,
 *    beyond which they are dropped (tail drop, like a router).
 * 6. delay: `delayMs` plus a uniform jitter in [-jitterMs, +jitterMs] (never below zero). Jitter
 *    reorders datagrams closer together than the jitter, as on a real path.
 * 7. reordering: with probability `reorder` a copy is held `reorderMs` longer, so datagrams sent in
 *    that time overtake it.
 * Everything held (delayed, queued, reordered) counts against `maxHeldDatagrams` and `maxHeldBytes`;
 * a datagram that would exceed either is dropped and counted.
 */
import { readConfig, type ConfigOf } from '../../core/config.js';
import { LIMITS, MiB } from '../../core/limits.js';
import { MAX_SEED } from './prng.js';

/** One hour: longer delays are a typo, not a network. */
const MAX_DELAY_MS = 3_600_000;

export const IMPAIRMENT_SCHEMA = {
  mtu: {
    kind: 'bytes',
    default: 0,
    min: 0,
    max: LIMITS.MAX_PACKET_BYTES,
    doc: 'datagrams larger than this many bytes are dropped (0: no limit)',
  },
  loss: { kind: 'number', default: 0, min: 0, max: 1, doc: 'probability that a datagram is dropped' },
  burstLoss: {
    kind: 'number',
    default: 0,
    min: 0,
    max: 1,
    doc: 'probability per datagram of entering a loss burst (Gilbert model)',
  },
  burstLen: {
    kind: 'number',
    default: 3,
    min: 1,
    max: 1_000_000,
    doc: 'mean length of a loss burst, in datagrams',
  },
  dup: { kind: 'number', default: 0, min: 0, max: 1, doc: 'probability that a datagram is duplicated' },
  reorder: {
    kind: 'number',
    default: 0,
    min: 0,
    max: 1,
    doc: 'probability that a datagram is held back so later ones overtake it',
  },
  reorderMs: {
    kind: 'ms',
    default: 10,
    min: 1,
    max: MAX_DELAY_MS,
    doc: 'how much longer a reordered datagram is held',
  },
  corrupt: {
    kind: 'number',
    default: 0,
    min: 0,
    max: 1,
    doc: 'probability that a datagram has bits flipped',
  },
  corruptBits: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 64,
    doc: 'distinct bits flipped in a corrupted datagram',
  },
  delayMs: { kind: 'ms', default: 0, min: 0, max: MAX_DELAY_MS, doc: 'fixed delay added to every datagram' },
  jitterMs: {
    kind: 'ms',
    default: 0,
    min: 0,
    max: MAX_DELAY_MS,
    doc: 'uniform jitter around delayMs (reorders datagrams closer than this)',
  },
  rateBytesPerSec: {
    kind: 'bytes',
    default: 0,
    min: 0,
    max: 1_000_000_000_000,
    doc: 'rate limit in bytes per second (0: unlimited)',
  },
  rateBurstBytes: {
    kind: 'bytes',
    default: 0,
    min: 0,
    max: 1024 * MiB,
    doc: 'token bucket depth: bytes sent at once after an idle period (0: every datagram waits its turn)',
  },
  rateQueueBytes: {
    kind: 'bytes',
    default: 1 * MiB,
    min: LIMITS.MAX_PACKET_BYTES,
    max: 1024 * MiB,
    doc: 'bytes waiting for the rate limit before datagrams are dropped',
  },
  maxHeldDatagrams: {
    kind: 'int',
    default: 65_536,
    min: 1,
    max: 16_777_216,
    doc: 'datagrams held at once (delayed, queued, reordered) before more are dropped',
  },
  maxHeldBytes: {
    kind: 'bytes',
    default: 64 * MiB,
    min: LIMITS.MAX_PACKET_BYTES,
    max: 16 * 1024 * MiB,
    doc: 'bytes held at once before more datagrams are dropped',
  },
  seed: {
    kind: 'int',
    default: -1,
    min: -1,
    max: MAX_SEED,
    doc: 'seed of the decisions (-1: pick one at random; the seed used is reported in stats)',
  },
} as const;

/** Validated impairment settings (IMPAIRMENT_SCHEMA has the defaults and ranges). */
export interface ImpairmentConfig {
  /** Largest datagram passed, in bytes (0: no limit). */
  readonly mtu: number;
  /** Probability that a datagram is dropped, 0..1. */
  readonly loss: number;
  /** Probability per datagram of entering a loss burst, 0..1. */
  readonly burstLoss: number;
  /** Mean loss burst length in datagrams, >= 1. */
  readonly burstLen: number;
  /** Probability that a datagram is duplicated, 0..1. */
  readonly dup: number;
  /** Probability that a datagram is held back reorderMs so later ones overtake it, 0..1. */
  readonly reorder: number;
  readonly reorderMs: number;
  /** Probability that a datagram has corruptBits distinct bits flipped, 0..1. */
  readonly corrupt: number;
  readonly corruptBits: number;
  readonly delayMs: number;
  readonly jitterMs: number;
  /** 0: unlimited. */
  readonly rateBytesPerSec: number;
  readonly rateBurstBytes: number;
  readonly rateQueueBytes: number;
  readonly maxHeldDatagrams: number;
  readonly maxHeldBytes: number;
  /** -1: picked at random (Impairment.stats().seed tells which). */
  readonly seed: number;
}

// The interface above and the schema must name the same settings (a compile error otherwise).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const SCHEMA_MATCHES_INTERFACE: Same<ImpairmentConfig, ConfigOf<typeof IMPAIRMENT_SCHEMA>> = true;
void SCHEMA_MATCHES_INTERFACE;

/**
 * Validates impairment settings from an object or a `key=value,...` string; throws INVALID_CONFIG
 * naming the key and the allowed range.
 */
export function readImpairmentConfig(
  input: string | Partial<ImpairmentConfig> | undefined,
): ImpairmentConfig {
  return readConfig(IMPAIRMENT_SCHEMA, input, 'impair');
}

/** True when the settings change nothing (every datagram passes at once, untouched). */
export function isPassThrough(c: ImpairmentConfig): boolean {
  return (
    c.mtu === 0 &&
    c.loss === 0 &&
    c.burstLoss === 0 &&
    c.dup === 0 &&
    c.reorder === 0 &&
    c.corrupt === 0 &&
    c.delayMs === 0 &&
    c.jitterMs === 0 &&
    c.rateBytesPerSec === 0
  );
}
