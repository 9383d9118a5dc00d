/**
 * Small buffers for frame headers and control frames, carved one after another from a shared slab.
 *
 * Why: every DATA frame needs its own 16-byte header that must stay untouched until the socket has
 * written it, and a write completes later. Recycling headers would need a callback per write (a
 * closure per message); carving them from a slab needs none: a region is handed out once and never
 * reused, and when the slab is used up a new one is taken, the old one freed by the garbage
 * collector once the socket let go of its last header. One allocation per SLAB_BYTES of headers.
 */

/** Size of one slab: 4096 DATA headers. */
export const SLAB_BYTES = 64 * 1024;

export class HeaderSlab {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;

  /** A fresh region of `bytes` (at most SLAB_BYTES / 4; larger ones get their own buffer). */
  take(bytes: number): Buffer {
    if (bytes > SLAB_BYTES / 4) return Buffer.allocUnsafe(bytes);
    if (this.used + bytes > SLAB_BYTES) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + bytes);
    this.used += bytes;
    return out;
  }
}
