/**
 * DirectoryFlatFs: the compliance suite on a temp directory, plus what only a host directory can
 * get wrong: a missing root, pre-existing files, entries that are not regular files (subdirectories,
 * symlinks out of the root, FIFOs, undecodable names), and bytes really landing on the host.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KiB, MiB } from '../../../src/core/limits.js';
import { DirectoryFlatFs } from '../../../src/flatfs/directory.js';
import { HIDDEN_PREFIX } from '../../../src/flatfs/types.js';
import { flatFsCompliance, pattern, rejectsWith } from './compliance.js';

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-flatfs-'));
}

flatFsCompliance('directory', async (opts) => {
  const root = await tempDir();
  try {
    for (const [name, data] of opts.files ?? []) await fsp.writeFile(path.join(root, name), data);
    const fs = await DirectoryFlatFs.open({
      root,
      quotaBytes: opts.quotaBytes,
      readOnly: opts.readOnly ?? false,
    });
    return {
      fs,
      cleanup: async () => {
        await fs.close();
        await fsp.rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await fsp.rm(root, { recursive: true, force: true });
    throw err;
  }
});

/** A temp root holding a mix of host entries, removed at teardown. */
async function populatedRoot(t: import('ava').ExecutionContext): Promise<{ root: string; outside: string }> {
  const root = await tempDir();
  const outside = await tempDir();
  t.teardown(async () => {
    await fsp.rm(root, { recursive: true, force: true });
    await fsp.rm(outside, { recursive: true, force: true });
  });
  await fsp.writeFile(path.join(root, 'existing'), pattern(600 * KiB, 1));
  await fsp.writeFile(path.join(root, `${HIDDEN_PREFIX}partial`), Buffer.from('in progress'));
  await fsp.mkdir(path.join(root, 'subdir'));
  await fsp.writeFile(path.join(root, 'subdir', 'inner'), Buffer.from('not served'));
  await fsp.writeFile(path.join(outside, 'secret'), Buffer.from('outside the root'));
  await fsp.symlink(path.join(outside, 'secret'), path.join(root, 'link'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  await fsp.writeFile(
    Buffer.from(path.join(root, 'bad-\xff-utf8'), 'latin1'),
    Buffer.from('undecodable name'),
  );
  return { root, outside };
}

test('directory: a missing root is refused with a clear error; a file as root too', async (t) => {
  const parent = await tempDir();
  t.teardown(() => fsp.rm(parent, { recursive: true, force: true }));
  const missing = path.join(parent, 'nope');
  const err = await rejectsWith(t, DirectoryFlatFs.open({ root: missing }), 'NOT_FOUND');
  t.regex(err.message, /does not exist: create it first/);
  t.false(
    await fsp.stat(missing).then(
      () => true,
      () => false,
    ),
    'the root is not created',
  );
  await fsp.writeFile(path.join(parent, 'file'), 'x');
  await rejectsWith(t, DirectoryFlatFs.open({ root: path.join(parent, 'file') }), 'INVALID_ARGUMENT');
  await rejectsWith(t, DirectoryFlatFs.open({ root: parent, quotaBytes: -5 }), 'INVALID_ARGUMENT');
});

test('directory: serves only regular files with valid names from a directory that already has things', async (t) => {
  const { root } = await populatedRoot(t);
  const fs = await DirectoryFlatFs.open({ root });
  t.teardown(() => fs.close());
  t.deepEqual(
    (await fs.list()).entries.map((e) => e.name),
    ['existing'],
  );
  t.deepEqual(
    (await fs.list({ includeHidden: true })).entries.map((e) => [e.name, e.sizeBytes]),
    [
      [`${HIDDEN_PREFIX}partial`, 11],
      ['existing', 600 * KiB],
    ],
  );
  t.is((await fs.statfs()).files, 2);
  for (const name of ['subdir', 'link', 'fifo']) {
    await rejectsWith(t, fs.stat(name), 'NOT_FOUND');
    await rejectsWith(t, fs.open(name), 'NOT_FOUND');
    await rejectsWith(t, fs.truncate(name, 0), 'NOT_FOUND');
    await rejectsWith(t, fs.unlink(name), 'NOT_FOUND');
    await rejectsWith(t, fs.rename(name, 'taken'), 'NOT_FOUND');
    await rejectsWith(t, fs.create(name), 'EXISTS');
  }
  await rejectsWith(t, fs.rename('existing', 'subdir'), 'EXISTS');
  const h = await fs.open('existing');
  t.deepEqual(await fs.read(h, 0, 100), pattern(600 * KiB, 1).subarray(0, 100));
  await fs.closeFile(h);
});

test('directory: nothing outside the root is ever touched', async (t) => {
  const { root, outside } = await populatedRoot(t);
  const fs = await DirectoryFlatFs.open({ root });
  t.teardown(() => fs.close());
  await rejectsWith(t, fs.create('../escape'), 'BAD_NAME');
  await rejectsWith(t, fs.create(`${outside}/secret`), 'BAD_NAME');
  await rejectsWith(t, fs.create('link'), 'EXISTS');
  await rejectsWith(t, fs.setTimes('link', 0, 0), 'NOT_FOUND');
  t.is(await fsp.readFile(path.join(outside, 'secret'), 'utf8'), 'outside the root');
  t.deepEqual(await fsp.readdir(outside), ['secret']);
  t.false(
    await fsp.stat(path.join(path.dirname(root), 'escape')).then(
      () => true,
      () => false,
    ),
  );
  t.is(await fsp.readFile(path.join(root, 'subdir', 'inner'), 'utf8'), 'not served');
});

test('directory: the quota starts from the files already there', async (t) => {
  const { root } = await populatedRoot(t);
  const fs = await DirectoryFlatFs.open({ root, quotaBytes: 1 * MiB });
  t.teardown(() => fs.close());
  t.is((await fs.statfs()).usedBytes, 600 * KiB + 11);
  await rejectsWith(t, fs.create('more', { sizeBytes: 500 * KiB }), 'NO_SPACE');
  await t.throwsAsync(
    fsp.stat(path.join(root, 'more')),
    { code: 'ENOENT' },
    'a refused create leaves no file',
  );
  await fs.unlink('existing');
  const h = await fs.create('more', { sizeBytes: 500 * KiB });
  await fs.closeFile(h);
  t.is((await fs.statfs()).usedBytes, 500 * KiB + 11);
});

test('directory: data lands in the host file of the same name', async (t) => {
  const root = await tempDir();
  t.teardown(() => fsp.rm(root, { recursive: true, force: true }));
  const fs = await DirectoryFlatFs.open({ root });
  t.teardown(() => fs.close());
  const h = await fs.create('visible.bin');
  await fs.write(h, 10, Buffer.from('hello'));
  await fs.fsync(h);
  await fs.closeFile(h);
  t.deepEqual(
    await fsp.readFile(path.join(root, 'visible.bin')),
    Buffer.concat([Buffer.alloc(10), Buffer.from('hello')]),
  );
  await fs.rename('visible.bin', 'moved.bin');
  t.deepEqual((await fsp.readdir(root)).sort(), ['moved.bin']);
  const host = await fsp.stat(path.join(root, 'moved.bin'));
  t.is((await fs.stat('moved.bin')).mtimeMs, host.mtimeMs);
});

test('directory: statfs without a quota reports the host filesystem', async (t) => {
  const root = await tempDir();
  t.teardown(() => fsp.rm(root, { recursive: true, force: true }));
  const fs = await DirectoryFlatFs.open({ root });
  t.teardown(() => fs.close());
  const st = await fs.statfs();
  const host = await fsp.statfs(root);
  t.is(st.totalBytes, host.blocks * host.bsize);
  t.true(st.freeBytes > 0 && st.freeBytes <= st.totalBytes);
  t.is(st.usedBytes + st.freeBytes, st.totalBytes);
});
