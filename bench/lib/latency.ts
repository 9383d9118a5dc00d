/**
 * Latency recording without allocation per sample: a log-linear histogram (like HdrHistogram, coarser)
 * with 2^SUB_BUCKET_BITS linear sub-buckets per power of two, so every recorded value is kept within
 * ~1.6 % relative error from 1 ns to about 18 minutes. Percentiles are read off the counts.
 */

const SUB_BUCKET_BITS = 6;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
/** Powers of two covered: values up to 2^40 ns (about 18 minutes). */
const MAX_EXPONENT = 40;

export class LatencyHistogram {
  private readonly counts = new Float64Array((MAX_EXPONENT + 1) * SUB_BUCKETS);
  private total = 0;
  private sumNs = 0;
  private minNs = Infinity;
  private maxNs = 0;

  /** Records one sample in nanoseconds (clamped to the covered range). */
  recordNs(valueNs: number): void {
    const v = Math.max(1, Math.min(valueNs, 2 ** MAX_EXPONENT - 1));
    this.counts[indexOf(v)]!++;
    this.total++;
    this.sumNs += v;
    if (v < this.minNs) this.minNs = v;
    if (v > this.maxNs) this.maxNs = v;
  }

  get count(): number {
    return this.total;
  }

  /** The value at percentile `p` (0..100), in nanoseconds; 0 when empty. */
  percentileNs(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(valueOf(i), this.maxNs);
    }
    return this.maxNs;
  }

  /** Adds another histogram's samples to this one. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sumNs += other.sumNs;
    this.minNs = Math.min(this.minNs, other.minNs);
    this.maxNs = Math.max(this.maxNs, other.maxNs);
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      min_ns: this.total ? this.minNs : 0,
      mean_ns: this.total ? this.sumNs / this.total : 0,
      max_ns: this.maxNs,
      percentile: {
        '50.000000': this.percentileNs(50),
        '90.000000': this.percentileNs(90),
        '99.000000': this.percentileNs(99),
        '99.900000': this.percentileNs(99.9),
      },
    };
  }

  /** Serialisable form, to send a histogram from a worker process to the parent. */
  toJSON(): { counts: number[]; total: number; sumNs: number; minNs: number; maxNs: number } {
    const counts: number[] = [];
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i]) counts.push(i, this.counts[i]!);
    // An empty histogram's minimum is Infinity, which JSON cannot carry: send null-free 0 and let
    // fromJSON restore Infinity from the zero count, so merging an empty histogram changes nothing.
    return {
      counts,
      total: this.total,
      sumNs: this.sumNs,
      minNs: this.total ? this.minNs : 0,
      maxNs: this.maxNs,
    };
  }

  static fromJSON(j: ReturnType<LatencyHistogram['toJSON']>): LatencyHistogram {
    const h = new LatencyHistogram();
    for (let k = 0; k + 1 < j.counts.length; k += 2) h.counts[j.counts[k]!] = j.counts[k + 1]!;
    h.total = j.total;
    h.sumNs = j.sumNs;
    h.minNs = j.total ? j.minNs : Infinity;
    h.maxNs = j.maxNs;
    return h;
  }
}

/** Field names follow fio's JSON (`clat_ns.percentile["99.000000"]`) where they mean the same. */
export interface LatencySummary {
  count: number;
  min_ns: number;
  mean_ns: number;
  max_ns: number;
  percentile: Record<'50.000000' | '90.000000' | '99.000000' | '99.900000', number>;
}

function indexOf(v: number): number {
  const exp = Math.floor(Math.log2(v));
  if (exp < SUB_BUCKET_BITS) return Math.floor(v);
  const shift = exp - SUB_BUCKET_BITS;
  const sub = Math.floor(v / 2 ** shift) - SUB_BUCKETS;
  return (shift + 1) * SUB_BUCKETS + sub;
}

function valueOf(index: number): number {
  const group = Math.floor(index / SUB_BUCKETS);
  const sub = index % SUB_BUCKETS;
  if (group === 0) return sub;
  const shift = group - 1;
  // Upper edge of the bucket: never under-reports a percentile.
  return (SUB_BUCKETS + sub + 1) * 2 ** shift - 1;
}
