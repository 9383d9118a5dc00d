/** The report schema: schema.json is the same document as schema.ts, and the checker finds real faults. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { STORAGE_JSON_SCHEMA, validateStorageReport } from '../../../bench/storage/index.js';
import { validateAgainst } from '../../../bench/storage/validate.js';
import { sampleReport } from './storage-fixtures.js';

test('bench/storage/schema.json is the schema the code checks with', (t) => {
  const file = JSON.parse(
    readFileSync(new URL('../../../bench/storage/schema.json', import.meta.url), 'utf8'),
  ) as unknown;
  t.deepEqual(file, JSON.parse(JSON.stringify(STORAGE_JSON_SCHEMA)));
});

test('a well-formed report has no problem', (t) => {
  t.deepEqual(validateStorageReport(sampleReport()), []);
});

test('faults are found and named by their JSON path', (t) => {
  const r = sampleReport() as unknown as Record<string, unknown> & { results: Record<string, unknown>[] };
  t.deepEqual(validateStorageReport({ ...r, schema: 'other/1' }), [
    '$.schema: expected "ferry.bench.storage/1"',
  ]);
  const { interrupted: _dropped, ...missing } = r;
  t.deepEqual(validateStorageReport(missing), ['$.interrupted: missing']);
  t.deepEqual(validateStorageReport({ ...r, extra: 1 }), ['$.extra: not allowed here']);
  const results = [
    { ...r.results[0], bw_bytes: -1 },
    { ...r.results[1], target: 'cloud' },
    { ...r.results[2], iodepth: 1.5 },
  ];
  t.deepEqual(validateStorageReport({ ...r, results }), [
    '$.results[0].bw_bytes: -1 is below 0 or not finite',
    '$.results[1].target: expected one of local, remote, fio, got "cloud"',
    '$.results[2].iodepth: expected integer, got number',
  ]);
  const lat = { ...(r.results[0]!.clat_ns as object), percentile: { '50.000000': 1 } };
  t.deepEqual(validateStorageReport({ ...r, results: [{ ...r.results[0], clat_ns: lat }] }), [
    '$.results[0].clat_ns.percentile.90.000000: missing',
    '$.results[0].clat_ns.percentile.99.000000: missing',
    '$.results[0].clat_ns.percentile.99.900000: missing',
  ]);
  t.deepEqual(validateStorageReport([]), ['$: expected object, got array']);
});

test('the checker reports a missing $ref definition instead of passing silently', (t) => {
  t.throws(() => validateAgainst({ $ref: '#/$defs/nothing' }, {}), { message: /missing definition/ });
});
