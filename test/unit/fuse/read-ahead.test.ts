/**
 * ReadAheadFlatFs, the mount's read-ahead (`--cache full`): the flat FS compliance suite over memory,
 * and what it adds - sequential reads served from few backend calls, a mount that always reads its
 * own writes, short reads at the end of the file, a bound on the memory it holds.
 */
import { randomFillSync } from 'node:crypto';
import test from 'ava';
import { GiB, KiB, MiB } from '../../../src/core/limits.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import type { FileHandle } from '../../../src/flatfs/types.js';
import { ReadAheadFlatFs } from '../../../src/fuse/read-ahead.js';
import { flatFsCompliance } from '../flatfs/compliance.js';

flatFsCompliance(
  'read-ahead over memory',
  async (opts) => {
    const fs = new ReadAheadFlatFs(
      new MemoryFlatFs({
        quotaBytes: opts.quotaBytes ?? 64 * GiB,
        readOnly: opts.readOnly ?? false,
        files: opts.files ?? [],
      }),
      4 * KiB,
    );
    return { fs, cleanup: () => fs.close() };
  },
  { prefixListing: true },
);

/** A memory filesystem that counts the reads it serves. */
class CountingFs extends MemoryFlatFs {
  reads = 0;
  override readInto(handle: FileHandle, offset: number, target: Uint8Array): Promise<number> {
    this.reads++;
    return super.readInto(handle, offset, target);
  }
}

async function setUp(sizeBytes: number, windowBytes = 1 * MiB, totalBytes?: number) {
  const backend = new CountingFs({ quotaBytes: 1 * GiB });
  const data = Buffer.alloc(sizeBytes);
  randomFillSync(data);
  const w = await backend.create('f');
  await backend.write(w, 0, data);
  await backend.closeFile(w);
  const fs = new ReadAheadFlatFs(backend, windowBytes, totalBytes);
  return { backend, fs, data };
}

/** Reads the whole file in `pieceBytes` reads, as the kernel hands them to a FUSE filesystem. */
async function readAll(
  fs: ReadAheadFlatFs,
  h: FileHandle,
  sizeBytes: number,
  pieceBytes: number,
): Promise<Buffer> {
  const out = Buffer.alloc(sizeBytes + pieceBytes);
  let at = 0;
  for (;;) {
    const n = await fs.readInto(h, at, out.subarray(at, at + pieceBytes));
    if (n === 0) break;
    at += n;
  }
  return out.subarray(0, at);
}

test('sequential 128 KiB reads come from a few large backend reads, byte for byte', async (t) => {
  const { backend, fs, data } = await setUp(10 * MiB + 12345);
  t.teardown(() => fs.close());
  const h = await fs.open('f');
  const got = await readAll(fs, h, data.length, 128 * KiB);
  t.true(got.equals(data));
  t.true(backend.reads <= 14, `${backend.reads} backend reads for 81 kernel reads`);
  await fs.closeFile(h);
  t.is(fs.bytesHeld, 0, 'closing the file lets its windows go');
});

test('a mount reads its own writes: a change drops the windows of every handle of that file', async (t) => {
  const { fs, data } = await setUp(4 * MiB);
  t.teardown(() => fs.close());
  const r = await fs.open('f');
  const w = await fs.open('f', { write: true });
  const piece = Buffer.alloc(128 * KiB);
  await fs.readInto(r, 0, piece);
  await fs.readInto(r, 128 * KiB, piece); // a window beyond 256 KiB is now fetched or held
  const fresh = Buffer.alloc(64 * KiB, 0xab);
  await fs.write(w, 300 * KiB, fresh);
  const expected = Buffer.from(data);
  fresh.copy(expected, 300 * KiB);
  const rest = Buffer.alloc(4 * MiB - 256 * KiB);
  let at = 0;
  while (at < rest.length) at += await fs.readInto(r, 256 * KiB + at, rest.subarray(at, at + 128 * KiB));
  t.true(rest.equals(expected.subarray(256 * KiB)));
  await fs.ftruncate(w, 1 * MiB);
  t.is(await fs.readInto(r, 1 * MiB, piece), 0, 'a truncation is seen at once');
});

test('the end of the file: short reads, then zero', async (t) => {
  const { fs, data } = await setUp(1 * MiB + 100, 256 * KiB);
  t.teardown(() => fs.close());
  const h = await fs.open('f');
  const got = await readAll(fs, h, data.length, 64 * KiB);
  t.true(got.equals(data));
  t.is(await fs.readInto(h, data.length + 5, Buffer.alloc(10)), 0);
});

test('memory is bounded: no window beyond the total, reads still right', async (t) => {
  const { fs, data } = await setUp(8 * MiB, 1 * MiB, 2 * MiB);
  t.teardown(() => fs.close());
  const handles = [await fs.open('f'), await fs.open('f'), await fs.open('f')];
  const piece = Buffer.alloc(128 * KiB);
  for (let step = 0; step < 16; step++) {
    for (const h of handles) {
      const n = await fs.readInto(h, step * piece.length, piece);
      t.true(piece.subarray(0, n).equals(data.subarray(step * piece.length, step * piece.length + n)));
      t.true(fs.bytesHeld <= 2 * MiB);
    }
  }
});
