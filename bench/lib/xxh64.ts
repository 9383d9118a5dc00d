/**
 * xxhash64 in plain JavaScript, over a sequence of byte ranges that are never joined or copied.
 *
 * Why: xxhash-wasm (checksum.ts) copies every input into wasm memory before hashing and needs an
 * async start-up. JavaScript has no 64-bit integer multiply outside BigInt (which allocates), so each
 * 64-bit lane is a pair of signed 32-bit halves `(hi, lo)`, and a product `a * C mod 2^64` is
 * `lo = imul(aLo, cLo)`, `hi = mulhi(aLo, cLo) + imul(aHi, cLo) + imul(aLo, cHi)`, where `mulhi`, the
 * high half of the 32x32-bit product, is two exact double multiplies by 16-bit limbs of `cLo` (each
 * product < 2^48) and two floors. Measured on the stripe loop: that beat four 16-bit limb `imul`s by
 * about 1.5x, and hand-inlining the four lanes beat a helper returning through module variables by 2x.
 * It is several times slower than the wasm build (bench/hash.ts measures both), so it lives here, beside
 * the benchmark, and the product hashes with xxhash-wasm (src/core/checksum.ts). See the commit that added
 * this file for the figures.
 *
 * `Xxh64` is a reusable streaming state, allocation-free after construction (`reset`, `update`...,
 * `digest`/`digestHex`/`writeDigestLE`); `xxh64Range` is the one-shot form. Both give exactly the
 * hash of the concatenated bytes (tests check this against xxhash-wasm).
 */

// The five 64-bit primes of the specification, as (hi, lo) halves.
const P1H = 0x9e3779b1 | 0;
const P1L = 0x85ebca87 | 0;
const P2H = 0xc2b2ae3d | 0;
const P2L = 0x27d4eb4f | 0;
const P3H = 0x165667b1 | 0;
const P3L = 0x9e3779f9 | 0;
const P4H = 0x85ebca77 | 0;
const P4L = 0xc2b2ae63 | 0;
const P5H = 0x27d4eb2f | 0;
const P5L = 0x165667c5 | 0;
// 16-bit limbs of the low halves of P1 and P2, for the stripe loop's `mulhi`.
const P1L0 = P1L & 0xffff;
const P1L1 = P1L >>> 16;
const P2L0 = P2L & 0xffff;
const P2L1 = P2L >>> 16;

/** Bytes of one stripe (four 64-bit lanes). */
const STRIPE_BYTES = 32;
const TWO_POW_32 = 4294967296;

/**
 * Lanes are read through a DataView over the whole ArrayBuffer (one unaligned load each, as in
 * xxh32.ts). The last view made is kept: a block hash and the whole-file hash read the same buffer.
 */
let cachedBuffer: ArrayBufferLike | null = null;
let cachedView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

function viewOf(data: Uint8Array): DataView<ArrayBufferLike> {
  if (data.buffer !== cachedBuffer) {
    cachedBuffer = data.buffer;
    cachedView = new DataView(data.buffer);
  }
  return cachedView;
}

// Results of the 64-bit helpers below (the tail and the final mix, a few calls per digest: not hot).
let rH = 0;
let rL = 0;

/** High 32 bits of the unsigned product of two 32-bit values, as a signed 32-bit number. */
function mulhi(a: number, b: number): number {
  const u = a >>> 0;
  return Math.floor((u * (b >>> 16) + Math.floor((u * (b & 0xffff)) / 65536)) / 65536) | 0;
}

/** `(aH, aL) * (bH, bL) mod 2^64` into `(rH, rL)`. */
function mul(aH: number, aL: number, bH: number, bL: number): void {
  rL = Math.imul(aL, bL);
  rH = (mulhi(aL, bL) + Math.imul(aH, bL) + Math.imul(aL, bH)) | 0;
}

/** `(aH, aL) + (bH, bL) mod 2^64` into `(rH, rL)`. */
function add(aH: number, aL: number, bH: number, bL: number): void {
  const l = (aL + bL) | 0;
  rH = (aH + bH + (((aL & bL) | ((aL | bL) & ~l)) >>> 31)) | 0;
  rL = l;
}

/** Rotates `(h, l)` left by `r` (1..31) bits into `(rH, rL)`. */
function rotl(h: number, l: number, r: number): void {
  rH = (h << r) | (l >>> (32 - r));
  rL = (l << r) | (h >>> (32 - r));
}

