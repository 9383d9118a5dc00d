/**
 * A reusable list of outgoing datagrams for one sendmmsg: per datagram a destination, a few buffer
 * slices sent as one scatter-gather datagram (a header and payload views, no copy), and optionally a
 * GSO segment size, which makes the kernel cut that datagram's bytes into segments of that size.
 *
 * The batch owns one descriptor array (uint32 words, layout in native/limits.h) and one slice list,
 * both reused: filling and sending a batch allocates nothing. Adding returns false when the batch is
 * full (send it and clear it), as data-path calls report statuses rather than throw.
 *
 * @example
 * const batch = new SendBatch();
 * batch.add(peer, header); batch.append(payload);   // one datagram of two slices
 * batch.add(peer, big, 1452);                       // GSO: big.length / 1452 datagrams on the wire
 * const sent = socket.sendBatch(batch);               // < batch.length: socket buffer full, await writable
 */
import { ferryError } from '../../core/errors.js';
import type { Destination } from './address.js';
import { DESC, NATIVE_UDP_DEFAULTS, NATIVE_UDP_LIMITS } from './native-limits.js';

const { DESC_STRIDE, MAX_SEND_BATCH, MAX_SEND_SLICES, MAX_SLICES_PER_DATAGRAM, MAX_DATAGRAM_BYTES } =
  NATIVE_UDP_LIMITS;

export class SendBatch {
  /** Descriptor words of the datagrams, DESC_STRIDE each. */
  readonly desc: Uint32Array;
  /** Every datagram's slices, in order (entries past `sliceCount` are stale). */
  readonly slices: Uint8Array[] = [];
  /** Datagrams in the batch. */
  length = 0;
  /** Slices in the batch. */
  sliceCount = 0;

  constructor(readonly capacity: number = NATIVE_UDP_DEFAULTS.SEND_BATCH) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_SEND_BATCH)
      throw ferryError(
        'INVALID_ARGUMENT',
        `SendBatch capacity must be an integer 1..${MAX_SEND_BATCH}, got ${capacity}`,
      );
    this.desc = new Uint32Array(capacity * DESC_STRIDE);
  }

  /**
   * Starts a datagram to `to` with its first slice (more with `append`). `segmentBytes` > 0 sends it
   * with UDP GSO: the kernel splits the datagram's bytes into segments of that size, the last one
   * shorter. False when the batch is full.
   */
  add(to: Destination, first: Uint8Array, segmentBytes = 0): boolean {
    if (this.length === this.capacity || this.sliceCount === MAX_SEND_SLICES) return false;
    if (!Number.isInteger(segmentBytes) || segmentBytes < 0 || segmentBytes > MAX_DATAGRAM_BYTES)
      throw ferryError(
        'INVALID_ARGUMENT',
        `segmentBytes must be an integer 0..${MAX_DATAGRAM_BYTES}, got ${segmentBytes}`,
      );
    const d = this.desc;
    const o = this.length * DESC_STRIDE;
    const w = to.words;
    d[o + DESC.SLICES] = 1;
    d[o + DESC.PORT_FLAGS] = w[0]!;
    d[o + DESC.ADDR] = w[1]!;
    d[o + DESC.ADDR + 1] = w[2]!;
    d[o + DESC.ADDR + 2] = w[3]!;
    d[o + DESC.ADDR + 3] = w[4]!;
    d[o + DESC.SEGMENT] = segmentBytes;
    this.slices[this.sliceCount++] = first;
    this.length++;
    return true;
  }

  /** Adds a slice to the last datagram. False when it has MAX_SLICES_PER_DATAGRAM or the batch is full. */
  append(slice: Uint8Array): boolean {
    if (this.length === 0)
      throw ferryError('INVALID_ARGUMENT', 'append() needs a datagram started with add()');
    const at = (this.length - 1) * DESC_STRIDE + DESC.SLICES;
    if (this.desc[at] === MAX_SLICES_PER_DATAGRAM || this.sliceCount === MAX_SEND_SLICES) return false;
    this.desc[at]!++;
    this.slices[this.sliceCount++] = slice;
    return true;
  }

  /** Slices the last datagram holds (0 when the batch is empty). */
  lastSlices(): number {
    return this.length === 0 ? 0 : this.desc[(this.length - 1) * DESC_STRIDE + DESC.SLICES]!;
  }

  /**
   * Sets the GSO segment size of the last datagram (0: send it whole), for a caller that grows one
   * datagram slice by slice into a run of equal segments.
   */
  setLastSegmentBytes(segmentBytes: number): void {
    if (this.length === 0) throw ferryError('INVALID_ARGUMENT', 'setLastSegmentBytes() needs a datagram');
    if (!Number.isInteger(segmentBytes) || segmentBytes < 0 || segmentBytes > MAX_DATAGRAM_BYTES)
      throw ferryError(
        'INVALID_ARGUMENT',
        `segmentBytes must be an integer 0..${MAX_DATAGRAM_BYTES}, got ${segmentBytes}`,
      );
    this.desc[(this.length - 1) * DESC_STRIDE + DESC.SEGMENT] = segmentBytes;
  }

  /** Adds one datagram made of `slices[0, count)`. False (and nothing added) when it does not fit. */
  addv(to: Destination, slices: readonly Uint8Array[], count = slices.length, segmentBytes = 0): boolean {
    if (count < 1 || count > MAX_SLICES_PER_DATAGRAM || count > slices.length)
      throw ferryError(
        'INVALID_ARGUMENT',
        `a datagram has 1..${MAX_SLICES_PER_DATAGRAM} slices, got ${count}`,
      );
    if (this.length === this.capacity || this.sliceCount + count > MAX_SEND_SLICES) return false;
    this.add(to, slices[0]!, segmentBytes);
    for (let i = 1; i < count; i++) this.append(slices[i]!);
    return true;
  }

  /** Empties the batch (and lets go of the buffers it referenced). */
  clear(): void {
    this.length = 0;
    this.sliceCount = 0;
    this.slices.length = 0;
  }

  /** Drops the first `n` datagrams (the ones a partial send took), keeping the rest in order. */
  discard(n: number): void {
    if (n >= this.length) return this.clear();
    if (n <= 0) return;
    let slices = 0;
    for (let i = 0; i < n; i++) slices += this.desc[i * DESC_STRIDE + DESC.SLICES]!;
    this.desc.copyWithin(0, n * DESC_STRIDE, this.length * DESC_STRIDE);
    this.slices.splice(0, slices);
    this.length -= n;
    this.sliceCount -= slices;
    this.slices.length = this.sliceCount;
  }
}
