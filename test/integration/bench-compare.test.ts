/** `ferry bench compare OLD NEW`: exit 0 without regression, 1 with one (for CI), 2 for bad input. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runFerry } from '../helpers/cli.js';
import { jobResult, sampleReport } from '../unit/bench/storage-fixtures.js';

test('ferry bench compare: regressions marked and exit 1; within threshold exit 0; bad files exit 2', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-compare-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const oldFile = path.join(dir, 'old.json');
  const newFile = path.join(dir, 'new.json');
  await writeFile(oldFile, JSON.stringify(sampleReport()));
  const slower = sampleReport({
    results: [
      jobResult('randread-4k', 'local', 400e6, 20_000),
      jobResult('randread-4k', 'remote', 20e6, 200_000),
      jobResult('randread-4k', 'fio', 800e6, 5_000),
    ],
  });
  await writeFile(newFile, JSON.stringify(slower));

  const worse = await runFerry(['bench', 'compare', oldFile, newFile]);
  t.is(worse.code, 1, worse.stderr);
  t.regex(worse.stdout, /randread-4k remote\s+bw_bytes\s+40\.0 MB\/s\s+20\.0 MB\/s\s+0\.50x\s+REGRESSION/);
  t.regex(worse.stdout, /regression\(s\) beyond 10 %/);

  const loose = await runFerry(['bench', 'compare', oldFile, newFile, '--threshold', '0.6', '--json']);
  t.is(loose.code, 0, loose.stderr);
  const c = JSON.parse(loose.stdout) as { regressions: number; threshold: number; rows: unknown[] };
  t.is(c.regressions, 0);
  t.is(c.threshold, 0.6);
  t.true(c.rows.length > 0);

  const missing = await runFerry(['bench', 'compare', oldFile, path.join(dir, 'nope.json')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read .*nope\.json/);
});
