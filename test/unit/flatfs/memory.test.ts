/**
 * MemoryFlatFs: the compliance suite, plus what only the memory backend promises (holes cost no
 * memory, memory comes back when the last name and handle of a file are gone, injected wall clock).
 */
import test from 'ava';
import { GiB, KiB, LIMITS } from '../../../src/core/limits.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { flatFsCompliance, pattern, rejectsWith } from './compliance.js';

/** Logical bytes for the suite's default: room for the 6 GiB sparse tests. */
const ROOMY_QUOTA_BYTES = 64 * GiB;

flatFsCompliance(
  'memory',
  async (opts) => {
    const fs = new MemoryFlatFs({
      quotaBytes: opts.quotaBytes ?? ROOMY_QUOTA_BYTES,
      readOnly: opts.readOnly ?? false,
      files: opts.files ?? [],
    });
    return { fs, cleanup: () => fs.close() };
  },
  { prefixListing: true },
);

test('memory: a write at 6 GiB allocates only the chunks it touches', async (t) => {
  const fs = new MemoryFlatFs({ quotaBytes: ROOMY_QUOTA_BYTES });
  t.teardown(() => fs.close());
  const h = await fs.create('sparse', { sizeBytes: 4 * GiB });
  t.is(fs.allocatedBytes(), 0, 'a preallocated size is a hole');
  await fs.write(h, 6 * GiB - 10, pattern(20, 1));
  t.is(fs.allocatedBytes(), 2 * LIMITS.FLATFS_MEMORY_CHUNK_BYTES);
  await fs.ftruncate(h, 6 * GiB - 5);
  t.is(fs.allocatedBytes(), LIMITS.FLATFS_MEMORY_CHUNK_BYTES);
  await fs.ftruncate(h, 6 * GiB);
  t.deepEqual(
    await fs.read(h, 6 * GiB - 10, 10),
    Buffer.concat([pattern(20, 1).subarray(0, 5), Buffer.alloc(5)]),
  );
});

test('memory: an unlinked file frees its memory when its last handle closes', async (t) => {
  const fs = new MemoryFlatFs({ quotaBytes: 1 * GiB });
  t.teardown(() => fs.close());
  const h = await fs.create('f');
  await fs.write(h, 0, Buffer.alloc(256 * KiB, 1));
  await fs.unlink('f');
  t.is(fs.allocatedBytes(), 256 * KiB);
  t.is((await fs.statfs()).usedBytes, 256 * KiB);
  await fs.closeFile(h);
  t.is(fs.allocatedBytes(), 0);
  t.is((await fs.statfs()).usedBytes, 0);
});

test('memory: file times come from the injected wall clock', async (t) => {
  let nowMs = 1_000_000;
  const fs = new MemoryFlatFs({ quotaBytes: KiB, wallClockMs: () => nowMs });
  t.teardown(() => fs.close());
  const h = await fs.create('f');
  t.like(await fs.fstat(h), { mtimeMs: 1_000_000, atimeMs: 1_000_000, ctimeMs: 1_000_000 });
  nowMs = 2_000_000;
  await fs.write(h, 0, Buffer.from('x'));
  t.like(await fs.fstat(h), { mtimeMs: 2_000_000, atimeMs: 1_000_000, ctimeMs: 2_000_000 });
  nowMs = 3_000_000;
  await fs.read(h, 0, 1);
  t.like(await fs.fstat(h), { mtimeMs: 2_000_000, atimeMs: 3_000_000 });
  nowMs = 4_000_000;
  await fs.rename('f', 'g');
  t.like(await fs.stat('g'), { mtimeMs: 2_000_000, ctimeMs: 4_000_000 });
});

test('memory: statfs reports both name limits', async (t) => {
  const fs = new MemoryFlatFs({ quotaBytes: KiB });
  t.teardown(() => fs.close());
  t.like(await fs.statfs(), { maxNameBytes: 1024, maxSegmentBytes: 255 });
});

test('memory: options are checked', (t) => {
  for (const quotaBytes of [-1, 1.5, Number.NaN, undefined]) {
    const err = t.throws(() => new MemoryFlatFs({ quotaBytes } as unknown as { quotaBytes: number }));
    t.is((err as { code?: string }).code, 'INVALID_ARGUMENT');
  }
  t.throws(() => new MemoryFlatFs({ quotaBytes: 10, files: [['big', Buffer.alloc(11)]] }), {
    message: /quota/,
  });
  t.throws(() => new MemoryFlatFs({ quotaBytes: 10, files: [['a//b', Buffer.alloc(1)]] }), {
    message: /empty segment/,
  });
  t.throws(
    () =>
      new MemoryFlatFs({
        quotaBytes: 10,
        files: [
          ['a', Buffer.alloc(1)],
          ['a/b', Buffer.alloc(1)],
        ],
      }),
    { message: /a file is named 'a'/ },
  );
  t.throws(() => new MemoryFlatFs({ quotaBytes: 10, maxOpenFiles: LIMITS.MAX_OPEN_FILES + 1 }));
});

test('memory: a small open-handle limit is enforced', async (t) => {
  const fs = new MemoryFlatFs({ quotaBytes: KiB, maxOpenFiles: 2 });
  t.teardown(() => fs.close());
  await fs.create('a');
  await fs.create('b');
  await rejectsWith(t, fs.open('a'), 'LIMIT_EXCEEDED');
});