/** The specification's `round(acc, lane)`: `rotl(acc + lane * P2, 31) * P1`, into `(rH, rL)`. */
function round(accH: number, accL: number, laneH: number, laneL: number): void {
  mul(laneH, laneL, P2H, P2L);
  add(accH, accL, rH, rL);
  rotl(rH, rL, 31);
  mul(rH, rL, P1H, P1L);
}

/** `acc = (acc ^ round(0, v)) * P1 + P4`, into `(rH, rL)`. */
function mergeRound(accH: number, accL: number, vH: number, vL: number): void {
  round(0, 0, vH, vL);
  mul(accH ^ rH, accL ^ rL, P1H, P1L);
  add(rH, rL, P4H, P4L);
}

/** Streaming xxhash64. One instance is reused; `reset` starts a new hash. */
export class Xxh64 {
  // the four lane accumulators, as (hi, lo) halves
  private v0h = 0;
  private v0l = 0;
  private v1h = 0;
  private v1l = 0;
  private v2h = 0;
  private v2l = 0;
  private v3h = 0;
  private v3l = 0;
  private seedH = 0;
  private seedL = 0;
  /** Bytes hashed so far (exact up to 2^53). */
  private totalBytes = 0;
  /** Bytes of an unfinished stripe, carried over to the next piece. */
  private readonly carry = new Uint8Array(STRIPE_BYTES);
  private readonly carryView = new DataView(this.carry.buffer);
  private carryBytes = 0;
  /** The last digest's halves, unsigned (set by `digest`, `digestHex`, `writeDigestLE`, `finish`). */
  hashHi = 0;
  hashLo = 0;

  constructor(seed: bigint = 0n) {
    this.reset(seed);
  }

  /** Starts a new hash with a 64-bit `seed` (taken mod 2^64). */
  reset(seed: bigint = 0n): this {
    if (seed === 0n) return this.resetHalves(0, 0);
    return this.resetHalves(Number(BigInt.asUintN(32, seed >> 32n)), Number(BigInt.asUintN(32, seed)));
  }

  /** Starts a new hash with the seed `seedHi * 2^32 + seedLo` (no BigInt). */
  resetHalves(seedHi: number, seedLo: number): this {
    const h = seedHi | 0;
    const l = seedLo | 0;
    this.seedH = h;
    this.seedL = l;
    add(h, l, P1H, P1L);
    add(rH, rL, P2H, P2L);
    this.v0h = rH;
    this.v0l = rL;
    add(h, l, P2H, P2L);
    this.v1h = rH;
    this.v1l = rL;
    this.v2h = h;
    this.v2l = l;
    add(h, l, ~P1H, ~P1L); // seed - P1 = seed + ~P1 + 1
    add(rH, rL, 0, 1);
    this.v3h = rH;
    this.v3l = rL;
    this.totalBytes = 0;
    this.carryBytes = 0;
    return this;
  }

  /** Adds `data[start, end)` (default: all of it). */
  update(data: Uint8Array, start = 0, end = data.length): this {
    let i = start;
    if (end <= i) return this;
    this.totalBytes += end - i;
    if (this.carryBytes > 0) {
      const take = Math.min(STRIPE_BYTES - this.carryBytes, end - i);
      for (let k = 0; k < take; k++) this.carry[this.carryBytes + k] = data[i + k]!;
      this.carryBytes += take;
      i += take;
      if (this.carryBytes < STRIPE_BYTES) return this;
      this.stripes(this.carryView, 0, STRIPE_BYTES);
      this.carryBytes = 0;
    }
    const whole = i + ((end - i) & ~(STRIPE_BYTES - 1));
    if (whole > i) this.stripes(viewOf(data), data.byteOffset + i, data.byteOffset + whole);
    for (let k = whole; k < end; k++) this.carry[this.carryBytes++] = data[k]!;
    return this;
  }

  /** The hash of everything added since `reset`, as an unsigned 64-bit bigint. The state is kept. */
  digest(): bigint {
    this.finish();
    return (BigInt(this.hashHi) << 32n) | BigInt(this.hashLo);
  }

  /** The hash as 16 lowercase hex digits. */
  digestHex(): string {
    this.finish();
    return this.hashHi.toString(16).padStart(8, '0') + this.hashLo.toString(16).padStart(8, '0');
  }

