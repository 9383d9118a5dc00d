/**
 * The 32-bit sequence fields expand to the full sequence nearest what the reader expects, at and
 * around every wrap; the FIFO count skips the values whose wire form means "unordered"; the ACK body
 * carries full sequences across the wrap.
 */
import test from 'ava';
import fc from 'fast-check';
import { LIMITS } from '../../../src/core/limits.js';
import { AckBodyView, ackBodyBytes, writeAckBody } from '../../../src/wire/control-bodies.js';
import { expandSeq, fifoSeqAfter, seqToWire, SEQ_WIRE_SPAN } from '../../../src/wire/sequence.js';

const TWO_32 = 2 ** 32;
const W = LIMITS.MAX_MESSAGE_WINDOW;

test('values below 2^32 go on the wire unchanged; above, their low 32 bits', (t) => {
  t.is(SEQ_WIRE_SPAN, TWO_32);
  t.deepEqual([1, 12345, TWO_32 - 1].map(seqToWire), [1, 12345, TWO_32 - 1]);
  t.deepEqual([TWO_32, TWO_32 + 7, 5 * TWO_32 + 3, Number.MAX_SAFE_INTEGER].map(seqToWire), [
    0,
    7,
    3,
    TWO_32 - 1,
  ]);
});

test('expansion near the start of the sequence space returns the wire value itself', (t) => {
  t.is(expandSeq(1, 1), 1);
  t.is(expandSeq(0, 1), 0, 'below the base: an old one, never 2^32');
  t.is(expandSeq(W, 1), W);
  t.is(expandSeq(TWO_32 - 1, 1), TWO_32 - 1, 'no negative candidate');
  t.is(expandSeq(2 ** 31, 0), 2 ** 31);
});

test('expansion with the base just below 2^32: values on both sides of the wrap', (t) => {
  const base = TWO_32 - 3;
  t.is(expandSeq(TWO_32 - 3, base), TWO_32 - 3, 'the base itself');
  t.is(expandSeq(TWO_32 - 1, base), TWO_32 - 1);
  t.is(expandSeq(0, base), TWO_32, 'wire 0 is message 2^32');
  t.is(expandSeq(5, base), TWO_32 + 5);
  t.is(expandSeq(W - 4, base), TWO_32 + W - 4, 'the window top');
  t.is(expandSeq(TWO_32 - 3 - W, base), TWO_32 - 3 - W, 'a window below the base (an old duplicate)');
});

test('expansion with the base just above 2^32: old values before the wrap stay below it', (t) => {
  const base = TWO_32 + 2;
  t.is(expandSeq(2, base), base);
  t.is(expandSeq(0, base), TWO_32);
  t.is(expandSeq(TWO_32 - 1, base), TWO_32 - 1, 'a duplicate from before the wrap');
  t.is(expandSeq(TWO_32 - W, base), TWO_32 - W);
  t.is(expandSeq(2 + W - 1, base), base + W - 1);
});

test('the candidate is the one within (expected - 2^31, expected + 2^31]', (t) => {
  const e = 3 * TWO_32 + 100;
  t.is(expandSeq(100 + 2 ** 31, e), e + 2 ** 31, 'exactly half a span above: kept above');
  t.is(expandSeq(100 - 2 ** 31 + TWO_32, e), e + 2 ** 31, 'the same wire value');
  t.is(expandSeq(101 + 2 ** 31, e), e - 2 ** 31 + 1, 'just past half a span: below');
});

test('every full sequence within 2^31 of the expected one round-trips through its wire value', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 52 }),
      fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 }),
      (expected, offset) => {
        const seq = expected + offset;
        fc.pre(seq >= 0);
        return expandSeq(seqToWire(seq), expected) === seq;
      },
    ),
    { numRuns: 5000 },
  );
  // the window's edges around each of the first wraps, exhaustively
  for (let wrap = 1; wrap <= 3; wrap++) {
    for (let base = wrap * TWO_32 - W - 2; base <= wrap * TWO_32 + 2; base += 1 + Math.floor(W / 7)) {
      for (const seq of [base - W, base - 1, base, base + 1, base + W - 1, base + W])
        if (expandSeq(seqToWire(seq), base) !== seq) return t.fail(`seq ${seq} around base ${base}`);
    }
  }
  t.pass();
});

test('the FIFO sequence skips every value whose wire form is 0 (unordered)', (t) => {
  t.is(fifoSeqAfter(1), 2);
  t.is(fifoSeqAfter(TWO_32 - 2), TWO_32 - 1);
  t.is(fifoSeqAfter(TWO_32 - 1), TWO_32 + 1);
  t.is(fifoSeqAfter(2 * TWO_32 - 1), 2 * TWO_32 + 1);
  let f = TWO_32 - 5;
  for (let i = 0; i < 10; i++) {
    f = fifoSeqAfter(f);
    t.not(seqToWire(f), 0);
  }
});

test('an ACK body across the wrap: delivered below and ranges come back as full sequences', (t) => {
  const below = TWO_32 - 2;
  const starts = [TWO_32 - 1 + 1, TWO_32 + 10]; // the first range starts at 2^32 (wire 0)
  const lengths = [3, 2];
  const buf = Buffer.alloc(ackBodyBytes(2));
  writeAckBody(buf, 0, below, starts, lengths, 2);
  t.is(buf.readUInt32BE(0), TWO_32 - 2);
  const ack = new AckBodyView();
  for (const near of [below - 100, below, TWO_32 + 50]) {
    t.true(ack.decode(buf, 0, buf.length, near));
    t.deepEqual(
      [ack.deliveredBelow, ack.rangeStart[0], ack.rangeLength[0], ack.rangeStart[1], ack.rangeLength[1]],
      [below, TWO_32, 3, TWO_32 + 10, 2],
      `expanded near ${near}`,
    );
  }
  // below past the wrap, far into the sequence space
  const far = 7 * TWO_32 + 5;
  writeAckBody(buf, 0, far, [far + 1, far + 9], [1, 1], 2);
  t.true(ack.decode(buf, 0, buf.length, far - W));
  t.deepEqual([ack.deliveredBelow, ack.rangeStart[0], ack.rangeStart[1]], [far, far + 1, far + 9]);
});

test('an ACK body with ranges not above delivered below, overlapping, or past 32 bits of offset is refused', (t) => {
  const ack = new AckBodyView();
  const body = (deltas: [number, number][]): Buffer => {
    const b = Buffer.alloc(ackBodyBytes(deltas.length));
    b.writeUInt32BE(TWO_32 - 1, 0);
    b.writeUInt16BE(deltas.length, 4);
    deltas.forEach(([d, l], i) => {
      b.writeUInt32BE(d, 8 + 8 * i);
      b.writeUInt32BE(l, 12 + 8 * i);
    });
    return b;
  };
  const ok = body([[2, 3]]);
  t.true(ack.decode(ok, 0, ok.length, TWO_32 - 1), 'a range crossing the wrap is fine');
  t.is(ack.rangeStart[0], TWO_32 + 1);
  for (const bad of [
    [[0, 1]],
    [[2, 0]],
    [
      [2, 3],
      [4, 1],
    ],
    [[TWO_32 - 2, 2]],
  ] as [number, number][][]) {
    const b = body(bad);
    t.false(ack.decode(b, 0, b.length, TWO_32 - 1), JSON.stringify(bad));
  }
});
