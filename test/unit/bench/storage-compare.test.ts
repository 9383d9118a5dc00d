/** compareReports: ratios per metric, the direction of "better", the threshold, unmatched rows. */
import test from 'ava';
import { isFerryError } from '../../../src/index.js';
import { compareReports, readReport, renderComparison } from '../../../bench/compare.js';
import { jobResult, sampleReport } from './storage-fixtures.js';

test('the same report compares equal everywhere', (t) => {
  const c = compareReports(sampleReport(), sampleReport());
  t.is(c.regressions, 0);
  t.true(c.rows.length >= 15);
  t.true(c.rows.every((r) => r.ratio === 1 && !r.regression && !r.improvement));
});

test('lower bandwidth and higher latency beyond the threshold are regressions; the reverse improvements', (t) => {
  const old = sampleReport();
  const slower = sampleReport({
    results: [
      jobResult('randread-4k', 'local', 400e6, 20_000),
      jobResult('randread-4k', 'remote', 30e6, 300_000),
      jobResult('randread-4k', 'fio', 900e6, 5_000),
    ],
  });
  const c = compareReports(old, slower, 0.1);
  const bad = c.rows.filter((r) => r.regression).map((r) => `${r.key} ${r.metric}`);
  t.true(bad.includes('randread-4k remote bw_bytes'));
  t.true(bad.includes('randread-4k remote clat p99'));
  t.false(
    bad.some((k) => k.startsWith('randread-4k local')),
    'unchanged rows are not regressions',
  );
  t.true(c.rows.some((r) => r.key === 'randread-4k fio' && r.metric === 'bw_bytes' && r.improvement));
  t.is(c.regressions, bad.length);
  const bw = c.rows.find((r) => r.key === 'randread-4k remote' && r.metric === 'bw_bytes')!;
  t.is(bw.ratio, bw.new / bw.old);
  t.is(compareReports(old, slower, 0.6).regressions, 0, 'a loose threshold lets a 25 % / 50 % change pass');
  t.regex(renderComparison(c, false), /REGRESSION/);
  t.true(renderComparison(c, true).includes('\u001b[31mREGRESSION'), 'red on a terminal');
});

test('rows missing or not ok on one side are listed, not compared', (t) => {
  const skipped = sampleReport();
  skipped.results[1] = { ...skipped.results[1]!, status: 'skipped', reason: 'no server' };
  const c = compareReports(sampleReport(), skipped);
  t.deepEqual(c.notCompared, ['randread-4k remote']);
  t.false(c.rows.some((r) => r.key === 'randread-4k remote'));
});

test('bad input: different kinds, a bad threshold, text that is not a report', (t) => {
  t.true(
    isFerryError(
      t.throws(() => compareReports(sampleReport(), sampleReport({ kind: 'fs' }))),
      'INVALID_ARGUMENT',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => compareReports(sampleReport(), sampleReport(), 0)),
      'INVALID_ARGUMENT',
    ),
  );
  t.regex(t.throws(() => readReport('{', 'a.json'))!.message, /a\.json is not JSON/);
  t.regex(
    t.throws(() => readReport('{"schema":1}', 'b.json'))!.message,
    /b\.json is not a ferry\.bench\.storage\/1 report \(\$\.schema is 1\)/,
  );
  t.regex(
    t.throws(() => readReport(JSON.stringify({ ...sampleReport(), results: 5 }), 'd.json'))!.message,
    /d\.json is not a ferry\.bench\.storage\/1 report: \$\.results: expected array, got integer/,
  );
  t.deepEqual(readReport(JSON.stringify(sampleReport()), 'c.json'), sampleReport());
});
