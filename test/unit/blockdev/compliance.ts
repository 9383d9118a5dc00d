/**
 * The block device compliance suite: the behaviour every BlockDevice must show, whatever serves it.
 *
 * Why one suite: the memory and file backends, and later the remote client and whatever sits behind
 * the NBD server, are interchangeable only if they agree on edges (offset 0, last byte, chunk
 * boundaries, offsets past 2^32), on refusals (codes, and nothing changed), on trim/zero semantics
 * and on concurrency. The suite uses only the BlockDevice interface: backend-specific checks (chunk
 * counts, hole punching) live in each backend's own test file.
 *
 * Usage, from a test file:
 *   blockDeviceCompliance('memory', async ({ sizeBytes, readOnly }) => {
 *     const dev = new MemoryBlockDevice({ sizeBytes, readOnly });
 *     return { dev, cleanup: async () => { if (!dev.closed) await dev.close(); } };
 *   }, { reportsHoles: true });
 */
import test, { type ExecutionContext } from 'ava';
import { GiB, KiB, LIMITS } from '../../../src/core/limits.js';
import type { BlockDevice, BlockExtent } from '../../../src/blockdev/types.js';
import { blockDeviceModelTest } from './model.js';
import { expectCode, isZero, pattern, sameBytes } from './util.js';

export interface BlockDeviceFactoryOptions {
  sizeBytes: number;
  readOnly?: boolean;
}

export interface BlockDeviceUnderTest {
  dev: BlockDevice;
  /** Releases everything the factory made (closes the device if still open, removes files). */
  cleanup(): Promise<void>;
}

export type BlockDeviceFactory = (opts: BlockDeviceFactoryOptions) => Promise<BlockDeviceUnderTest>;

export interface BlockDeviceCaps {
  /**
   * The backend reports never-written and trimmed ranges as holes in extents(). Without it the suite
   * only checks that extents cover the range and that written data is never called a hole.
   */
  reportsHoles?: boolean;
  /** Runs of the model-based randomized test (default 60). */
  modelRuns?: number;
}

/** A small device for most tests; not a multiple of common chunk or block sizes on purpose. */
const SMALL_BYTES = 1 * 1024 * 1024 + 4096 + 123;
/** A sparse device large enough for offsets past 4 GiB and 6 GiB. */
const LARGE_BYTES = 8 * GiB;

