/**
 * A fixed-size bit set of blocks (bit i in byte i>>3, least significant bit first), the layout of
 * the verified-block map on the wire and in the journal.
 *
 * Why shared: the server keeps it per offset upload (verified and durable blocks) and sends it on a
 * resume; the client reads the same bytes to skip what the server holds.
 */
export class Bitmap {
  readonly bytes: Uint8Array;
  private setCount = 0;

  constructor(
    readonly size: number,
    from?: Uint8Array,
  ) {
    this.bytes = new Uint8Array(Math.ceil(size / 8));
    if (from) {
      this.bytes.set(from.subarray(0, this.bytes.length));
      for (let i = 0; i < size; i++) if (this.has(i)) this.setCount++;
      // bits past `size` in the last byte are ignored
      const tail = size % 8;
      if (tail !== 0) this.bytes[this.bytes.length - 1]! &= (1 << tail) - 1;
    }
  }

  get count(): number {
    return this.setCount;
  }

  has(i: number): boolean {
    return ((this.bytes[i >> 3]! >> (i & 7)) & 1) === 1;
  }

  set(i: number): boolean {
    if (this.has(i)) return false;
    this.bytes[i >> 3]! |= 1 << (i & 7);
    this.setCount++;
    return true;
  }

  /** True when every bit is set. */
  full(): boolean {
    return this.setCount === this.size;
  }
}
