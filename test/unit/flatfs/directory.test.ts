/**
 * DirectoryFlatFs: the compliance suite on a temp directory, plus what only a host directory can
 * get wrong: a missing root, pre-existing files and folders, entries that are not regular files
 * (symlinks out of the root, to files or folders, FIFOs, undecodable names), nested names as host
 * folders that come and go with their files, and bytes really landing on the host.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KiB, MiB } from '../../../src/core/limits.js';
import { DirectoryFlatFs } from '../../../src/flatfs/directory.js';
import { isOpenedAt } from '../../../src/flatfs/host-dir.js';
import { HIDDEN_PREFIX } from '../../../src/flatfs/types.js';
import { flatFsCompliance, pattern, rejectsWith } from './compliance.js';

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-flatfs-'));
}

flatFsCompliance(
  'directory',
  async (opts) => {
    const root = await tempDir();
    try {
      for (const [name, data] of opts.files ?? []) {
        await fsp.mkdir(path.dirname(path.join(root, name)), { recursive: true });
        await fsp.writeFile(path.join(root, name), data);
      }
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
  },
  { prefixListing: true },
);

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
  await fsp.mkdir(path.join(root, 'emptydir'));
  await fsp.writeFile(path.join(outside, 'secret'), Buffer.from('outside the root'));
  await fsp.symlink(path.join(outside, 'secret'), path.join(root, 'link'));
  await fsp.symlink(outside, path.join(root, 'linkdir'));
  await fsp.symlink(outside, path.join(root, 'subdir', 'nested-linkdir'));
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
    ['existing', 'subdir/inner'],
    'a host folder is a folder of names; symlinks and empty folders are nothing',
  );
  t.deepEqual(
    (await fs.list({ includeHidden: true })).entries.map((e) => [e.name, e.sizeBytes]),
    [
      [`${HIDDEN_PREFIX}partial`, 11],
      ['existing', 600 * KiB],
      ['subdir/inner', 10],
    ],
  );
  const top = await fs.list({ delimiter: '/' });
  t.deepEqual(top.prefixes, ['subdir/'], 'no emptydir/, no linkdir/');
  t.deepEqual((await fs.list({ prefix: 'linkdir/' })).entries, []);
  t.deepEqual((await fs.list({ prefix: 'linkdir/', delimiter: '/' })).entries, []);
  t.deepEqual((await fs.list({ prefix: 'subdir/nested-linkdir/' })).entries, []);
  t.is((await fs.statfs()).files, 3);
  for (const name of ['subdir', 'link', 'fifo', 'linkdir/secret', 'subdir/nested-linkdir/secret']) {
    await rejectsWith(t, fs.stat(name), 'NOT_FOUND');
    await rejectsWith(t, fs.open(name), 'NOT_FOUND');
    await rejectsWith(t, fs.truncate(name, 0), 'NOT_FOUND');
    await rejectsWith(t, fs.unlink(name), 'NOT_FOUND');
    await rejectsWith(t, fs.rename(name, 'taken'), 'NOT_FOUND');
  }
  for (const name of ['link', 'fifo', 'linkdir/new', 'subdir/nested-linkdir/new', 'link/new']) {
    await rejectsWith(t, fs.create(name), 'EXISTS');
    await rejectsWith(t, fs.rename('existing', name), 'EXISTS');
  }
  await rejectsWith(t, fs.create('subdir'), 'IS_A_FOLDER');
  await rejectsWith(t, fs.rename('existing', 'subdir'), 'IS_A_FOLDER');
  await rejectsWith(t, fs.create('existing/x'), 'NOT_A_FOLDER');
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
  await rejectsWith(t, fs.create('linkdir/new'), 'EXISTS');
  await rejectsWith(t, fs.stat('linkdir/secret'), 'NOT_FOUND');
  await rejectsWith(t, fs.open('subdir/nested-linkdir/secret'), 'NOT_FOUND');
  t.deepEqual(await fsp.readdir(outside), ['secret']);
});

test('directory: the quota starts from the files already there', async (t) => {
  const { root } = await populatedRoot(t);
  const fs = await DirectoryFlatFs.open({ root, quotaBytes: 1 * MiB });
  t.teardown(() => fs.close());
  t.is((await fs.statfs()).usedBytes, 600 * KiB + 11 + 10, 'existing, the hidden file and subdir/inner');
  await rejectsWith(t, fs.create('more', { sizeBytes: 500 * KiB }), 'NO_SPACE');
  await t.throwsAsync(
    fsp.stat(path.join(root, 'more')),
    { code: 'ENOENT' },
    'a refused create leaves no file',
  );
  await fs.unlink('existing');
  const h = await fs.create('more', { sizeBytes: 500 * KiB });
  await fs.closeFile(h);
  t.is((await fs.statfs()).usedBytes, 500 * KiB + 11 + 10);
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
  t.like(st, { maxNameBytes: 1024, maxSegmentBytes: 255 });
});

test('directory: nested names are host folders, made as needed and removed with their last file', async (t) => {
  const root = await tempDir();
  t.teardown(() => fsp.rm(root, { recursive: true, force: true }));
  const fs = await DirectoryFlatFs.open({ root });
  t.teardown(() => fs.close());
  const h = await fs.create('a/b/c.txt');
  await fs.write(h, 0, Buffer.from('nested'));
  await fs.fsync(h);
  await fs.closeFile(h);
  t.is(await fsp.readFile(path.join(root, 'a', 'b', 'c.txt'), 'utf8'), 'nested');
  await fs.rename('a/b/c.txt', 'x/y/z.txt');
  t.deepEqual(await fsp.readdir(root), ['x'], 'the emptied folders a/b and a are gone');
  t.is(await fsp.readFile(path.join(root, 'x', 'y', 'z.txt'), 'utf8'), 'nested');
  const part = await fs.create(`${HIDDEN_PREFIX}part/x/y/z.txt`);
  await fs.closeFile(part);
  t.true((await fsp.stat(path.join(root, `${HIDDEN_PREFIX}part`, 'x', 'y', 'z.txt'))).isFile());
  await fs.rename(`${HIDDEN_PREFIX}part/x/y/z.txt`, 'x/y/z.txt');
  t.deepEqual(await fsp.readdir(root), ['x'], 'publishing an upload removes its hidden folders');
  await fs.unlink('x/y/z.txt');
  t.deepEqual(await fsp.readdir(root), [], 'the root stays, empty');
  t.true((await fsp.stat(root)).isDirectory());
  const refused = await DirectoryFlatFs.open({ root, quotaBytes: 10 });
  t.teardown(() => refused.close());
  await rejectsWith(t, refused.create('q/r/s', { sizeBytes: 11 }), 'NO_SPACE');
  t.deepEqual(await fsp.readdir(root), [], 'a refused create leaves no folder behind');
});

test('directory: a folder left empty on the host (by a crash) does not block a file of its name', async (t) => {
  const { root } = await populatedRoot(t);
  const fs = await DirectoryFlatFs.open({ root });
  t.teardown(() => fs.close());
  await rejectsWith(t, fs.stat('emptydir'), 'NOT_FOUND');
  const h = await fs.create('emptydir');
  await fs.closeFile(h);
  t.true((await fsp.lstat(path.join(root, 'emptydir'))).isFile());
  await fsp.mkdir(path.join(root, 'only-junk'));
  execFileSync('mkfifo', [path.join(root, 'only-junk', 'fifo')]);
  await rejectsWith(t, fs.create('only-junk'), 'EXISTS');
  t.true((await fsp.lstat(path.join(root, 'only-junk', 'fifo'))).isFIFO(), 'host entries are never removed');
});

test('directory: an open file is checked to be where its name says (a folder swapped for a symlink is caught)', async (t) => {
  const { root, outside } = await populatedRoot(t);
  const realRoot = await fsp.realpath(root);
  const inside = await fsp.open(path.join(root, 'existing'));
  t.teardown(() => inside.close());
  t.true(await isOpenedAt(inside, path.join(realRoot, 'existing')));
  // What a race would give: the path root/linkdir/secret opened through the symlink linkdir.
  const through = await fsp.open(path.join(root, 'linkdir', 'secret'));
  t.teardown(() => through.close());
  const proc = await fsp.readlink(`/proc/self/fd/${through.fd}`).catch(() => null);
  if (proc === null) {
    t.log('no /proc/self/fd here: only the checks before the open apply');
    t.pass();
    return;
  }
  t.is(proc, path.join(await fsp.realpath(outside), 'secret'));
  t.false(await isOpenedAt(through, path.join(realRoot, 'linkdir', 'secret')));
});

test('directory: listing pages past many empty host folders (a page is found in several passes over a folder)', async (t) => {
  const root = await tempDir();
  t.teardown(() => fsp.rm(root, { recursive: true, force: true }));
  for (let i = 0; i < 20; i++)
    await fsp.mkdir(path.join(root, `a-${String(i).padStart(2, '0')}`, 'inner'), { recursive: true });
  for (let i = 0; i < 5; i++) await fsp.writeFile(path.join(root, `b-${i}`), 'x');
  await fsp.mkdir(path.join(root, 'c', 'empty'), { recursive: true });
  await fsp.writeFile(path.join(root, 'c', 'file'), 'x');
  const fs = await DirectoryFlatFs.open({ root });
  t.teardown(() => fs.close());
  for (const delimiter of [undefined, '/'] as const) {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await fs.list({
        limit: 2,
        ...(delimiter === undefined ? {} : { delimiter }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      seen.push(...page.entries.map((e) => e.name), ...(page.prefixes ?? []));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    t.deepEqual(
      seen,
      delimiter === undefined
        ? ['b-0', 'b-1', 'b-2', 'b-3', 'b-4', 'c/file']
        : ['b-0', 'b-1', 'b-2', 'b-3', 'b-4', 'c/'],
      String(delimiter),
    );
  }
});

test('symlinks and FIFOs on the host, in the root or a folder, are never renamed over, removed, opened or retimed', async (t) => {
  const root = await tempDir();
  t.teardown(() => fsp.rm(root, { recursive: true, force: true }));
  const victim = path.join(root, '..', `${path.basename(root)}-victim`);
  await fsp.writeFile(victim, 'precious');
  t.teardown(() => fsp.rm(victim, { force: true }));
  await fsp.mkdir(path.join(root, 'd'));
  const specials = ['link', 'fifo', 'd/link', 'd/fifo'];
  for (const name of specials) {
    if (name.endsWith('link')) await fsp.symlink(victim, path.join(root, name));
    else execFileSync('mkfifo', [path.join(root, name)]);
  }
  const fs = await DirectoryFlatFs.open({ root });
  t.teardown(() => fs.close());
  for (const name of specials) {
    const h = await fs.create('src');
    await fs.write(h, 0, Buffer.from('new'));
    await fs.closeFile(h);
    await rejectsWith(t, fs.rename('src', name), 'EXISTS');
    await rejectsWith(t, fs.create(name), 'EXISTS');
    await rejectsWith(t, fs.unlink(name), 'NOT_FOUND');
    await rejectsWith(t, fs.open(name, { write: true }), 'NOT_FOUND');
    await rejectsWith(t, fs.truncate(name, 0), 'NOT_FOUND');
    await rejectsWith(t, fs.setTimes(name, 0, 0), 'NOT_FOUND');
    const st = await fsp.lstat(path.join(root, name));
    t.true(name.endsWith('link') ? st.isSymbolicLink() : st.isFIFO(), `${name} is still there`);
  }
  t.is(await fsp.readFile(victim, 'utf8'), 'precious');
});