  /** Writes the hash little-endian at `buf[offset, offset + 8)` (as `writeBigUInt64LE` would). */
  writeDigestLE(buf: Uint8Array, offset: number): void {
    this.finish();
    const dv = viewOf(buf);
    dv.setUint32(buf.byteOffset + offset, this.hashLo, true);
    dv.setUint32(buf.byteOffset + offset + 4, this.hashHi, true);
  }

  /** Whether the hash equals the little-endian 64-bit value at `buf[offset, offset + 8)`. */
  matchesLE(buf: Uint8Array, offset: number): boolean {
    this.finish();
    const dv = viewOf(buf);
    return (
      dv.getUint32(buf.byteOffset + offset, true) === this.hashLo &&
      dv.getUint32(buf.byteOffset + offset + 4, true) === this.hashHi
    );
  }

  /** Computes the hash into `hashHi`/`hashLo` without changing the running state. */
  finish(): this {
    let hH: number;
    let hL: number;
    if (this.totalBytes >= STRIPE_BYTES) {
      rotl(this.v0h, this.v0l, 1);
      let aH = rH;
      let aL = rL;
      rotl(this.v1h, this.v1l, 7);
      add(aH, aL, rH, rL);
      aH = rH;
      aL = rL;
      rotl(this.v2h, this.v2l, 12);
      add(aH, aL, rH, rL);
      aH = rH;
      aL = rL;
      rotl(this.v3h, this.v3l, 18);
      add(aH, aL, rH, rL);
      mergeRound(rH, rL, this.v0h, this.v0l);
      mergeRound(rH, rL, this.v1h, this.v1l);
      mergeRound(rH, rL, this.v2h, this.v2l);
      mergeRound(rH, rL, this.v3h, this.v3l);
      hH = rH;
      hL = rL;
    } else {
      add(this.seedH, this.seedL, P5H, P5L);
      hH = rH;
      hL = rL;
    }
    add(hH, hL, Math.floor(this.totalBytes / TWO_POW_32) | 0, this.totalBytes | 0);
    this.tail(rH, rL);
    return this;
  }

  /** The carried tail (fewer than 32 bytes) and the avalanche, from `(hH, hL)`, into `hashHi/Lo`. */
  private tail(hH: number, hL: number): void {
    const dv = this.carryView;
    const b = this.carry;
    const end = this.carryBytes;
    let i = 0;
    for (; i + 8 <= end; i += 8) {
      round(0, 0, dv.getInt32(i + 4, true), dv.getInt32(i, true));
      rotl(hH ^ rH, hL ^ rL, 27);
      mul(rH, rL, P1H, P1L);
      add(rH, rL, P4H, P4L);
      hH = rH;
      hL = rL;
    }
    if (i + 4 <= end) {
      mul(0, dv.getInt32(i, true), P1H, P1L);
      rotl(hH ^ rH, hL ^ rL, 23);
      mul(rH, rL, P2H, P2L);
      add(rH, rL, P3H, P3L);
      hH = rH;
      hL = rL;
      i += 4;
    }
    for (; i < end; i++) {
      mul(0, b[i]!, P5H, P5L);
      rotl(hH ^ rH, hL ^ rL, 11);
      mul(rH, rL, P1H, P1L);
      hH = rH;
      hL = rL;
    }
    // avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
    mul(hH, hL ^ (hH >>> 1), P2H, P2L);
    mul(rH ^ (rH >>> 29), rL ^ ((rL >>> 29) | (rH << 3)), P3H, P3L);
    this.hashHi = rH >>> 0;
    this.hashLo = (rL ^ rH) >>> 0;
  }

