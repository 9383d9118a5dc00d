/**
 * Model-based randomized test of a block device: random sequences of write, read, trim,
 * writeZeroes, flush and extents run against the device and against a plain Buffer; they must agree
 * after every step and at the end.
 *
 * Why: hand-picked cases miss the interactions (a trim that ends one byte into a chunk a later write
 * starts in...). fast-check shrinks a failing sequence to a short one and prints its seed and path;
 * replay with FC_SEED=<seed> FC_PATH=<path> npx ava <file>.
 */
import test from 'ava';
import fc from 'fast-check';
import { KiB } from '../../../src/core/limits.js';
import type { BlockDevice } from '../../../src/blockdev/types.js';
import type { BlockDeviceFactory } from './compliance.js';
import { pattern } from './util.js';

/** Crosses several 64 KiB chunks and 4 KiB blocks; deliberately not a multiple of either. */
const MODEL_DEVICE_BYTES = 200 * KiB + 123;
const MAX_OP_BYTES = 80 * KiB;
const MAX_OPS = 40;

type Op =
  | { kind: 'write'; offset: number; length: number; seed: number }
  | { kind: 'read' | 'trim' | 'writeZeroes' | 'extents'; offset: number; length: number }
  | { kind: 'flush' };

/** A range inside the model device, with lengths biased to small but reaching whole chunks. */
const rangeArb = fc
  .tuple(fc.nat({ max: MODEL_DEVICE_BYTES }), fc.nat({ max: MAX_OP_BYTES }))
  .map(([offset, length]) => ({ offset, length: Math.min(length, MODEL_DEVICE_BYTES - offset) }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(rangeArb, fc.nat({ max: 1000 }))
      .map(([r, seed]) => ({ kind: 'write' as const, ...r, seed })),
  },
  { weight: 2, arbitrary: rangeArb.map((r) => ({ kind: 'read' as const, ...r })) },
  { weight: 2, arbitrary: rangeArb.map((r) => ({ kind: 'trim' as const, ...r })) },
  { weight: 2, arbitrary: rangeArb.map((r) => ({ kind: 'writeZeroes' as const, ...r })) },
  { weight: 1, arbitrary: rangeArb.map((r) => ({ kind: 'extents' as const, ...r })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
);

/** Registers `<name> blockdev: model-based random operations agree with a plain buffer`. */
export function blockDeviceModelTest(name: string, factory: BlockDeviceFactory, runs = 60): void {
  test(`${name} blockdev: model-based random operations agree with a plain buffer`, async (t) => {
    const seed =
      process.env.FC_SEED === undefined
        ? Date.now() ^ (Math.random() * 0x7fffffff)
        : Number(process.env.FC_SEED);
    const path = process.env.FC_PATH;
    t.log(
      `fast-check seed ${seed}${path ? ` path ${path}` : ''} (replay: FC_SEED=${seed} FC_PATH=<path from a failure>)`,
    );
    const property = fc.asyncProperty(fc.array(opArb, { maxLength: MAX_OPS }), async (ops) => {
      const { dev, cleanup } = await factory({ sizeBytes: MODEL_DEVICE_BYTES });
      try {
        await runAgainstModel(dev, ops);
      } finally {
        await cleanup();
      }
    });
    await fc.assert(property, { seed, numRuns: runs, ...(path ? { path } : {}) });
    t.pass();
  });
}

async function runAgainstModel(dev: BlockDevice, ops: Op[]): Promise<void> {
  const model = Buffer.alloc(MODEL_DEVICE_BYTES);
  for (const [step, op] of ops.entries()) {
    await applyOp(dev, model, op, step);
  }
  const whole = await dev.read(0, MODEL_DEVICE_BYTES);
  if (!whole.equals(model)) throw new Error(`final content differs at byte ${firstDifference(whole, model)}`);
}

async function applyOp(dev: BlockDevice, model: Buffer, op: Op, step: number): Promise<void> {
  switch (op.kind) {
    case 'write': {
      const data = pattern(op.length, op.seed);
      await dev.write(op.offset, data);
      data.copy(model, op.offset);
      return;
    }
    case 'read': {
      const got = await dev.read(op.offset, op.length);
      const want = model.subarray(op.offset, op.offset + op.length);
      if (!got.equals(want)) {
        throw new Error(`step ${step}: read differs at byte ${op.offset + firstDifference(got, want)}`);
      }
      return;
    }
    case 'trim':
    case 'writeZeroes':
      await dev[op.kind](op.offset, op.length);
      model.fill(0, op.offset, op.offset + op.length);
      return;
    case 'extents':
      return checkExtents(dev, model, op.offset, op.length, step);
    case 'flush':
      return dev.flush();
  }
}

/** Extents must cover the range in order, and every hole must be zeros in the model. */
async function checkExtents(dev: BlockDevice, model: Buffer, offset: number, length: number, step: number) {
  let cursor = offset;
  for (const e of await dev.extents(offset, length)) {
    if (e.offset !== cursor || e.length <= 0)
      throw new Error(`step ${step}: extents not contiguous at ${cursor}`);
    if (e.hole && !model.subarray(e.offset, e.offset + e.length).every((b) => b === 0)) {
      throw new Error(`step ${step}: extent at ${e.offset}+${e.length} called a hole but holds data`);
    }
    cursor += e.length;
  }
  if (cursor !== offset + length)
    throw new Error(`step ${step}: extents end at ${cursor}, not ${offset + length}`);
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}
