/**
 * A seeded impairment layer: makes a perfect path behave like a bad network, reproducibly.
 *
 * Why: the transport's promises (exactly once, in order, intact) only mean something if they hold on
 * a path that loses, duplicates, reorders, corrupts, delays and throttles datagrams. This kernel has
 * no netem, so ferry injects faults itself, in user space, between its socket and its protocol (and
 * in the standalone `ferry impair` proxy). Every decision comes from a seeded generator, so a failing
 * run is replayed from the seed in its stats.
 *
 * Usage:
 * ```ts
 * const imp = new Impairment('loss=0.05,delayMs=20,jitterMs=10,seed=7', systemClock);
 * imp.process(datagram, peer, (d, peer) => socket.send(d, peer.port, peer.host));
 * ```
 *
 * `process` calls `deliver` zero or more times, now or later. A datagram nothing applies to is
 * delivered synchronously, as the caller's own buffer, without a copy. Anything held or changed
 * (delayed, queued, reordered, corrupted) is a copy, because the caller reuses its buffer once
 * `process` returns; a copy handed to `deliver` is never touched again by the impairment, so the
 * receiver may keep it (a socket send still in progress, a reassembly buffer). One clock timer covers
 * the earliest held datagram; `close()` cancels everything still held.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { DueQueue, type Deliver, type HeldDatagram } from './due-queue.js';
import { Prng, randomSeed } from './prng.js';
import { readImpairmentConfig, type ImpairmentConfig } from './config.js';

export { IMPAIRMENT_SCHEMA, readImpairmentConfig, type ImpairmentConfig } from './config.js';

/** The environment variable that switches impairment on for every ferry endpoint in a process. */
export const IMPAIR_ENV = 'FERRY_IMPAIR';

/** Counters of one Impairment since it was created. `seed` replays the same decisions. */
export interface ImpairmentStats {
  seed: number;
  /** Datagrams and bytes handed to `process`. */
  datagramsIn: number;
  bytesIn: number;
  /** Datagrams and bytes handed to `deliver` (duplicates included). */
  datagramsDelivered: number;
  bytesDelivered: number;
  /** Dropped for being larger than the mtu setting. */
  droppedMtu: number;
  /** Dropped by independent loss. */
  droppedLoss: number;
  /** Dropped inside a loss burst. */
  droppedBurst: number;
  /** Loss bursts entered. */
  bursts: number;
  /** Dropped because the rate-limit queue was full. */
  droppedRateQueue: number;
  /** Dropped because maxHeldDatagrams or maxHeldBytes was reached. */
  droppedHeldLimit: number;
  /** Handed to `process` after `close()`, or still held when `close()` was called. */
  droppedClosed: number;
  /** Extra copies made by duplication. */
  duplicated: number;
  corrupted: number;
  reordered: number;
  /** Copies held for a later delivery (delay, jitter, rate limit or reordering). */
  held: number;
  /** Held now. */
  heldDatagrams: number;
  heldBytes: number;
}

/** FERRY_IMPAIR (`loss=0.05,dup=0.01,seed=7`) from `env`, or null when unset or blank. */
export function impairmentFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const value = env[IMPAIR_ENV]?.trim();
  return value ? value : null;
}

/** Where an endpoint's impairment came from: FERRY_IMPAIR, or the `impair` option in code. */
export type ImpairmentSource = typeof IMPAIR_ENV | 'option';

