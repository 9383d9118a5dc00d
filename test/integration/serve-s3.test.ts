/**
 * `ferry serve --s3` on a real Ceph cluster (scripts/ceph-dev.sh, once for this file): `ferry cp`
 * up and down gives identical bytes and leaves no unfinished multipart upload; two servers in front
 * of one bucket serve the same files; `--gc` aborts stale uploads; bad S3 flags are bad usage.
 * Fails, never skips, when Ceph cannot start.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomFile } from '../../bench/lib/peers.js';
import { MiB } from '../../src/core/limits.js';
import { type CephCluster, dropBucket, freshBucket, startCeph, stopCeph, storeFor } from '../helpers/ceph.js';
import { runFerry } from '../helpers/cli.js';
import { startServe, type ServeProcess } from '../helpers/server-process.js';

/** Several slots (5 MiB each) and a short last one: the multipart path, kept quick. */
const FILE_BYTES = 40 * MiB + 12_345;
const CP_TIMEOUT_MS = 240_000;

let cluster: CephCluster | null = null;

test.before(async () => {
  cluster = await startCeph();
});

test.after.always(async () => {
  await stopCeph(cluster);
});

function s3Env(): NodeJS.ProcessEnv {
  return { AWS_ACCESS_KEY_ID: cluster!.accessKeyId, AWS_SECRET_ACCESS_KEY: cluster!.secretAccessKey };
}

async function serveBucket(t: ExecutionContext, bucket: string, extra: string[] = []): Promise<ServeProcess> {
  const server = await startServe(['--s3', cluster!.endpoint, '--bucket', bucket, '--insecure', ...extra], {
    env: s3Env(),
  });
  t.teardown(async () => {
    await server.stop(); // SIGTERM: the server closes the bucket and removes its spool folder
  });
  return server;
}

async function workdir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-s3-cp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  try {
    await promisify(execFile)('cmp', ['-s', a, b]);
    return true;
  } catch {
    return false;
  }
}

async function pendingUploads(bucket: string): Promise<number> {
  const store = await storeFor(cluster!, bucket);
  try {
    let n = 0;
    for await (const u of store.pendingUploads()) if (u.uploadId !== '') n++;
    return n;
  } finally {
    store.destroy();
  }
}

test.serial('serve --s3: cp up and down gives identical bytes; the object is the file', async (t) => {
  const bucket = freshBucket('cp');
  t.teardown(() => dropBucket(cluster!, bucket));
  const dir = await workdir(t);
  const src = join(dir, 'src.bin');
  const back = join(dir, 'back.bin');
  await randomFile(src, FILE_BYTES);
  const server = await serveBucket(t, bucket);
  t.regex(server.stderr(), new RegExp(`created bucket ${bucket}`));
  t.regex(server.stderr(), /listening on .*S3 bucket/);
  const up = await runFerry(['cp', src, `127.0.0.1:${server.port}:dir/big.bin`, '--insecure'], {
    timeoutMs: CP_TIMEOUT_MS,
  });
  t.is(up.code, 0, up.stderr);
  const down = await runFerry(['cp', `127.0.0.1:${server.port}:dir/big.bin`, back, '--insecure'], {
    timeoutMs: CP_TIMEOUT_MS,
  });
  t.is(down.code, 0, down.stderr);
  t.true(await sameBytes(src, back), 'the download holds the same bytes');
  const store = await storeFor(cluster!, bucket);
  t.teardown(() => store.destroy());
  const head = await store.head('dir/big.bin');
  t.is(head?.sizeBytes, FILE_BYTES, 'the object under the name holds the file');
  const listed = await store.list({ prefix: '', maxKeys: 1000 });
  t.deepEqual(
    listed.objects.map((o) => o.key),
    ['dir/big.bin'],
    'no part file or journal left',
  );
  t.is(await pendingUploads(bucket), 0, 'no unfinished multipart upload left');
  t.is(await server.stop(), 0, 'the server stops cleanly on SIGTERM');
});

