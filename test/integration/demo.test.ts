import test from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFerry } from '../helpers/cli.js';

interface DemoSummary {
  sizeBytes: number;
  rounds: { loss: number; identical: boolean; upload: { bytes: number }; download: { bytes: number } }[];
  goodputKept: { upload: number; download: number } | null;
}

test('ferry demo copies up and down, clean and under loss, verifies, and leaves nothing behind', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-demo-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await runFerry(['demo', '--size', '8MiB', '--loss', '0.02', '--dir', dir, '--json'], {
    timeoutMs: 120_000,
  });
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as DemoSummary;
  t.is(s.sizeBytes, 8 * 1024 * 1024);
  t.deepEqual(
    s.rounds.map((x) => x.loss),
    [0, 0.02],
  );
  for (const round of s.rounds) {
    t.true(round.identical);
    t.is(round.upload.bytes, s.sizeBytes);
    t.is(round.download.bytes, s.sizeBytes);
  }
  t.truthy(s.goodputKept);
  t.deepEqual(await readdir(dir), [], 'the demo removes its temporary files');
});

test('ferry demo refuses a bad size with exit 2 and a one-line fix', async (t) => {
  const r = await runFerry(['demo', '--size', 'lots']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--size lots: give a size from 1MiB to 4GiB/);
  t.is(r.stderr.trim().split('\n').length, 1);
});
