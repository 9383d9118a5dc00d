// The file block device: the compliance suite (once with default hole punching, once punching from
// 4 KiB so the random test exercises it), then what only the file backend promises: sparse creation,
// reuse of existing files, hole punching, the extents scan, and its refusals.
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm, stat, truncate, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlockDevice, type FileBlockDeviceOptions } from '../../../src/blockdev/file.js';
import { GiB, KiB, MiB } from '../../../src/core/limits.js';
import { blockDeviceCompliance, type BlockDeviceFactory } from './compliance.js';
import { blockDeviceModelTest } from './model.js';
import { expectCode, isZero, pattern, sameBytes } from './util.js';

function fileFactory(extra: FileBlockDeviceOptions = {}): BlockDeviceFactory {
  return async ({ sizeBytes, readOnly }) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-blockdev-'));
    const path = join(dir, 'disk.img');
    let dev = await FileBlockDevice.open(path, { ...extra, sizeBytes, create: true });
    if (readOnly) {
      await dev.close();
      dev = await FileBlockDevice.open(path, { ...extra, readOnly: true });
    }
    const opened = dev;
    return {
      dev: opened,
      cleanup: async () => {
        if (!opened.closed) await opened.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
}

blockDeviceCompliance('file', fileFactory(), { reportsHoles: true, modelRuns: 60 });
// The random test again with hole punching from 4 KiB, so its trims take the fallocate path too.
blockDeviceModelTest('file punching from 4 KiB', fileFactory({ punchMinBytes: 4 * KiB }), 40);

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-blockdev-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function opened(t: ExecutionContext, path: string, options: FileBlockDeviceOptions) {
  const dev = await FileBlockDevice.open(path, options);
  t.teardown(async () => {
    if (!dev.closed) await dev.close();
  });
  return dev;
}

test('file: a created device is a sparse file of the requested size', async (t) => {
  const path = join(await tempDir(t), 'disk.img');
  const dev = await opened(t, path, { sizeBytes: 8 * GiB, create: true });
  const st = await stat(path);
  t.is(st.size, 8 * GiB);
  t.is(st.blocks, 0, 'no blocks allocated');
  t.is(dev.kind, 'file');
  await dev.write(6 * GiB, pattern(4096, 1));
  t.true((await stat(path)).blocks * 512 <= 64 * KiB, 'one write allocates about one block');
});

test('file: an existing file keeps its data and size; create does not truncate it', async (t) => {
  const path = join(await tempDir(t), 'disk.img');
  const data = pattern(100 * KiB + 5, 2);
  await writeFile(path, data);
  const dev = await opened(t, path, { create: true });
  t.is(dev.sizeBytes, data.length);
  sameBytes(t, await dev.read(0, data.length), data);
  await dev.close();
  const ro = await opened(t, path, { readOnly: true });
  t.true(ro.readOnly);
  sameBytes(t, await ro.read(0, data.length), data);
  await expectCode(t, ro.write(0, Buffer.from([1])), 'READ_ONLY');
});

test('file: a larger sizeBytes grows an existing file (sparse), a smaller one is refused', async (t) => {
  const path = join(await tempDir(t), 'disk.img');
  const data = pattern(10 * KiB, 3);
  await writeFile(path, data);
  const err = await t.throwsAsync(FileBlockDevice.open(path, { sizeBytes: 5 * KiB }));
  t.is((err as { code?: string }).code, 'INVALID_ARGUMENT');
  t.regex(err!.message, /shrink/);
  t.is((await stat(path)).size, 10 * KiB, 'the refused open changed nothing');
  await expectCode(t, FileBlockDevice.open(path, { sizeBytes: 1 * MiB, readOnly: true }), 'INVALID_ARGUMENT');
  const dev = await opened(t, path, { sizeBytes: 1 * MiB });
  t.is(dev.sizeBytes, 1 * MiB);
  sameBytes(t, await dev.read(0, data.length), data);
  t.true(isZero(await dev.read(10 * KiB, 1 * MiB - 10 * KiB)));
});

test('file: open refuses what it cannot serve, with codes that say why', async (t) => {
  const dir = await tempDir(t);
  await expectCode(t, FileBlockDevice.open(join(dir, 'missing.img')), 'NOT_FOUND');
  await expectCode(t, FileBlockDevice.open(join(dir, 'missing.img'), { create: true }), 'INVALID_ARGUMENT');
  await expectCode(
    t,
    FileBlockDevice.open(join(dir, 'missing.img'), { create: true, sizeBytes: 4096, readOnly: true }),
    'INVALID_ARGUMENT',
  );
  await expectCode(
    t,
    FileBlockDevice.open(join(dir, 'no-dir', 'x.img'), { create: true, sizeBytes: 4096 }),
    'NOT_FOUND',
  );
  await expectCode(
    t,
    FileBlockDevice.open(join(dir, 'a.img'), { create: true, sizeBytes: 0 }),
    'INVALID_ARGUMENT',
  );
  await expectCode(
    t,
    FileBlockDevice.open(join(dir, 'b.img'), { create: true, sizeBytes: 4096, blockBytes: 3000 }),
    'INVALID_ARGUMENT',
  );
  await mkdir(join(dir, 'sub'));
  await expectCode(t, FileBlockDevice.open(join(dir, 'sub')), 'INVALID_ARGUMENT');
  await expectCode(t, FileBlockDevice.open('/dev/null'), 'INVALID_ARGUMENT');
  await writeFile(join(dir, 'empty.img'), '');
  await expectCode(t, FileBlockDevice.open(join(dir, 'empty.img')), 'INVALID_ARGUMENT');
  await expectCode(
    t,
    FileBlockDevice.open(join(dir, 'c.img'), { create: true, sizeBytes: 4096, punchMinBytes: 0 }),
    'INVALID_ARGUMENT',
  );
});

test('file: a long trim punches a hole (blocks freed), edges stay intact', async (t) => {
  const path = join(await tempDir(t), 'disk.img');
  const dev = await opened(t, path, { sizeBytes: 8 * MiB, create: true });
  const data = pattern(8 * MiB, 4);
  await dev.write(0, data);
  await dev.flush();
  const before = (await stat(path)).blocks;
  await dev.trim(1 * MiB + 123, 5 * MiB);
  const after = (await stat(path)).blocks;
  t.true(after * 512 <= before * 512 - 4 * MiB, `blocks freed: ${before} -> ${after}`);
  const expected = Buffer.from(data);
  expected.fill(0, 1 * MiB + 123, 6 * MiB + 123);
  sameBytes(t, await dev.read(0, 8 * MiB), expected);
  const extents = await dev.extents(0, 8 * MiB);
  t.true(
    extents.some((e) => e.hole && e.length >= 4 * MiB),
    'the punched range is reported as a hole',
  );
});

test('file: with punching off, trim writes zeros and frees nothing', async (t) => {
  const path = join(await tempDir(t), 'disk.img');
  const dev = await opened(t, path, { sizeBytes: 4 * MiB, create: true, punchMinBytes: Infinity });
  await dev.write(0, pattern(4 * MiB, 5));
  await dev.flush();
  const before = (await stat(path)).blocks;
  await dev.writeZeroes(100, 3 * MiB);
  t.true((await stat(path)).blocks >= before, 'no blocks freed');
  t.true(isZero(await dev.read(100, 3 * MiB)));
  sameBytes(t, await dev.read(0, 100), pattern(4 * MiB, 5).subarray(0, 100));
});

test('file: extents scan a bounded prefix and report the rest as data', async (t) => {
  const path = join(await tempDir(t), 'disk.img');
  const dev = await opened(t, path, { sizeBytes: 1 * GiB, create: true });
  await dev.write(10 * MiB + 1, Buffer.from([1]));
  const extents = await dev.extents(0, 1 * GiB);
  t.deepEqual(extents, [
    { offset: 0, length: 10 * MiB, hole: true },
    { offset: 10 * MiB, length: dev.blockBytes, hole: false },
    { offset: 10 * MiB + dev.blockBytes, length: 64 * MiB - 10 * MiB - dev.blockBytes, hole: true },
    { offset: 64 * MiB, length: 1 * GiB - 64 * MiB, hole: false },
  ]);
});

test('file: close waits for requests in flight, and they all complete', async (t) => {
  const path = join(await tempDir(t), 'disk.img');
  const dev = await FileBlockDevice.open(path, { sizeBytes: 16 * MiB, create: true });
  const data = pattern(8 * MiB, 6);
  const pending = [dev.write(0, data), dev.read(8 * MiB, 1 * MiB), dev.trim(9 * MiB, 2 * MiB), dev.flush()];
  await dev.close();
  const results = await Promise.allSettled(pending);
  t.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
  );
  const again = await opened(t, path, {});
  sameBytes(t, await again.read(0, 8 * MiB), data);
});

test('file: a file truncated behind the device gives IO_ERROR on read, not short data', async (t) => {
  const path = join(await tempDir(t), 'disk.img');
  const dev = await opened(t, path, { sizeBytes: 64 * KiB, create: true });
  await truncate(path, 1000);
  await expectCode(t, dev.read(0, 4096), 'IO_ERROR');
  const target = Buffer.alloc(10);
  t.is(await dev.readInto(990, target), 10, 'reads inside the remaining bytes still work');
});
