/**
 * Several whole small files per message (UPLOAD_FILES, DOWNLOAD_FILES) and the server's
 * whole-file hash (FILE_HASH), over the fake network: what lands (bytes, mode, times, no hidden leftovers), what is
 * refused (a wrong hash, a bad or reserved name, a bad mode, a name twice) with nothing of the
 * refused file kept and the rest of the batch published, the codec's limits, and a hash that
 * matches the local one.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initChecksums, xxh64 } from '../../../src/core/checksum.js';
import { isFerryError } from '../../../src/core/errors.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { localFileHash, writeWholeFile } from '../../../src/transfer/client/small-files.js';
import {
  decodeFileBatch,
  decodeNameList,
  encodeFileBatch,
  encodeNameList,
  FILE_BATCH_MAX_BYTES,
  FILE_BATCH_MAX_FILES,
  type BatchFile,
} from '../../../src/wire/transfer/index.js';
import { serveOnFakeNetwork } from '../../helpers/fake-server.js';

test.before(async () => {
  await initChecksums();
});

async function setup(t: import('ava').ExecutionContext) {
  const fs = new MemoryFlatFs({ quotaBytes: 64 * 1024 * 1024 });
  return { fs, ...(await serveOnFakeNetwork(t, fs)) };
}

async function contents(fs: MemoryFlatFs, name: string): Promise<Buffer> {
  const h = await fs.open(name);
  try {
    return await fs.read(h, 0, (await fs.fstat(h)).sizeBytes);
  } finally {
    await fs.closeFile(h);
  }
}

function file(name: string, data: Buffer, mode = 0o640): BatchFile {
  return { name, mode, mtimeMs: 1_600_000_000_123, atimeMs: 1_600_000_000_000, hash: xxh64(data), data };
}

test('a batch lands whole: bytes, modes and times of every file, nothing hidden left', async (t) => {
  const { fs, client } = await setup(t);
  const files = [
    { name: 'a/one.txt', data: randomBytes(5000) },
    { name: 'a/b/two.bin', data: randomBytes(16 * 1024) },
    { name: 'empty', data: Buffer.alloc(0) },
  ];
  const r = await client.uploadFiles(
    files.map((f, i) => ({
      ...f,
      mode: 0o600 + i,
      mtimeMs: 1_500_000_000_500 + i,
      atimeMs: 1_500_000_000_000,
    })),
  );
  t.deepEqual(r.committed, [true, true, true]);
  t.is(r.error, null);
  for (const [i, f] of files.entries()) {
    t.true((await contents(fs, f.name)).equals(f.data), `${f.name} bytes`);
    const st = await fs.stat(f.name);
    t.is(st.mtimeMs, 1_500_000_000_500 + i, `${f.name} mtime`);
    t.is((st.mode ?? 0) & 0o777, 0o600 + i, `${f.name} mode`);
  }
  const all = (await fs.list({ includeHidden: true })).entries.map((e) => e.name).sort();
  t.deepEqual(all, ['a/b/two.bin', 'a/one.txt', 'empty']);
});

test('a refused file in a batch is not kept; the others are published and the first failure is named', async (t) => {
  const { fs, client } = await setup(t);
  const good = file('good.txt', Buffer.from('good'));
  const lying = { ...file('lying.txt', Buffer.from('bytes')), hash: 1n };
  const hidden = file('.ferry~part/x', Buffer.from('x'));
  const badMode = file('mode.txt', Buffer.from('m'), 0o4755);
  const reply = await client.rpc.call('UPLOAD_FILES', {
    files: encodeFileBatch([good, lying, hidden, badMode]),
  });
  t.is(reply.committed, 1);
  t.deepEqual([...reply.statuses], [1, 0, 0, 0]);
  t.not(reply.errorCode, '');
  t.true((await contents(fs, 'good.txt')).equals(Buffer.from('good')));
  const all = (await fs.list({ includeHidden: true })).entries.map((e) => e.name);
  t.deepEqual(all, ['good.txt'], 'nothing of the refused files, no part files');

  const one = await client.uploadFiles(
    [{ ...lying, data: Buffer.from('other') }, good].map(({ hash: _h, ...f }) => f),
  );
  t.deepEqual(one.committed, [true, true], 'the client computes each hash itself');

  const twice = await t.throwsAsync(
    client.rpc.call('UPLOAD_FILES', { files: encodeFileBatch([good, good]) }),
  );
  t.true(isFerryError(twice, 'INVALID_ARGUMENT'), String(twice));
});

test('UPLOAD_FILES refuses a hash mismatch by code, with the file named', async (t) => {
  const { client } = await setup(t);
  const lying = { ...file('x.txt', Buffer.from('bytes')), hash: 7n };
  const reply = await client.rpc.call('UPLOAD_FILES', { files: encodeFileBatch([lying]) });
  t.is(reply.errorCode, 'HASH_MISMATCH');
  t.regex(reply.errorMessage, /x\.txt/);
});

test('the batch codec round-trips and refuses lying counts, overruns and batches past its limits', (t) => {
  const files = [file('a', randomBytes(10)), file('é/b', Buffer.alloc(0)), file('c', randomBytes(1000))];
  const back = decodeFileBatch(encodeFileBatch(files));
  t.deepEqual(
    back.map((f) => ({ ...f, data: Buffer.from(f.data) })),
    files.map((f) => ({ ...f, data: Buffer.from(f.data) })),
  );
  const enc = encodeFileBatch(files);
  const lying = Buffer.from(enc);
  lying.writeUInt32LE(1_000_000, 0);
  t.true(
    isFerryError(
      t.throws(() => decodeFileBatch(lying)),
      'LIMIT_EXCEEDED',
    ),
  );
  const more = Buffer.from(enc);
  more.writeUInt32LE(4, 0);
  t.true(
    isFerryError(
      t.throws(() => decodeFileBatch(more)),
      'MALFORMED',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => decodeFileBatch(enc.subarray(0, enc.length - 1))),
      'MALFORMED',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => decodeFileBatch(Buffer.concat([enc, Buffer.alloc(1)]))),
      'MALFORMED',
    ),
  );
  const tooMany = Array.from({ length: FILE_BATCH_MAX_FILES + 1 }, (_, i) => file(`f${i}`, Buffer.alloc(0)));
  t.true(
    isFerryError(
      t.throws(() => encodeFileBatch(tooMany)),
      'LIMIT_EXCEEDED',
    ),
  );
  const tooBig = [file('big', Buffer.alloc(FILE_BATCH_MAX_BYTES))];
  t.true(
    isFerryError(
      t.throws(() => encodeFileBatch(tooBig)),
      'LIMIT_EXCEEDED',
    ),
  );
});

test('FILE_HASH answers the whole-file xxhash64 the local file hash gives; a missing file is NOT_FOUND', async (t) => {
  const { client } = await setup(t);
  const data = randomBytes(3 * 1024 * 1024 + 5);
  const up = await client.uploadFiles([
    { name: 'small', mode: 0o644, mtimeMs: 1, atimeMs: 1, data: data.subarray(0, 1000) },
  ]);
  t.is(up.error, null);
  const { bufferSource } = await import('../../../src/transfer/client/sources.js');
  await client.upload(bufferSource(data), 'big');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-hash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'big'), data);
  const local = await localFileHash(join(dir, 'big'));
  const remote = await client.fileHash('big');
  t.is(remote.sizeBytes, data.length);
  t.is(remote.fileHash, local.fileHash);
  t.is(remote.fileHash, xxh64(data));
  t.is((await client.fileHash('small')).fileHash, xxh64(data.subarray(0, 1000)));
  const missing = await t.throwsAsync(client.fileHash('nope'));
  t.true(isFerryError(missing, 'NOT_FOUND'), String(missing));
  const hidden = await t.throwsAsync(client.fileHash('.ferry~part/big'));
  t.true(isFerryError(hidden, 'BAD_NAME'), String(hidden));
});

test('DOWNLOAD_FILES sends the asked files whole with modes and times, stops at the first it cannot send and says why', async (t) => {
  const { client } = await setup(t);
  const a = randomBytes(3000);
  const b = Buffer.alloc(0);
  const up = await client.uploadFiles([
    { name: 'x/a', mode: 0o640, mtimeMs: 1_400_000_000_250, atimeMs: 1_400_000_000_000, data: a },
    { name: 'x/b', mode: 0o600, mtimeMs: 1_400_000_001_000, atimeMs: 1_400_000_000_000, data: b },
  ]);
  t.is(up.error, null);
  const got = await client.downloadFiles(['x/a', 'x/b']);
  t.is(got.error, null);
  t.deepEqual(
    got.files.map((f) => [f.name, f.mode, f.mtimeMs, Buffer.from(f.data).toString('hex')]),
    [
      ['x/a', 0o640, 1_400_000_000_250, a.toString('hex')],
      ['x/b', 0o600, 1_400_000_001_000, ''],
    ],
  );
  const missing = await client.downloadFiles(['x/b', 'nope', 'x/a']);
  t.deepEqual(
    missing.files.map((f) => f.name),
    ['x/b'],
  );
  t.is(missing.error?.code, 'NOT_FOUND');

  const dir = await mkdtemp(join(tmpdir(), 'ferry-whole-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, '.a.ferry-journal'), 'stale');
  await writeWholeFile(join(dir, 'a'), got.files[0]!);
  t.true((await readFile(join(dir, 'a'))).equals(a));
  const st = await stat(join(dir, 'a'));
  t.is(st.mode & 0o777, 0o640);
  t.true(Math.abs(st.mtimeMs - 1_400_000_000_250) < 1);
  t.deepEqual(await readdir(dir), ['a'], 'no part file, and the stale journal is gone');

  const hidden = await t.throwsAsync(client.downloadFiles(['x/a', '.ferry~part/x/a']));
  t.true(isFerryError(hidden, 'BAD_NAME'), String(hidden));
});

test('DOWNLOAD_FILES stops before a file that would pass the reply limit (LIMIT_EXCEEDED); the name-list codec refuses lies', async (t) => {
  const { client } = await setup(t);
  const { bufferSource } = await import('../../../src/transfer/client/sources.js');
  await client.upload(bufferSource(randomBytes(3 * 1024 * 1024)), 'three');
  await client.upload(bufferSource(randomBytes(2 * 1024 * 1024)), 'two');
  const got = await client.downloadFiles(['three', 'two']);
  t.deepEqual(
    got.files.map((f) => f.name),
    ['three'],
  );
  t.is(got.error?.code, 'LIMIT_EXCEEDED');
  const list = encodeNameList(['a', 'é/b']);
  t.deepEqual(decodeNameList(list), ['a', 'é/b']);
  const lying = Buffer.from(list);
  lying.writeUInt32LE(3, 0);
  t.true(
    isFerryError(
      t.throws(() => decodeNameList(lying)),
      'MALFORMED',
    ),
  );
  t.true(
    isFerryError(
      t.throws(() => decodeNameList(Buffer.concat([list, Buffer.alloc(1)]))),
      'MALFORMED',
    ),
  );
  const many = Buffer.alloc(4);
  many.writeUInt32LE(FILE_BATCH_MAX_FILES + 1, 0);
  t.true(
    isFerryError(
      t.throws(() => decodeNameList(many)),
      'LIMIT_EXCEEDED',
    ),
  );
});
