/**
 * WriteBackFlatFs, the mount's write-back (`--cache full`): over a backend that answers writes late
 * and out of order, writes still land in the order they were made, every read and stat sees them,
 * at most the limit is in flight, and a failed write-back is reported by the next write, flush and
 * close.
 */
import test from 'ava';
import { FerryError } from '../../../src/core/errors.js';
import { GiB, KiB } from '../../../src/core/limits.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import type { FileHandle } from '../../../src/flatfs/types.js';
import { WriteBackFlatFs } from '../../../src/fuse/write-back.js';

/** xorshift32: a repeatable sequence for a seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Memory whose writes are applied after a random delay (so they complete in any order). */
class SlowFs extends MemoryFlatFs {
  inFlight = 0;
  maxInFlightBytes = 0;
  private inFlightBytes = 0;
  failFrom = Infinity;
  constructor(private readonly random: () => number) {
    super({ quotaBytes: 1 * GiB });
  }
  override async write(handle: FileHandle, offset: number, data: Uint8Array): Promise<void> {
    this.inFlightBytes += data.length;
    this.maxInFlightBytes = Math.max(this.maxInFlightBytes, this.inFlightBytes);
    await new Promise((resolve) => setTimeout(resolve, Math.floor(this.random() * 4)));
    this.inFlightBytes -= data.length;
    if (offset >= this.failFrom) throw new FerryError('NO_SPACE', 'the test backend is full');
    await super.write(handle, offset, data);
  }
}

for (const seed of [1, 2, 3, 4, 5]) {
  test(`overlapping writes land in the order they were made, reads and stat see them (seed ${seed})`, async (t) => {
    const random = rng(seed);
    const backend = new SlowFs(random);
    const fs = new WriteBackFlatFs(backend, 64 * KiB);
    t.teardown(() => fs.close());
    const model = Buffer.alloc(256 * KiB);
    let modelSize = 0;
    const w = await fs.create('f');
    const r = await fs.open('f');
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const offset = Math.floor(random() * 200 * KiB);
      const data = Buffer.alloc(1 + Math.floor(random() * 16 * KiB), i % 251);
      data.copy(model, offset);
      modelSize = Math.max(modelSize, offset + data.length);
      // mostly one after the other (as the kernel sends them), sometimes several at once
      const p = fs.write(w, offset, data);
      if (random() < 0.7) {
        await p;
        data.fill(0xff); // answered: the caller's buffer is its own again, the backend has a copy
      } else pending.push(p);
      if (random() < 0.05) {
        t.is((await fs.fstat(r)).sizeBytes, modelSize, `size after write ${i}`);
        const back = Buffer.alloc(modelSize);
        t.is(await fs.readInto(r, 0, back), modelSize);
        t.true(back.equals(model.subarray(0, modelSize)), `contents after write ${i}`);
      }
    }
    await Promise.all(pending);
    await fs.drain(w);
    t.true(
      backend.maxInFlightBytes <= 64 * KiB + 16 * KiB,
      `at most the limit in flight (${backend.maxInFlightBytes})`,
    );
    await fs.closeFile(w);
    t.true((await backend.read(r, 0, modelSize)).equals(model.subarray(0, modelSize)));
  });
}

test('a failed write-back fails the next write, the flush and the close with its error', async (t) => {
  const backend = new SlowFs(rng(9));
  backend.failFrom = 64 * KiB;
  const fs = new WriteBackFlatFs(backend, 1024 * KiB);
  t.teardown(() => fs.close());
  const w = await fs.create('f');
  await fs.write(w, 0, Buffer.alloc(4 * KiB, 1));
  await fs.write(w, 64 * KiB, Buffer.alloc(4 * KiB, 2)); // answered: the backend has not refused it yet
  await t.throwsAsync(fs.drain(w), { instanceOf: FerryError, message: /full/ });
  await t.throwsAsync(fs.write(w, 0, Buffer.alloc(10)), { instanceOf: FerryError, message: /full/ });
  await t.throwsAsync(fs.fsync(w), { instanceOf: FerryError, message: /full/ });
  await t.throwsAsync(fs.closeFile(w), { instanceOf: FerryError, message: /full/ });
  const r = await fs.open('f');
  t.true((await fs.read(r, 0, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 1)), 'what was written before stays');
});

test('a read-only handle and a bad request are refused at once, as by the backend', async (t) => {
  const fs = new WriteBackFlatFs(new MemoryFlatFs({ quotaBytes: 1 * GiB }), 1024 * KiB);
  t.teardown(() => fs.close());
  const c = await fs.create('f');
  await fs.closeFile(c);
  const ro = await fs.open('f');
  await t.throwsAsync(fs.write(ro, 0, Buffer.alloc(10)), { instanceOf: FerryError });
  const rw = await fs.open('f', { write: true });
  await t.throwsAsync(fs.write(rw, -1, Buffer.alloc(10)), { instanceOf: FerryError });
});
