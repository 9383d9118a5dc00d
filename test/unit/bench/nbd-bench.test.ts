/**
 * `ferry bench nbd`: its options (bounds, defaults, smoke) and its text report (ratios, the verify
 * row, a missing tool as a note). Running the servers and fio is left to the command itself.
 */
import test from 'ava';
import { FerryError } from '../../../src/core/errors.js';
import { MiB } from '../../../src/core/limits.js';
import {
  NBD_JOBS,
  parseNbdBenchOptions,
  renderNbdReport,
  type NbdBenchReport,
} from '../../../bench/nbd/index.js';

test('defaults: 256 MiB, 4 s per job, depth 16, one round, every job, verify on; smoke is small and short', (t) => {
  const o = parseNbdBenchOptions({});
  t.like(o, { sizeBytes: 256 * MiB, runtimeMs: 4000, iodepth: 16, rounds: 1, verify: true });
  t.deepEqual(
    o.jobs.map((j) => j.name),
    NBD_JOBS.map((j) => j.name),
  );
  t.like(parseNbdBenchOptions({ smoke: true }), { sizeBytes: 16 * MiB, runtimeMs: 500 });
  t.like(parseNbdBenchOptions({ runtime: '2', size: '64MiB', rounds: '3', verify: false }), {
    runtimeMs: 2000,
    sizeBytes: 64 * MiB,
    rounds: 3,
    verify: false,
  });
  t.is(parseNbdBenchOptions({ runtime: '750ms' }).runtimeMs, 750);
  t.deepEqual(
    parseNbdBenchOptions({ only: 'randread-4k, seqwrite-1m' }).jobs.map((j) => j.name),
    ['seqwrite-1m', 'randread-4k'],
  );
});

test('out-of-bounds and unknown values are INVALID_ARGUMENT naming the accepted range', (t) => {
  const bad: Array<[Parameters<typeof parseNbdBenchOptions>[0], RegExp]> = [
    [{ size: '1MiB' }, /--size 1MiB: give 16 MiB/],
    [{ runtime: '0' }, /--runtime 0/],
    [{ iodepth: '0' }, /--iodepth 0: give an integer 1..256/],
    [{ rounds: '21' }, /--rounds 21: give an integer 1..20/],
    [{ only: 'seqread-4k' }, /--only seqread-4k: unknown job; the jobs are seqwrite-1m/],
  ];
  for (const [raw, message] of bad) {
    const err = t.throws(() => parseNbdBenchOptions(raw), { instanceOf: FerryError });
    t.is((err as FerryError).code, 'INVALID_ARGUMENT');
    t.regex(err!.message, message);
  }
});

test('the report: medians per target, the ratio, the verify row and the notes', (t) => {
  const report: NbdBenchReport = {
    kind: 'nbd',
    size_bytes: 256 * MiB,
    runtime_ms: 4000,
    iodepth: 16,
    rounds: 3,
    jobs: [
      {
        job: 'seqread-1m',
        unit: 'MiB/s',
        ferry: [100, 300, 200],
        nbdkit: [400, 400, 500],
        ratio: 0.5,
        notes: [],
      },
      { job: 'randread-4k', unit: 'IOPS', ferry: [5000], nbdkit: null, ratio: null, notes: [] },
    ],
    verify: { status: 'ok', detail: '4096 blocks written, all read back intact' },
    notes: ['nbdkit is not installed: apt-get install -y nbdkit (no anchor column)'],
    interrupted: false,
  };
  const text = renderNbdReport(report);
  t.regex(text, /seqread-1m\s+MiB\/s\s+200\s+400\s+0\.50x/);
  t.regex(text, /randread-4k\s+IOPS\s+5,000\s+-\s+-/);
  t.regex(text, /verify \(crc32c over ferry\): ok/);
  t.regex(text, /note: nbdkit is not installed: apt-get install -y nbdkit/);
});
