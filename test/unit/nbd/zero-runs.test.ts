// Zero-run detection for hole chunks in structured READ replies.
import test from 'ava';
import { splitZeroRuns } from '../../../src/nbd/zero-runs.js';

const KiB = 1024;

test('random data is one data piece; an all-zero read is one hole', (t) => {
  const data = Buffer.alloc(256 * KiB, 7);
  t.deepEqual(splitZeroRuns(data, data.length, 0, 4096, 64 * KiB), [
    { start: 0, length: 256 * KiB, hole: false },
  ]);
  t.deepEqual(splitZeroRuns(Buffer.alloc(256 * KiB), 256 * KiB, 0, 4096, 64 * KiB), [
    { start: 0, length: 256 * KiB, hole: true },
  ]);
});

test('runs shorter than the minimum stay data; long runs become holes on grain boundaries', (t) => {
  const data = Buffer.alloc(512 * KiB, 1);
  data.fill(0, 10 * KiB, 50 * KiB); // 40 KiB: too short
  data.fill(0, 100 * KiB + 5, 300 * KiB); // holes start on the next 4 KiB boundary
  const pieces = splitZeroRuns(data, data.length, 0, 4096, 64 * KiB);
  t.deepEqual(pieces, [
    { start: 0, length: 104 * KiB, hole: false },
    { start: 104 * KiB, length: 196 * KiB, hole: true },
    { start: 300 * KiB, length: 212 * KiB, hole: false },
  ]);
  t.is(
    pieces.reduce((n, p) => n + p.length, 0),
    data.length,
    'the pieces cover the read exactly',
  );
});

test('grains are aligned to the export, not to the read', (t) => {
  const data = Buffer.alloc(200 * KiB);
  data[0] = 1; // the first partial grain (export offset 1000..4096) holds data
  const pieces = splitZeroRuns(data, data.length, 1000, 4096, 64 * KiB);
  t.deepEqual(pieces[0], { start: 0, length: 4096 - 1000, hole: false });
  t.true(pieces[1]!.hole);
  t.is((1000 + pieces[1]!.start) % 4096, 0);
  const last = pieces[pieces.length - 1]!;
  t.is(last.start + last.length, data.length);
});
