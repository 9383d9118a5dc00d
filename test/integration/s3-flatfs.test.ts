/**
 * S3FlatFs against a real Ceph cluster (scripts/ceph-dev.sh, started once for this file): the flat
 * FS compliance suite and the model-based random sequences, each test (each run) on its own bucket.
 * Fails, never skips, when Ceph cannot start.
 */
import test from 'ava';
import { GiB, KiB } from '../../src/core/limits.js';
import { S3FlatFs } from '../../src/flatfs/s3/index.js';
import { type CephCluster, dropBucket, freshBucket, startCeph, stopCeph, storeFor } from '../helpers/ceph.js';
import { flatFsCompliance } from '../unit/flatfs/compliance.js';
import { agreeWithModel, checkRandomSequences, type Op } from '../unit/flatfs/model.js';

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
/** Fewer and shorter runs than the local backends: each step is a few requests to the gateway. */
const MODEL_RUNS = 12;
const MODEL_MAX_OPS = 30;

async function agreeWithS3Model(ops: Op[]): Promise<void> {
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
    await agreeWithModel(fs, 's3', MODEL_QUOTA_BYTES, ops);
  } finally {
    await fs.close().catch(() => undefined);
    await dropBucket(c, bucket);
  }
}

test('s3: random operation sequences agree with the model', (t) =>
  checkRandomSequences(t, MODEL_RUNS, MODEL_MAX_OPS, agreeWithS3Model));
