/**
 * A Ceph cluster for a test file: scripts/ceph-dev.sh started once before the file's tests and
 * stopped after them, plus a fresh bucket per test.
 *
 * Why a real cluster and no mock: the S3 backend's risks are in what a real gateway does (multipart
 * rules, copy sources, listing order, error shapes). When Ceph cannot be installed or started the
 * tests fail with the script's own message: they never skip.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { S3Store } from '../../src/flatfs/s3/store.js';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/ceph-dev.sh');
/** Installing the packages on a fresh machine and starting take about 90 s here; this bounds both. */
const START_TIMEOUT_MS = 600_000;

export interface CephCluster {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
}

export async function startCeph(): Promise<CephCluster> {
  const dir = path.join(os.tmpdir(), `ferry-ceph-test-${process.pid}`);
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [SCRIPT, 'start', '--dir', dir, '--owner', String(process.pid)], {
      timeout: START_TIMEOUT_MS,
    }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `scripts/ceph-dev.sh start failed, so the S3 backend cannot be tested (this is a failure, not a skip): ${e.stderr ?? e.message}`,
      { cause: err },
    );
  }
  const env = Object.fromEntries(
    stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    endpoint: env['S3_ENDPOINT']!,
    accessKeyId: env['AWS_ACCESS_KEY_ID']!,
    secretAccessKey: env['AWS_SECRET_ACCESS_KEY']!,
    dir,
  };
}

export async function stopCeph(cluster: CephCluster | null): Promise<void> {
  const dir = cluster?.dir ?? path.join(os.tmpdir(), `ferry-ceph-test-${process.pid}`);
  await run('bash', [SCRIPT, 'stop', '--dir', dir], { timeout: 120_000 });
  await fsp.rm(dir, { recursive: true, force: true });
}

let bucketCount = 0;

/** A bucket name no other test of this process uses. */
export function freshBucket(what: string): string {
  return `${what}-${process.pid}-${++bucketCount}`;
}

export function storeFor(cluster: CephCluster, bucket: string): Promise<S3Store> {
  return S3Store.connect({
    endpoint: cluster.endpoint,
    bucket,
    credentials: { accessKeyId: cluster.accessKeyId, secretAccessKey: cluster.secretAccessKey },
  });
}

/** Removes every object and unfinished upload of `bucket`, then the bucket. */
export async function dropBucket(cluster: CephCluster, bucket: string): Promise<void> {
  const store = await storeFor(cluster, bucket);
  try {
    for await (const u of store.pendingUploads()) await store.abortUpload(u.key, u.uploadId);
    let continuation: string | undefined;
    do {
      const page = await store.list({ prefix: '', continuation, maxKeys: 1000 });
      await Promise.all(page.objects.map((o) => store.delete(o.key)));
      continuation = page.continuation ?? undefined;
    } while (continuation !== undefined);
    await store.deleteBucket();
  } finally {
    store.destroy();
  }
}