test.serial('serve --s3: two servers in front of one bucket serve the same files', async (t) => {
  const bucket = freshBucket('two');
  t.teardown(() => dropBucket(cluster!, bucket));
  const dir = await workdir(t);
  const src = join(dir, 'src.bin');
  await randomFile(src, FILE_BYTES);
  const a = await serveBucket(t, bucket);
  const b = await serveBucket(t, bucket);
  const up = await runFerry(['cp', src, `127.0.0.1:${a.port}:shared.bin`, '--insecure'], {
    timeoutMs: CP_TIMEOUT_MS,
  });
  t.is(up.code, 0, up.stderr);
  const ls = await runFerry(['ls', `127.0.0.1:${b.port}:`, '--insecure']);
  t.is(ls.code, 0, ls.stderr);
  t.regex(ls.stdout, /shared\.bin/);
  const back = join(dir, 'back.bin');
  const down = await runFerry(['cp', `127.0.0.1:${b.port}:shared.bin`, back, '--insecure'], {
    timeoutMs: CP_TIMEOUT_MS,
  });
  t.is(down.code, 0, down.stderr);
  t.true(await sameBytes(src, back), 'the other server gives the same bytes');
  const rm2 = await runFerry(['rm', `127.0.0.1:${b.port}:shared.bin`, '--insecure']);
  t.is(rm2.code, 0, rm2.stderr);
  const gone = await runFerry(['stat', `127.0.0.1:${a.port}:shared.bin`, '--insecure']);
  t.not(gone.code, 0, 'a file removed through one server is gone through the other');
});

test.serial('serve --s3 --gc aborts multipart uploads older than the part TTL', async (t) => {
  const bucket = freshBucket('gc');
  const store = await storeFor(cluster!, bucket);
  t.teardown(async () => {
    store.destroy();
    await dropBucket(cluster!, bucket);
  });
  await store.ensureBucket();
  await store.createUpload('orphan.bin', {});
  t.is(await pendingUploads(bucket), 1);
  await new Promise((r) => setTimeout(r, 2_500));
  const server = await serveBucket(t, bucket, ['--gc', '--part-ttl', '1s']);
  t.regex(server.stderr(), /--gc: aborted 1 unfinished multipart upload/);
  t.is(await pendingUploads(bucket), 0);
});

test.serial('serve --s3: missing pieces are bad usage that says what to give', async (t) => {
  const dir = await workdir(t);
  const noBucket = await runFerry(['serve', '--s3', cluster!.endpoint, '--insecure']);
  t.is(noBucket.code, 2);
  t.regex(noBucket.stderr, /--s3 needs --bucket NAME/);
  const noS3 = await runFerry(['serve', '--bucket', 'x', '--insecure']);
  t.is(noS3.code, 2);
  t.regex(noS3.stderr, /--bucket needs --s3 URL/);
  const both = await runFerry([
    'serve',
    '--memory',
    '--s3',
    cluster!.endpoint,
    '--bucket',
    'x',
    '--insecure',
  ]);
  t.is(both.code, 2);
  const empty = join(dir, 'creds');
  await writeFile(empty, 'S3_ENDPOINT=x\n');
  const noCreds = await runFerry([
    'serve',
    '--s3',
    cluster!.endpoint,
    '--bucket',
    'x',
    '--s3-credentials',
    empty,
    '--insecure',
  ]);
  t.is(noCreds.code, 2);
  t.regex(noCreds.stderr, /no S3 credentials in .*AWS_ACCESS_KEY_ID/);
  const wrong = await runFerry(
    ['serve', '--s3', cluster!.endpoint, '--bucket', 'wrong-creds', '--insecure'],
    {
      env: { AWS_ACCESS_KEY_ID: 'NOPE', AWS_SECRET_ACCESS_KEY: 'nope' },
    },
  );
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /PERMISSION_DENIED|check AWS_ACCESS_KEY_ID/);
});
