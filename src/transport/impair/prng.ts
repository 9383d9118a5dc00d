/**
 * A small seeded pseudo-random generator (xoshiro128**, seeded through splitmix32).
 *
 * Why: impairment decisions must be reproducible. The same seed and the same sequence of datagrams
 * give the same drops, duplicates and delays, so a failing test can be replayed from the seed it
 * prints. Math.random() cannot be seeded; crypto is slow and also unseedable. xoshiro128** has a
 * 2^128 - 1 period and passes the usual statistical batteries, which is plenty for fault injection
 * (it is not for secrets).
 */
import { randomBytes } from 'node:crypto';

/** Largest seed accepted: seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffff_ffff;

const TWO_POW_32 = 4_294_967_296;

export class Prng {
  readonly seed: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is an integer from 0 to MAX_SEED. */
  constructor(seed: number) {
    this.seed = seed >>> 0;
    // splitmix32 spreads one 32-bit seed over the 128-bit state (never all zero).
    let x = this.seed;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** True with probability `p` (0 is never, 1 is always). */
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }

  /** An integer in [0, n), for n from 1 to 2^32. */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seed from the system's random source, for runs that did not ask for one (it is still reported). */
export function randomSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}
