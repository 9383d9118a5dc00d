// The memory block device: the compliance suite, then what only the memory backend promises
// (sparseness by chunk count, freeing on trim, the memory limit).
import test from 'ava';
import { MemoryBlockDevice, MEMORY_CHUNK_BYTES } from '../../../src/blockdev/memory.js';
import { KiB, TiB } from '../../../src/core/limits.js';
import { blockDeviceCompliance } from './compliance.js';
import { expectCode, isZero, pattern, sameBytes } from './util.js';

blockDeviceCompliance(
  'memory',
  async ({ sizeBytes, readOnly }) => {
    const dev = new MemoryBlockDevice({ sizeBytes, readOnly });
    return {
      dev,
      cleanup: async () => {
        if (!dev.closed) await dev.close();
      },
    };
  },
  { reportsHoles: true, modelRuns: 100 },
);

const C = MEMORY_CHUNK_BYTES;

test('memory: a 1 TiB device written in three places holds three chunks', async (t) => {
  const dev = new MemoryBlockDevice({ sizeBytes: 1 * TiB });
  t.is(dev.chunkCount, 0);
  await dev.write(0, Buffer.from('first'));
  await dev.write(512 * 1024 ** 3 + 7, Buffer.from('middle'));
  await dev.write(1 * TiB - 3, Buffer.from('end'));
  t.is(dev.chunkCount, 3);
  t.is(dev.bytesAllocated, 3 * C);
  sameBytes(t, await dev.read(1 * TiB - 3, 3), Buffer.from('end'));
  const extents = await dev.extents(0, dev.sizeBytes);
  t.deepEqual(
    extents.map((e) => e.hole),
    [false, true, false, true, false],
  );
  await dev.trim(0, dev.sizeBytes);
  t.is(dev.chunkCount, 0, 'trimming the whole device frees every chunk');
  t.is(dev.bytesAllocated, 0);
});

test('memory: whole chunks are freed by trim and writeZeroes, partial ones zeroed and kept', async (t) => {
  const dev = new MemoryBlockDevice({ sizeBytes: 8 * C });
  await dev.write(0, pattern(8 * C, 1));
  t.is(dev.chunkCount, 8);
  await dev.trim(C, 2 * C);
  t.is(dev.chunkCount, 6);
  await dev.writeZeroes(3 * C + 1, C);
  t.is(dev.chunkCount, 6, 'a range covering no whole chunk frees none');
  await dev.writeZeroes(4 * C - 1, C + 2);
  t.is(dev.chunkCount, 5, 'only the one whole chunk inside is freed');
  t.true(isZero(await dev.read(C, 2 * C)));
});

test('memory: a device whose size is not a multiple of the chunk allocates a short last chunk', async (t) => {
  const dev = new MemoryBlockDevice({ sizeBytes: C + 100 });
  await dev.write(C + 99, Buffer.from([1]));
  t.is(dev.bytesAllocated, 100);
  await dev.trim(C, 100);
  t.is(dev.chunkCount, 0, 'the short last chunk is whole when trimmed to the end');
});

test('memory: past the memory limit a write fails with NO_SPACE and changes nothing', async (t) => {
  const dev = new MemoryBlockDevice({ sizeBytes: 100 * C, memoryLimitBytes: 3 * C });
  await dev.write(0, pattern(2 * C, 2));
  const err = await t.throwsAsync(dev.write(10 * C - 5, pattern(10, 3)));
  t.is((err as { code?: string }).code, 'NO_SPACE');
  t.regex(err!.message, /memoryLimitBytes/);
  t.is(dev.chunkCount, 2, 'no chunk added by the refused write');
  t.true(isZero(await dev.read(10 * C - 5, 10)), 'nothing written');
  await dev.write(2 * C + 5, pattern(10, 4));
  t.is(dev.chunkCount, 3, 'a write within the limit still succeeds');
  await dev.write(C, pattern(C, 5));
  t.is(dev.chunkCount, 3, 'overwriting held chunks needs no memory');
  await dev.trim(0, C);
  await dev.write(50 * C, pattern(10, 6));
  t.is(dev.chunkCount, 3, 'trim gave back room for a new chunk');
});

test('memory: bad options are refused with INVALID_ARGUMENT', (t) => {
  for (const options of [
    { sizeBytes: 0 },
    { sizeBytes: -1 },
    { sizeBytes: 1.5 },
    { sizeBytes: 17 * TiB },
    { sizeBytes: 4 * KiB, blockBytes: 1000 },
    { sizeBytes: 4 * KiB, blockBytes: 256 },
    { sizeBytes: 4 * KiB, memoryLimitBytes: -1 },
  ]) {
    const err = t.throws(() => new MemoryBlockDevice(options), undefined, JSON.stringify(options));
    t.is((err as { code?: string }).code, 'INVALID_ARGUMENT');
  }
});

test('memory: a read-only device refuses writes and reads zeros', async (t) => {
  const dev = new MemoryBlockDevice({ sizeBytes: 4 * KiB, readOnly: true });
  await expectCode(t, dev.write(0, Buffer.from([1])), 'READ_ONLY');
  t.true(isZero(await dev.read(0, 4 * KiB)));
  t.is(dev.chunkCount, 0);
});
