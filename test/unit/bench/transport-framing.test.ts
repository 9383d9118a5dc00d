/**
 * The stream framing of the transport benchmark (TCP and udx links): whatever way the stream is cut
 * into chunks, the reader hands over every frame once, in order, with its header and size, and
 * refuses a length field outside the allowed range.
 */
import test from 'ava';
import fc from 'fast-check';
import { FrameReader, framePrefix } from '../../../bench/transport/framing.js';
import {
  fromOf,
  HEADER_BYTES,
  KIND_DATA,
  kindOf,
  seqOf,
  sizeOf,
  writeHeader,
} from '../../../bench/transport/message.js';

function frame(seq: number, sizeBytes: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  writeHeader(h, KIND_DATA, 7, seq, sizeBytes);
  return Buffer.concat([
    framePrefix(h, sizeBytes - HEADER_BYTES),
    Buffer.alloc(sizeBytes - HEADER_BYTES, seq & 0xff),
  ]);
}

test('every frame comes out once, in order, however the stream is chunked', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: HEADER_BYTES, max: 5000 }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.integer({ min: 1, max: 7000 }), { minLength: 1, maxLength: 50 }),
      (sizes, cuts) => {
        const stream = Buffer.concat(sizes.map((s, i) => frame(i, s)));
        const got: { seq: number; size: number; from: number; kind: number; declared: number }[] = [];
        const reader = new FrameReader(
          (h, size) =>
            got.push({ seq: seqOf(h), size, from: fromOf(h), kind: kindOf(h), declared: sizeOf(h) }),
          8000,
        );
        let off = 0;
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          reader.push(stream.subarray(off, off + n));
          off += n;
        }
        t.deepEqual(
          got,
          sizes.map((s, i) => ({ seq: i, size: s, from: 7, kind: KIND_DATA, declared: s })),
        );
      },
    ),
  );
});

test('a length outside [header, max] is refused', (t) => {
  const reader = new FrameReader(() => t.fail('no frame expected'), 1000);
  const bad = Buffer.alloc(4 + HEADER_BYTES);
  bad.writeUInt32LE(5000, 0);
  t.throws(() => reader.push(bad), { message: /corrupt stream/ });
  const short = new FrameReader(() => t.fail('no frame expected'), 1000);
  const tiny = Buffer.alloc(4 + HEADER_BYTES);
  tiny.writeUInt32LE(HEADER_BYTES - 1, 0);
  t.throws(() => short.push(tiny), { message: /corrupt stream/ });
});
