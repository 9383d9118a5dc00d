/**
 * S3FlatFs against a real Ceph cluster (scripts/ceph-dev.sh, started once for this file): the flat
 * FS compliance suite and the model-based random sequences, each test (each run) on its own bucket.
 * Fails, never skips, when Ceph cannot start.
 */
import test from 'ava';
import fc from 'fast-check';
import { GiB, KiB } from '../../src/core/limits.js';
import { S3FlatFs } from '../../src/flatfs/s3/index.js';
import { type CephCluster, dropBucket, freshBucket, startCeph, stopCeph, storeFor } from '../helpers/ceph.js';
import { flatFsCompliance } from '../unit/flatfs/compliance.js';
import {
  LIST_PREFIXES,
  MODEL_NAMES,
  ModelFs,
  applyReal,
  describeOutcome,
  opArb,
  type Op,
  type Outcome,
} from '../unit/flatfs/model.js';

/** Logical bytes for the suite's default: room for the 6 GiB sparse test. */
const ROOMY_QUOTA_BYTES = 64 * GiB;

let cluster: CephCluster | null = null;

test.before(async () => {
  cluster = await startCeph();
});

test.after.always(async () => {
  await stopCeph(cluster);
});

flatFsCompliance(
  's3',
  async (opts) => {
    const c = cluster!;
    const bucket = freshBucket('compliance');
    const seed = await storeFor(c, bucket);
    try {
      await seed.ensureBucket();
      for (const [name, data] of opts.files ?? []) await seed.put(name, data, {});
    } finally {
      seed.destroy();
    }
    const fs = await S3FlatFs.open({
      endpoint: c.endpoint,
      bucket,
      credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
      quotaBytes: opts.quotaBytes ?? ROOMY_QUOTA_BYTES,
      readOnly: opts.readOnly ?? false,
    });
    return {
      fs,
      cleanup: async () => {
        await fs.close().catch(() => undefined);
        await dropBucket(c, bucket);
      },
    };
  },
  { prefixListing: true },
);

/** Small enough that random sequences hit NO_SPACE now and then (as in the memory and directory runs). */
const MODEL_QUOTA_BYTES = 512 * KiB;
const MODEL_FINAL_READ_BYTES = 1024 * KiB;
/** Fewer and shorter runs than the local backends: each step is a few requests to the gateway. */
const MODEL_RUNS = 12;
const MODEL_MAX_OPS = 30;

async function agreeWithModel(ops: Op[]): Promise<void> {
  const c = cluster!;
  const bucket = freshBucket('model');
  const fs = await S3FlatFs.open({
    endpoint: c.endpoint,
    bucket,
    createBucket: true,
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
    quotaBytes: MODEL_QUOTA_BYTES,
  });
  try {
    const model = new ModelFs(MODEL_QUOTA_BYTES);
    const handles: number[] = [];
    const check = async (op: Op, step: number): Promise<Outcome> => {
      const expected = model.apply(op);
      const actual = await applyReal(fs, handles, op);
      if (JSON.stringify(actual) === JSON.stringify(expected)) return expected;
      throw new Error(
        `step ${step} ${JSON.stringify(op)}: s3 gave ${describeOutcome(actual)}, model ${describeOutcome(expected)}`,
      );
    };
    for (const [step, op] of ops.entries()) await check(op, step);
    await check({ kind: 'list', includeHidden: true }, -1);
    await check({ kind: 'statfs' }, -1);
    for (const prefix of LIST_PREFIXES) {
      for (const delimited of [false, true]) {
        let cursor: string | null = null;
        do {
          const op: Op = { kind: 'list', includeHidden: true, prefix, delimited, cursor, limit: 2 };
          const page = await check(op, -1);
          cursor = page.ok ? ((page.value as [unknown, string | null])[1] ?? null) : null;
        } while (cursor !== null);
      }
    }
    for (const name of MODEL_NAMES) {
      await check({ kind: 'open', name, write: false }, -1);
      await check(
        { kind: 'read', handle: model.handleCount - 1, offset: 0, lengthBytes: MODEL_FINAL_READ_BYTES },
        -1,
      );
    }
  } finally {
    await fs.close().catch(() => undefined);
    await dropBucket(c, bucket);
  }
}

test('s3: random operation sequences agree with the model', async (t) => {
  const seed = Number(process.env['FERRY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  t.log(`seed ${seed} (replay with FERRY_SEED=${seed})`);
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: MODEL_MAX_OPS }), agreeWithModel),
      { seed, numRuns: MODEL_RUNS },
    );
    t.pass();
  } catch (err) {
    const cause = (err as Error).cause instanceof Error ? `\n${((err as Error).cause as Error).message}` : '';
    t.fail(`seed ${seed} (replay with FERRY_SEED=${seed}):\n${(err as Error).message}${cause}`);
  }
});