/** Registers the suite's ava tests, each named `<name> blockdev: ...`. */
export function blockDeviceCompliance(
  name: string,
  factory: BlockDeviceFactory,
  caps: BlockDeviceCaps = {},
): void {
  const it = (
    title: string,
    body: (t: ExecutionContext, dev: BlockDevice) => Promise<void>,
    sizeBytes = SMALL_BYTES,
    readOnly = false,
  ) =>
    test(`${name} blockdev: ${title}`, async (t) => {
      const { dev, cleanup } = await factory({ sizeBytes, readOnly });
      t.teardown(cleanup);
      await body(t, dev);
    });

  it('reports its geometry', async (t, dev) => {
    t.is(dev.sizeBytes, SMALL_BYTES);
    t.false(dev.readOnly);
    t.true(dev.blockBytes >= 512 && dev.blockBytes <= 65536, `blockBytes ${dev.blockBytes}`);
    t.is(dev.blockBytes & (dev.blockBytes - 1), 0, 'blockBytes is a power of two');
  });

  it('never-written ranges read as zeros', async (t, dev) => {
    t.true(isZero(await dev.read(0, 4096)));
    t.true(isZero(await dev.read(300_000, 70_000)));
    t.true(isZero(await dev.read(dev.sizeBytes - 1000, 1000)));
  });

  it('writes and reads at offset 0 and at the last byte', async (t, dev) => {
    const head = pattern(777, 1);
    await dev.write(0, head);
    await dev.write(dev.sizeBytes - 1, Buffer.from([0xab]));
    sameBytes(t, await dev.read(0, 777), head);
    sameBytes(t, await dev.read(dev.sizeBytes - 1, 1), Buffer.from([0xab]));
    t.true(isZero(await dev.read(777, 1000)), 'bytes after the head stay zero');
    t.true(isZero(await dev.read(dev.sizeBytes - 1001, 1000)), 'bytes before the last stay zero');
  });

  it('unaligned writes across block and chunk boundaries keep their neighbours', async (t, dev) => {
    const model = Buffer.alloc(dev.sizeBytes);
    const writes: Array<[number, number]> = [
      [4095, 2],
      [64 * KiB - 100, 300],
      [128 * KiB - 1, 64 * KiB + 2],
      [511, 513],
      [200 * KiB + 7, 3 * 64 * KiB + 11],
      [128 * KiB + 50, 10],
    ];
    let seed = 10;
    for (const [offset, length] of writes) {
      const data = pattern(length, seed++);
      await dev.write(offset, data);
      data.copy(model, offset);
    }
    sameBytes(t, await dev.read(0, 512 * KiB), model.subarray(0, 512 * KiB));
    for (const [offset, length] of writes) {
      const from = Math.max(0, offset - 5);
      const to = Math.min(dev.sizeBytes, offset + length + 5);
      sameBytes(t, await dev.read(from, to - from), model.subarray(from, to), `around ${offset}+${length}`);
    }
  });

  it('readInto fills exactly its target and returns its length', async (t, dev) => {
    const data = pattern(10_000, 3);
    await dev.write(65_000, data);
    const big = Buffer.alloc(12_000, 0xee);
    const target = big.subarray(1000, 11_000);
    t.is(await dev.readInto(65_000, target), 10_000);
    sameBytes(t, target, data);
    t.true(
      big.subarray(0, 1000).every((b) => b === 0xee),
      'bytes before the target untouched',
    );
    t.true(
      big.subarray(11_000).every((b) => b === 0xee),
      'bytes after the target untouched',
    );
    const u8 = new Uint8Array(100);
    t.is(await dev.readInto(65_000, u8), 100);
    sameBytes(t, Buffer.from(u8), data.subarray(0, 100));
  });

  it('a write copies its data and a read returns a buffer of its own', async (t, dev) => {
    const data = pattern(5000, 4);
    const copy = Buffer.from(data);
    await dev.write(1000, data);
    data.fill(0x55);
    sameBytes(t, await dev.read(1000, 5000), copy, 'changing the source after the write has no effect');
    const got = await dev.read(1000, 5000);
    got.fill(0x66);
    sameBytes(t, await dev.read(1000, 5000), copy, 'changing a read result has no effect');
  });

  it(
    'offsets past 4 GiB and 6 GiB on a sparse 8 GiB device',
    async (t, dev) => {
      t.is(dev.sizeBytes, LARGE_BYTES);
      const across4 = pattern(10_000, 5);
      const at6 = pattern(70_000, 6);
      const last = pattern(4096, 7);
      await dev.write(4 * GiB - 5000, across4);
      await dev.write(6 * GiB + 12_345, at6);
      await dev.write(LARGE_BYTES - 4096, last);
      sameBytes(t, await dev.read(4 * GiB - 5000, 10_000), across4);
      sameBytes(t, await dev.read(6 * GiB + 12_345, 70_000), at6);
      sameBytes(t, await dev.read(LARGE_BYTES - 4096, 4096), last);
      t.true(isZero(await dev.read(0, 70_000)), 'no aliasing modulo 2^32 onto offset 0');
      t.true(isZero(await dev.read(2 * GiB + 12_345, 70_000)), 'no aliasing modulo 2^32 from 6 GiB');
      t.true(isZero(await dev.read(5 * GiB, 4096)));
      await dev.trim(6 * GiB + 12_345 + 1000, 1000);
      const expected = Buffer.from(at6);
      expected.fill(0, 1000, 2000);
      sameBytes(t, await dev.read(6 * GiB + 12_345, 70_000), expected, 'trim past 6 GiB');
      checkCoverage(t, await dev.extents(4 * GiB - 8192, 16_384), 4 * GiB - 8192, 16_384);
    },
    LARGE_BYTES,
  );

  it('zero-length requests inside or at the end succeed and change nothing', async (t, dev) => {
    await dev.write(10, Buffer.from([1, 2, 3]));
    for (const offset of [0, 11, dev.sizeBytes]) {
      t.is((await dev.read(offset, 0)).length, 0);
      t.is(await dev.readInto(offset, Buffer.alloc(0)), 0);
      await dev.write(offset, Buffer.alloc(0));
      await dev.trim(offset, 0);
      await dev.writeZeroes(offset, 0);
      t.deepEqual(await dev.extents(offset, 0), []);
    }
    sameBytes(t, await dev.read(10, 3), Buffer.from([1, 2, 3]));
    await expectCode(t, dev.read(dev.sizeBytes + 1, 0), 'OUT_OF_RANGE');
    await expectCode(t, dev.write(dev.sizeBytes + 1, Buffer.alloc(0)), 'OUT_OF_RANGE');
  });

  it('out-of-range requests fail with OUT_OF_RANGE and change nothing', async (t, dev) => {
    const size = dev.sizeBytes;
    const tail = pattern(100, 8);
    await dev.write(size - 100, tail);
    await expectCode(t, dev.read(size - 1, 2), 'OUT_OF_RANGE');
    await expectCode(t, dev.read(size, 1), 'OUT_OF_RANGE');
    await expectCode(t, dev.readInto(size - 10, Buffer.alloc(11)), 'OUT_OF_RANGE');
    await expectCode(t, dev.write(size - 50, Buffer.alloc(51, 0xff)), 'OUT_OF_RANGE');
    await expectCode(t, dev.write(size * 2, Buffer.alloc(1, 0xff)), 'OUT_OF_RANGE');
    await expectCode(t, dev.trim(size - 50, 51), 'OUT_OF_RANGE');
    await expectCode(t, dev.writeZeroes(size - 50, 51), 'OUT_OF_RANGE');
    await expectCode(t, dev.writeZeroes(0, size + 1), 'OUT_OF_RANGE');
    await expectCode(t, dev.extents(0, size + 1), 'OUT_OF_RANGE');
    sameBytes(t, await dev.read(size - 100, 100), tail, 'the tail is unchanged');
  });

  it('malformed arguments fail with INVALID_ARGUMENT, oversize I/O with LIMIT_EXCEEDED', async (t, dev) => {
    await dev.write(0, Buffer.from([9]));
    await expectCode(t, dev.read(-1, 1), 'INVALID_ARGUMENT');
    await expectCode(t, dev.read(1.5, 1), 'INVALID_ARGUMENT');
    await expectCode(t, dev.read(0, Number.NaN), 'INVALID_ARGUMENT');
    await expectCode(t, dev.read(2 ** 53, 1), 'INVALID_ARGUMENT');
    await expectCode(t, dev.write(-1, Buffer.from([1])), 'INVALID_ARGUMENT');
    await expectCode(t, dev.write(0, 'text' as unknown as Uint8Array), 'INVALID_ARGUMENT');
    await expectCode(t, dev.readInto(0, null as unknown as Uint8Array), 'INVALID_ARGUMENT');
    await expectCode(t, dev.trim(0, -5), 'INVALID_ARGUMENT');
    await expectCode(t, dev.writeZeroes(Infinity, 1), 'INVALID_ARGUMENT');
    await expectCode(t, dev.extents(0, 0.5), 'INVALID_ARGUMENT');
    await expectCode(t, dev.read(0, LIMITS.MAX_IO_BYTES + 1), 'LIMIT_EXCEEDED');
    sameBytes(t, await dev.read(0, 1), Buffer.from([9]), 'nothing changed');
  });

  for (const op of ['trim', 'writeZeroes'] as const) {
    it(`${op} zeros exactly its range, aligned or not`, async (t, dev) => {
      const model = pattern(dev.sizeBytes, 9);
      await writeAll(dev, model);
      const ranges: Array<[number, number]> = [
        [100, 50],
        [64 * KiB, 128 * KiB],
        [300 * KiB - 1, 200 * KiB + 2],
        [dev.sizeBytes - 10, 10],
      ];
      for (const [offset, length] of ranges) {
        await dev[op](offset, length);
        model.fill(0, offset, offset + length);
      }
      sameBytes(t, await readAll(dev), model);
      await dev.write(64 * KiB + 10, Buffer.from([7, 7]));
      model[64 * KiB + 10] = 7;
      model[64 * KiB + 11] = 7;
      sameBytes(t, await dev.read(64 * KiB, 64), model.subarray(64 * KiB, 64 * KiB + 64), 'writable again');
      await dev[op](0, dev.sizeBytes);
      t.true(isZero(await readAll(dev)), `${op} of the whole device`);
    });
  }

  it('extents cover the asked range in order and never call written data a hole', async (t, dev) => {
    await dev.write(70_000, pattern(1000, 11));
    await dev.write(500_000, pattern(200_000, 12));
    for (const [offset, length] of [
      [0, dev.sizeBytes],
      [69_000, 3000],
      [600_000, 10],
      [dev.sizeBytes - 1, 1],
    ] as const) {
      const extents = await dev.extents(offset, length);
      checkCoverage(t, extents, offset, length);
      for (const e of extents) {
        if (!e.hole) continue;
        t.true(
          isZero(await dev.read(e.offset, Math.min(e.length, 1 << 20))),
          `hole at ${e.offset} reads zeros`,
        );
      }
    }
    const written = await dev.extents(70_000, 1000);
    t.true(
      written.every((e) => !e.hole),
      'the written range is data',
    );
  });

  if (caps.reportsHoles) {
    it('extents report never-written and trimmed ranges as holes', async (t, dev) => {
      t.deepEqual(await dev.extents(0, dev.sizeBytes), [{ offset: 0, length: dev.sizeBytes, hole: true }]);
      await dev.write(0, pattern(256 * KiB, 13));
      await dev.trim(64 * KiB, 128 * KiB);
      const extents = await dev.extents(64 * KiB, 128 * KiB);
      t.deepEqual(extents, [{ offset: 64 * KiB, length: 128 * KiB, hole: true }]);
      const around = await dev.extents(0, 512 * KiB);
      checkCoverage(t, around, 0, 512 * KiB);
      t.false(around[0]!.hole, 'the first written chunk is data');
    });
  }

  it(
    'a read-only device refuses changes with READ_ONLY, reads and flushes',
    async (t, dev) => {
      t.true(dev.readOnly);
      const before = await dev.read(0, 4096);
      await expectCode(t, dev.write(0, Buffer.from([1])), 'READ_ONLY');
      await expectCode(t, dev.trim(0, 4096), 'READ_ONLY');
      await expectCode(t, dev.writeZeroes(0, 4096), 'READ_ONLY');
      await expectCode(
        t,
        dev.write(dev.sizeBytes, Buffer.from([1])),
        'READ_ONLY',
        'READ_ONLY before OUT_OF_RANGE',
      );
      await dev.flush();
      sameBytes(t, await dev.read(0, 4096), before);
      checkCoverage(t, await dev.extents(0, dev.sizeBytes), 0, dev.sizeBytes);
    },
    SMALL_BYTES,
    true,
  );

  it('many requests in flight on disjoint ranges are independent', async (t, dev) => {
    const count = 64;
    const stride = Math.floor(dev.sizeBytes / count);
    const lengthOf = (i: number) => 100 + ((i * 977) % (stride - 100));
    await Promise.all(
      Array.from({ length: count }, (_, i) => dev.write(i * stride, pattern(lengthOf(i), 100 + i))),
    );
    const reads = await Promise.all(
      Array.from({ length: count }, (_, i) => dev.read(i * stride, lengthOf(i))),
    );
    reads.forEach((got, i) => sameBytes(t, got, pattern(lengthOf(i), 100 + i), `range ${i}`));
    const mixed = Array.from({ length: count }, (_, i) =>
      i % 2 === 0 ? dev.trim(i * stride, lengthOf(i)) : dev.read(i * stride, lengthOf(i)),
    );
    await Promise.all(mixed);
    for (let i = 0; i < count; i++) {
      const got = await dev.read(i * stride, lengthOf(i));
      if (i % 2 === 0) t.true(isZero(got), `range ${i} trimmed`);
      else sameBytes(t, got, pattern(lengthOf(i), 100 + i), `range ${i} kept`);
    }
  });

  it('concurrent writes to one range leave exactly one of them, never a mix', async (t, dev) => {
    const offset = 64 * KiB - 2048;
    const length = 4096;
    const fills = Array.from({ length: 32 }, (_, i) => i + 1);
    await Promise.all(fills.map((f) => dev.write(offset, Buffer.alloc(length, f))));
    const got = await dev.read(offset, length);
    const first = got[0]!;
    t.true(fills.includes(first), `value ${first} is one of the writes`);
    t.true(
      got.every((b) => b === first),
      'the range holds one write only',
    );
    await dev.flush();
  });

  it('flush resolves, and written data stays readable after it', async (t, dev) => {
    await dev.flush();
    const data = pattern(3000, 14);
    await dev.write(12_345, data);
    await Promise.all([dev.flush(), dev.flush()]);
    sameBytes(t, await dev.read(12_345, 3000), data);
  });

  it('after close every call fails with CLOSED', async (t, dev) => {
    await dev.write(0, Buffer.from([1]));
    await dev.close();
    await expectCode(t, dev.read(0, 1), 'CLOSED');
    await expectCode(t, dev.read(dev.sizeBytes + 5, 1), 'CLOSED', 'CLOSED before OUT_OF_RANGE');
    await expectCode(t, dev.readInto(0, Buffer.alloc(1)), 'CLOSED');
    await expectCode(t, dev.write(0, Buffer.from([1])), 'CLOSED');
    await expectCode(t, dev.flush(), 'CLOSED');
    await expectCode(t, dev.trim(0, 1), 'CLOSED');
    await expectCode(t, dev.writeZeroes(0, 1), 'CLOSED');
    await expectCode(t, dev.extents(0, 1), 'CLOSED');
    await expectCode(t, dev.close(), 'CLOSED');
  });

  it('close with requests in flight settles each of them: done, or refused with CLOSED', async (t, dev) => {
    const data = pattern(256 * KiB, 15);
    const pending = [dev.write(0, data), dev.read(300 * KiB, 4096), dev.trim(600 * KiB, 4096)];
    await dev.close();
    for (const result of await Promise.allSettled(pending)) {
      if (result.status === 'fulfilled') continue;
      t.is((result.reason as { code?: string }).code, 'CLOSED', String(result.reason));
    }
    t.pass();
  });

  blockDeviceModelTest(name, factory, caps.modelRuns);
}

/** Checks that extents are non-empty, in order, contiguous, merged, and cover [offset, offset+length). */
export function checkCoverage(
  t: ExecutionContext,
  extents: BlockExtent[],
  offset: number,
  length: number,
): void {
  let cursor = offset;
  let previousHole: boolean | undefined;
  for (const e of extents) {
    t.is(e.offset, cursor, `extent starts where the previous ended (${cursor})`);
    t.true(e.length > 0, 'extent is not empty');
    t.not(e.hole, previousHole, 'neighbouring extents of the same kind are merged');
    previousHole = e.hole;
    cursor = e.offset + e.length;
  }
  t.is(cursor, offset + length, 'extents cover the whole range');
}

async function writeAll(dev: BlockDevice, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; at += 256 * KiB) {
    await dev.write(at, data.subarray(at, Math.min(data.length, at + 256 * KiB)));
  }
}

async function readAll(dev: BlockDevice): Promise<Buffer> {
  return dev.read(0, dev.sizeBytes);
}