  /**
   * Whole stripes of the bytes at `dv[at, stop)` (a multiple of 32): the hot loop. Each lane is
   * `round` written out (see the module header for why by hand): `m = lane * P2`, `s = acc + m`,
   * `r = rotl(s, 31)`, `acc = r * P1`.
   */
  private stripes(dv: DataView<ArrayBufferLike>, at: number, stop: number): void {
    let v0h = this.v0h;
    let v0l = this.v0l;
    let v1h = this.v1h;
    let v1l = this.v1l;
    let v2h = this.v2h;
    let v2l = this.v2l;
    let v3h = this.v3h;
    let v3l = this.v3l;
    let lh: number;
    let ll: number;
    let mh: number;
    let ml: number;
    let sh: number;
    let sl: number;
    let u: number;
    for (; at < stop; at += STRIPE_BYTES) {
      ll = dv.getInt32(at, true);
      lh = dv.getInt32(at + 4, true);
      u = ll >>> 0;
      ml = Math.imul(ll, P2L);
      mh =
        (Math.floor((u * P2L1 + Math.floor((u * P2L0) / 65536)) / 65536) +
          Math.imul(lh, P2L) +
          Math.imul(ll, P2H)) |
        0;
      sl = (v0l + ml) | 0;
      sh = (v0h + mh + (((v0l & ml) | ((v0l | ml) & ~sl)) >>> 31)) | 0;
      lh = (sh << 31) | (sl >>> 1);
      ll = (sl << 31) | (sh >>> 1);
      u = ll >>> 0;
      v0l = Math.imul(ll, P1L);
      v0h =
        (Math.floor((u * P1L1 + Math.floor((u * P1L0) / 65536)) / 65536) +
          Math.imul(lh, P1L) +
          Math.imul(ll, P1H)) |
        0;

      ll = dv.getInt32(at + 8, true);
      lh = dv.getInt32(at + 12, true);
      u = ll >>> 0;
      ml = Math.imul(ll, P2L);
      mh =
        (Math.floor((u * P2L1 + Math.floor((u * P2L0) / 65536)) / 65536) +
          Math.imul(lh, P2L) +
          Math.imul(ll, P2H)) |
        0;
      sl = (v1l + ml) | 0;
      sh = (v1h + mh + (((v1l & ml) | ((v1l | ml) & ~sl)) >>> 31)) | 0;
      lh = (sh << 31) | (sl >>> 1);
      ll = (sl << 31) | (sh >>> 1);
      u = ll >>> 0;
      v1l = Math.imul(ll, P1L);
      v1h =
        (Math.floor((u * P1L1 + Math.floor((u * P1L0) / 65536)) / 65536) +
          Math.imul(lh, P1L) +
          Math.imul(ll, P1H)) |
        0;

      ll = dv.getInt32(at + 16, true);
      lh = dv.getInt32(at + 20, true);
      u = ll >>> 0;
      ml = Math.imul(ll, P2L);
      mh =
        (Math.floor((u * P2L1 + Math.floor((u * P2L0) / 65536)) / 65536) +
          Math.imul(lh, P2L) +
          Math.imul(ll, P2H)) |
        0;
      sl = (v2l + ml) | 0;
      sh = (v2h + mh + (((v2l & ml) | ((v2l | ml) & ~sl)) >>> 31)) | 0;
      lh = (sh << 31) | (sl >>> 1);
      ll = (sl << 31) | (sh >>> 1);
      u = ll >>> 0;
      v2l = Math.imul(ll, P1L);
      v2h =
        (Math.floor((u * P1L1 + Math.floor((u * P1L0) / 65536)) / 65536) +
          Math.imul(lh, P1L) +
          Math.imul(ll, P1H)) |
        0;

      ll = dv.getInt32(at + 24, true);
      lh = dv.getInt32(at + 28, true);
      u = ll >>> 0;
      ml = Math.imul(ll, P2L);
      mh =
        (Math.floor((u * P2L1 + Math.floor((u * P2L0) / 65536)) / 65536) +
          Math.imul(lh, P2L) +
          Math.imul(ll, P2H)) |
        0;
      sl = (v3l + ml) | 0;
      sh = (v3h + mh + (((v3l & ml) | ((v3l | ml) & ~sl)) >>> 31)) | 0;
      lh = (sh << 31) | (sl >>> 1);
      ll = (sl << 31) | (sh >>> 1);
      u = ll >>> 0;
      v3l = Math.imul(ll, P1L);
      v3h =
        (Math.floor((u * P1L1 + Math.floor((u * P1L0) / 65536)) / 65536) +
          Math.imul(lh, P1L) +
          Math.imul(ll, P1H)) |
        0;
    }
    this.v0h = v0h;
    this.v0l = v0l;
    this.v1h = v1h;
    this.v1l = v1l;
    this.v2h = v2h;
    this.v2l = v2l;
    this.v3h = v3h;
    this.v3l = v3l;
  }
}

const shared = new Xxh64();

/** xxhash64 of `data[start, end)` in one call, as an unsigned 64-bit bigint. */
export function xxh64Range(data: Uint8Array, start = 0, end = data.length, seed: bigint = 0n): bigint {
  return shared.reset(seed).update(data, start, end).digest();
}
