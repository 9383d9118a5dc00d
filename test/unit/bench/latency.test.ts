import test from 'ava';
import { LatencyHistogram } from '../../../bench/lib/latency.js';
import { formatTable, formatNumber } from '../../../bench/lib/table.js';

test('percentiles are within the histogram resolution and never under-report', (t) => {
  const h = new LatencyHistogram();
  for (let v = 1; v <= 100_000; v++) h.recordNs(v * 1000);
  for (const [p, exact] of [
    [50, 50_000_000],
    [99, 99_000_000],
    [99.9, 99_900_000],
  ] as const) {
    const got = h.percentileNs(p);
    t.true(got >= exact, `p${p}: ${got} >= ${exact}`);
    t.true(got <= exact * 1.035, `p${p}: ${got} within 3.5 % of ${exact}`);
  }
  t.is(h.count, 100_000);
  t.is(h.summary().max_ns, 100_000_000);
});

test('merge and JSON round trip keep every sample', (t) => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let i = 0; i < 1000; i++) a.recordNs(10 + i);
  for (let i = 0; i < 1000; i++) b.recordNs(1e6 + i * 1000);
  a.merge(LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(b.toJSON()))));
  t.is(a.count, 2000);
  t.true(a.percentileNs(50) < 1100);
  t.true(a.percentileNs(75) >= 1e6);
  t.deepEqual(LatencyHistogram.fromJSON(a.toJSON()).summary(), a.summary());
});

test('table aligns columns and formats numbers', (t) => {
  const out = formatTable(
    ['peer', 'MB/s'],
    [
      ['dgram', 256.04],
      ['ferry', 1234.5],
    ],
  ).split('\n');
  t.deepEqual(out, ['peer    MB/s', '-----  -----', 'dgram    256', 'ferry  1,235']);
  t.is(formatNumber(0.01234), '0.012');
});

test('an empty histogram survives JSON and merges as nothing', (t) => {
  const a = new LatencyHistogram();
  a.recordNs(500);
  a.merge(LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(new LatencyHistogram().toJSON()))));
  t.is(a.count, 1);
  t.is(a.summary().min_ns, 500);
});
