/**
 * The storage engine against a real MemoryBlockDevice and MemoryFlatFs: counts add up, sequential
 * jobs walk the region in order, the mix honours its read share, layout fills every region, the
 * metadata phases make, see and remove exactly the same files, and an abort stops a job early.
 */
import test from 'ava';
import { MemoryBlockDevice, MemoryFlatFs } from '../../../src/index.js';
import { layOut, runDataJob } from '../../../bench/storage/engine.js';
import { DATA_JOBS, type DataJob } from '../../../bench/storage/jobs.js';
import { cleanUpMeta, newMetaState, runMetaJob } from '../../../bench/storage/meta.js';
import { openIoTarget, type IoTarget } from '../../../bench/storage/targets.js';

const MiB = 1024 * 1024;

function job(name: string): DataJob {
  const j = DATA_JOBS.find((x) => x.name === name);
  if (!j) throw new Error(name);
  return j;
}

async function device(
  t: import('ava').ExecutionContext,
  sizeBytes: number,
  regions: number,
): Promise<{ dev: MemoryBlockDevice; target: IoTarget }> {
  const dev = new MemoryBlockDevice({ sizeBytes });
  t.teardown(() => dev.close());
  const target = await openIoTarget(
    { kind: 'blockdev', dev, close: () => dev.close() },
    regions,
    sizeBytes / regions,
  );
  return { dev, target };
}

const run = { runtimeMs: 100, signal: new AbortController().signal };

test('layOut writes every byte of every region', async (t) => {
  const { dev, target } = await device(t, 4 * MiB, 2);
  await layOut(target, run.signal);
  t.deepEqual(
    (await dev.extents(0, dev.sizeBytes)).filter((e) => e.hole),
    [],
  );
});

test('a random read job counts bytes as ops x bs and reads nothing else', async (t) => {
  const { target } = await device(t, 2 * MiB, 1);
  const live = { bytes: 0, ops: 0 };
  const m = await runDataJob(target, job('randread-4k'), { ...run, iodepth: 4, live });
  t.true(m.read.ops > 0);
  t.is(m.read.bytes, m.read.ops * 4096);
  t.is(m.write.ops, 0);
  t.is(m.read.hist.count, m.read.ops);
  t.deepEqual(live, { bytes: m.read.bytes, ops: m.read.ops });
  t.true(m.elapsedMs >= 100);
});

test('a sequential write walks each region from its start, block after block', async (t) => {
  const { dev, target } = await device(t, 64 * MiB, 2);
  const m = await runDataJob(target, job('seqwrite-1m'), { runtimeMs: 60, signal: run.signal, iodepth: 1 });
  const perRegion = Math.min(32, m.write.ops / 2);
  t.true(perRegion >= 1);
  const written = (await dev.extents(0, dev.sizeBytes)).filter((e) => !e.hole);
  // Region 0 starts at 0, region 1 at 32 MiB: each written prefix is contiguous from its start.
  t.is(written[0]!.offset, 0);
  t.true(
    written.some((e) => e.offset === 32 * MiB),
    'the second region starts at its own base',
  );
});

test('the 70/30 mix reads about 70 % of its operations', async (t) => {
  const { target } = await device(t, 4 * MiB, 1);
  // Stop after a fixed number of operations (not a time), so the sample size does not depend on load.
  const ac = new AbortController();
  const counted: IoTarget = {
    ...target,
    readInto: (r, o, b) => (++ops >= 4000 && ac.abort(), target.readInto(r, o, b)),
    write: (r, o, d) => (++ops >= 4000 && ac.abort(), target.write(r, o, d)),
  };
  let ops = 0;
  const m = await runDataJob(counted, job('randrw-16k'), {
    runtimeMs: 600_000,
    signal: ac.signal,
    iodepth: 8,
    seed: 42,
  });
  const share = m.read.ops / (m.read.ops + m.write.ops);
  t.true(m.read.ops + m.write.ops >= 4000);
  t.true(share > 0.65 && share < 0.75, `read share ${share}`);
});

test('an aborted job stops long before its runtime', async (t) => {
  const { target } = await device(t, 2 * MiB, 1);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const m = await runDataJob(target, job('randwrite-4k'), {
    runtimeMs: 60_000,
    signal: ac.signal,
    iodepth: 2,
  });
  t.true(m.elapsedMs < 30_000);
  t.true(m.write.ops > 0);
});

test('metadata phases create, stat and delete the same files, and clean-up removes the rest', async (t) => {
  const fs = new MemoryFlatFs({ quotaBytes: 64 * MiB });
  t.teardown(() => fs.close());
  const state = newMetaState();
  const s = { files: 300, iodepth: 8, runtimeMs: 60_000, signal: run.signal };
  const created = await runMetaJob(fs, 'create', state, s);
  t.is(created.write.ops, 300);
  t.is((await fs.statfs()).files, 300);
  t.is((await fs.stat('ferry-bench-meta-299')).sizeBytes, 4096);
  const statted = await runMetaJob(fs, 'stat', state, s);
  t.is(statted.read.ops, 300);
  const deleted = await runMetaJob(fs, 'delete', state, { ...s, files: 300 });
  t.is(deleted.write.ops, 300);
  t.is((await fs.statfs()).files, 0);
  const again = newMetaState();
  await runMetaJob(fs, 'create', again, { ...s, files: 20 });
  await cleanUpMeta(fs, again);
  t.is((await fs.statfs()).files, 0);
});
