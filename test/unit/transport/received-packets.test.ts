import test from 'ava';
import fc from 'fast-check';
import { LIMITS } from '../../../src/core/limits.js';
import { ReceivedPackets } from '../../../src/transport/udp/received-packets.js';

test('matches a set model: record/has, cumulative ack and ranges (within the range limit)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 300 }), (pns) => {
      const r = new ReceivedPackets();
      const model = new Set<number>();
      for (const pn of pns) {
        t.is(r.record(pn), !model.has(pn));
        model.add(pn);
      }
      let cum = 0;
      while (model.has(cum + 1)) cum++;
      t.is(r.cumulativeAck, cum);
      const starts = new Float64Array(LIMITS.MAX_TRACKED_RANGES);
      const lengths = new Uint32Array(LIMITS.MAX_TRACKED_RANGES);
      const n = r.highestRanges(starts, lengths, LIMITS.MAX_TRACKED_RANGES);
      const fromRanges = new Set<number>();
      for (let i = 0; i < n; i++) for (let k = 0; k < lengths[i]!; k++) fromRanges.add(starts[i]! + k);
      const above = [...model].filter((pn) => pn > cum).sort((a, b) => a - b);
      t.deepEqual(
        [...fromRanges].sort((a, b) => a - b),
        above,
      );
      for (let i = 1; i < n; i++)
        t.true(starts[i]! > starts[i - 1]! + lengths[i - 1]!, 'ascending, disjoint');
    }),
    { numRuns: 300 },
  );
});

test('least-unacked moves the cumulative ack past holes the sender gave up', (t) => {
  const r = new ReceivedPackets();
  for (const pn of [1, 2, 4, 5, 9]) r.record(pn);
  t.is(r.cumulativeAck, 2);
  r.advanceTo(4); // 3 was lost and will never come under that number
  t.is(r.cumulativeAck, 5);
  t.is(r.rangeCount, 1);
  t.true(r.has(3));
  t.false(r.record(3), 'a late copy of an abandoned number counts as seen');
});

test('the number of ranges stays bounded: the lowest ranges are forgotten', (t) => {
  const r = new ReceivedPackets();
  for (let i = 0; i < 1000; i++) r.record(3 + 2 * i);
  t.is(r.rangeCount, LIMITS.MAX_TRACKED_RANGES);
  t.true(r.has(3 + 2 * 999));
});