export class Impairment {
  readonly config: ImpairmentConfig;
  /** Set by the endpoint that runs it (endpoint-impairment.ts); shown in its stats. */
  source: ImpairmentSource = 'option';
  private readonly clock: Clock;
  private readonly prng: Prng;
  private readonly queue = new DueQueue();
  private readonly counts: Omit<ImpairmentStats, 'seed' | 'heldDatagrams' | 'heldBytes'> = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsDelivered: 0,
    bytesDelivered: 0,
    droppedMtu: 0,
    droppedLoss: 0,
    droppedBurst: 0,
    bursts: 0,
    droppedRateQueue: 0,
    droppedHeldLimit: 0,
    droppedClosed: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    held: 0,
  };
  /** Gilbert chain state: true while inside a loss burst. */
  private inBurst = false;
  /** Token bucket: bytes available (negative: bytes still queued ahead), as of `tokensAtMs`. */
  private tokens = 0;
  private tokensAtMs: number;
  /** The armed timer and the time it fires at. */
  private timer: TimerHandle | null = null;
  private timerDueMs = Infinity;
  private closed = false;
  /** Scratch for distinct bit positions of one corruption (no allocation per datagram). */
  private readonly bitScratch = new Float64Array(64);
  private readonly onTimer = (): void => this.fire();
  private readonly deliverHeld = (e: HeldDatagram): void => this.emit(e.data, e.meta, e.deliver);

  /** Throws INVALID_CONFIG (naming the key and its range) for bad settings. */
  constructor(config: string | Partial<ImpairmentConfig>, clock: Clock) {
    this.config = readImpairmentConfig(config);
    this.clock = clock;
    this.prng = new Prng(this.config.seed === -1 ? randomSeed() : this.config.seed);
    this.tokens = this.config.rateBurstBytes;
    this.tokensAtMs = clock.nowMs();
    this.mtuBytes = this.config.mtu;
  }

  /** Largest datagram passed now (0: no limit); starts at the `mtu` setting. */
  get mtu(): number {
    return this.mtuBytes;
  }

  /** Changes the largest datagram passed from now on (0: no limit): a path that shrinks or grows. */
  setMtu(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > LIMITS.MAX_PACKET_BYTES) {
      throw new FerryError(
        'INVALID_CONFIG',
        `impair: mtu must be a whole number of bytes from 0 to ${LIMITS.MAX_PACKET_BYTES} (got ${bytes})`,
      );
    }
    this.mtuBytes = bytes;
  }

  private mtuBytes: number;

  /** The seed in use (the configured one, or the one picked at random). */
  get seed(): number {
    return this.prng.seed;
  }

  /**
   * Passes one datagram through the impairment: `deliver` is called zero or more times, now or
   * later. Never throws for a datagram; after `close()` datagrams are dropped and counted.
   */
  process<M>(datagram: Buffer, meta: M, deliver: Deliver<M>): void {
    const c = this.counts;
    c.datagramsIn++;
    c.bytesIn += datagram.length;
    if (this.closed) {
      c.droppedClosed++;
      return;
    }
    if (this.mtuBytes > 0 && datagram.length > this.mtuBytes) {
      c.droppedMtu++;
      return;
    }
    if (this.lost()) return;
    this.forward(datagram, meta, deliver);
    // The first copy's deliver may have closed the impairment: then there is no second copy.
    if (this.config.dup > 0 && !this.closed && this.prng.chance(this.config.dup)) {
      c.duplicated++;
      this.forward(datagram, meta, deliver);
    }
  }

  stats(): ImpairmentStats {
    return {
      seed: this.prng.seed,
      ...this.counts,
      heldDatagrams: this.queue.length,
      heldBytes: this.queue.heldBytes,
    };
  }

  /** Cancels every pending delivery (counted as droppedClosed); later datagrams are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.disarm();
    this.counts.droppedClosed += this.queue.clear();
  }

  /** Independent loss, then the Gilbert burst chain. */
  private lost(): boolean {
    const cfg = this.config;
    if (cfg.loss > 0 && this.prng.chance(cfg.loss)) {
      this.counts.droppedLoss++;
      return true;
    }
    if (cfg.burstLoss === 0) return false;
    if (!this.inBurst && this.prng.chance(cfg.burstLoss)) {
      this.inBurst = true;
      this.counts.bursts++;
    }
    if (!this.inBurst) return false;
    this.counts.droppedBurst++;
    if (this.prng.chance(1 / cfg.burstLen)) this.inBurst = false;
    return true;
  }

  /** One copy: corruption, rate limit, delay and reordering decide when and what is delivered. */
  private forward<M>(datagram: Buffer, meta: M, deliver: Deliver<M>): void {
    const cfg = this.config;
    const corrupt = cfg.corrupt > 0 && datagram.length > 0 && this.prng.chance(cfg.corrupt);
    const nowMs = this.clock.nowMs();
    let holdMs = this.delayMs();
    const reorder = cfg.reorder > 0 && this.prng.chance(cfg.reorder);
    if (reorder) holdMs += cfg.reorderMs;
    if (cfg.rateBytesPerSec > 0) {
      const waitMs = this.rateWaitMs(datagram.length, nowMs);
      if (waitMs < 0) {
        this.counts.droppedRateQueue++;
        return;
      }
      holdMs += waitMs;
    }
    if (holdMs <= 0 && !corrupt) {
      this.emit(datagram, meta, deliver);
      return;
    }
    if (holdMs > 0 && !this.roomFor(datagram.length)) {
      this.counts.droppedHeldLimit++;
      this.refundRate(datagram.length);
      return;
    }
    const copy = Buffer.allocUnsafe(datagram.length);
    datagram.copy(copy);
    if (corrupt) this.flipBits(copy);
    if (holdMs <= 0) {
      this.emit(copy, meta, deliver);
      return;
    }
    this.counts.held++;
    if (reorder) this.counts.reordered++;
    this.queue.push(nowMs + holdMs, copy, meta, deliver);
    this.arm();
  }

  /** delayMs plus uniform jitter in [-jitterMs, +jitterMs], never negative. */
  private delayMs(): number {
    const { delayMs, jitterMs } = this.config;
    if (jitterMs === 0) return delayMs;
    return Math.max(0, delayMs + (this.prng.nextFloat() * 2 - 1) * jitterMs);
  }

  /**
   * Token bucket: how long a datagram of `sizeBytes` waits for its turn, reserving its tokens; or -1
   * when the bytes queued ahead plus this datagram would exceed rateQueueBytes (nothing reserved).
   */
  private rateWaitMs(sizeBytes: number, nowMs: number): number {
    const { rateBytesPerSec, rateBurstBytes, rateQueueBytes } = this.config;
    const refill = ((nowMs - this.tokensAtMs) * rateBytesPerSec) / 1000;
    this.tokens = Math.min(rateBurstBytes, this.tokens + refill);
    this.tokensAtMs = nowMs;
    const shortBytes = sizeBytes - this.tokens;
    if (shortBytes > rateQueueBytes) return -1;
    this.tokens -= sizeBytes;
    return shortBytes <= 0 ? 0 : (shortBytes * 1000) / rateBytesPerSec;
  }

  /** Gives back the tokens of a datagram that was reserved and then dropped. */
  private refundRate(sizeBytes: number): void {
    if (this.config.rateBytesPerSec > 0) this.tokens += sizeBytes;
  }

  private roomFor(sizeBytes: number): boolean {
    return (
      this.queue.length < this.config.maxHeldDatagrams &&
      this.queue.heldBytes + sizeBytes <= this.config.maxHeldBytes
    );
  }

  /** Flips `corruptBits` distinct bits (fewer if the datagram is shorter than that in bits). */
  private flipBits(data: Buffer): void {
    const totalBits = data.length * 8;
    const n = Math.min(this.config.corruptBits, totalBits);
    const picked = this.bitScratch;
    for (let i = 0; i < n; i++) {
      let bit = this.prng.nextInt(totalBits);
      while (pickedBefore(picked, i, bit)) bit = (bit + 1) % totalBits;
      picked[i] = bit;
      data[bit >>> 3]! ^= 1 << (bit & 7);
    }
    this.counts.corrupted++;
  }

  private emit<M>(data: Buffer, meta: M, deliver: Deliver<M>): void {
    this.counts.datagramsDelivered++;
    this.counts.bytesDelivered += data.length;
    deliver(data, meta);
  }

  /** Keeps exactly one timer, set for the earliest held datagram. */
  private arm(): void {
    const dueMs = this.queue.peekDueMs();
    if (dueMs === Infinity || this.closed) {
      this.disarm();
      return;
    }
    if (this.timer && this.timerDueMs <= dueMs) return;
    this.disarm();
    this.timerDueMs = dueMs;
    this.timer = this.clock.setTimer(dueMs - this.clock.nowMs(), this.onTimer);
  }

  private disarm(): void {
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerDueMs = Infinity;
  }

  /** Delivers everything due (a deliver callback may call `process` again), then re-arms. */
  private fire(): void {
    this.timer = null;
    this.timerDueMs = Infinity;
    try {
      while (!this.closed && this.queue.peekDueMs() <= this.clock.nowMs()) {
        this.queue.popInto(this.deliverHeld);
      }
    } finally {
      this.arm();
    }
  }
}

/** True when `bit` is among the first `count` entries of `picked`. */
function pickedBefore(picked: Float64Array, count: number, bit: number): boolean {
  for (let i = 0; i < count; i++) if (picked[i] === bit) return true;
  return false;
}
