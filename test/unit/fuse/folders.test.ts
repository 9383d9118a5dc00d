/**
 * Folders of the FUSE adapter, called directly (no mount): the path <-> key mapping, the roll-up of
 * a listing into one level (also for a backend that ignores prefix and delimiter, as the remote
 * client does today), mkdir / rmdir / readdir / getattr of folders, empty folders remembered by the
 * mount, and renames of files across folders and of whole folders.
 */
import test from 'ava';
import { FerryError, MemoryFlatFs, type FlatFs, type ListOptions } from '../../../src/index.js';
import {
  FlatFsFuseAdapter,
  MAX_FOLDER_RENAME_FILES,
  type AdapterSettings,
} from '../../../src/fuse/adapter.js';
import { RememberedFolders } from '../../../src/fuse/folders.js';
import { listLevel, rollUp } from '../../../src/fuse/listing.js';
import { ERRNO, type FuseStat } from '../../../src/fuse/native.js';
import { baseName, folderPrefix, keyOfPath, parentKey } from '../../../src/fuse/paths.js';
import { FaultyFlatFs } from '../../helpers/fuse-faulty-flatfs.js';

const GiB = 2 ** 30;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const HIDDEN = '.fuse_hidden0000000100000002';

const SETTINGS: AdapterSettings = {
  opTimeoutMs: 5000,
  syncTimeoutMs: 20000,
  maxIoBytes: 131072,
  readOnly: false,
  maxOpenFiles: 100,
  maxDirEntries: 100_000,
};

/** A backend that ignores prefix and delimiter and sends no `prefixes`, as the remote client today. */
class LegacyListFlatFs extends FaultyFlatFs {
  readonly listCalls: ListOptions[] = [];
  constructor(inner: FlatFs) {
    super(inner);
    this.list = async (opts = {}) => {
      this.listCalls.push(opts);
      const { entries, nextCursor } = await inner.list({ cursor: opts.cursor, limit: opts.limit });
      return { entries, nextCursor };
    };
  }
}

type Backend = 'rolling' | 'legacy';

function setup(backend: Backend = 'rolling', settings: Partial<AdapterSettings> = {}) {
  const mem = new MemoryFlatFs({ quotaBytes: 8 * GiB });
  const fs = backend === 'legacy' ? new LegacyListFlatFs(mem) : new FaultyFlatFs(mem);
  const a = new FlatFsFuseAdapter(fs, { ...SETTINGS, ...settings });
  return { mem, fs, a };
}

function op<R extends unknown[]>(start: (reply: (...r: R) => void) => void): Promise<R> {
  return new Promise((resolve) => start((...r: R) => resolve(r)));
}

const getattr = (a: FlatFsFuseAdapter, p: string) => op<[number, FuseStat?]>((cb) => a.getattr(p, cb));
const mkdir = async (a: FlatFsFuseAdapter, p: string) =>
  (await op<[number]>((cb) => a.mkdir(p, 0o755, cb)))[0];
const rmdir = async (a: FlatFsFuseAdapter, p: string) => (await op<[number]>((cb) => a.rmdir(p, cb)))[0];
const rename = async (a: FlatFsFuseAdapter, from: string, to: string) =>
  (await op<[number]>((cb) => a.rename(from, to, cb)))[0];

/** readdir's names without `.` and `..`, sorted; or the errno. */
async function ls(a: FlatFsFuseAdapter, p: string): Promise<string[] | number> {
  const [r, names] = await op<[number, string[]?, FuseStat[]?]>((cb) => a.readdir(p, cb));
  return r < 0 ? r : names!.slice(2).sort();
}

async function kind(a: FlatFsFuseAdapter, p: string): Promise<'dir' | 'file' | number> {
  const [r, st] = await getattr(a, p);
  if (r < 0) return r;
  return (st!.mode & S_IFMT) === S_IFDIR ? 'dir' : 'file';
}

async function put(mem: FlatFs, name: string, data = name): Promise<void> {
  const h = await mem.create(name);
  await mem.write(h, 0, Buffer.from(data));
  await mem.closeFile(h);
}

async function createIn(a: FlatFsFuseAdapter, p: string): Promise<number> {
  const [r, fh] = await op<[number, number?]>((cb) => a.create(p, 0o644, cb));
  if (r !== 0) throw new Error(`create ${p}: ${r}`);
  return fh!;
}

test('paths map to keys in one place, checked with the flat filesystem name rules', (t) => {
  t.is(keyOfPath('/'), '');
  t.is(keyOfPath('/a'), 'a');
  t.is(keyOfPath('/a/b/c'), 'a/b/c');
  t.is(keyOfPath('/фото/2026/ß.jpg'), 'фото/2026/ß.jpg');
  t.is(keyOfPath('/' + 'é'.repeat(127) + 'x'), 'é'.repeat(127) + 'x'); // 255 bytes
  t.is(keyOfPath('/d/' + 'é'.repeat(128)), -ERRNO.ENAMETOOLONG); // 256 bytes in one segment
  t.is(keyOfPath(('/' + 'x'.repeat(200)).repeat(6)), -ERRNO.ENAMETOOLONG); // 1206 bytes in all
  t.is(keyOfPath('/a//b'), -ERRNO.EINVAL);
  t.is(keyOfPath('/a/../b'), -ERRNO.EINVAL);
  t.is(keyOfPath('relative'), -ERRNO.EINVAL);
  t.is(folderPrefix(''), '');
  t.is(folderPrefix('a/b'), 'a/b/');
  t.is(parentKey('a/b/c'), 'a/b');
  t.is(parentKey('a'), '');
  t.is(baseName('a/b/c'), 'c');
  t.is(baseName('a'), 'a');
});

test('rollUp keeps a rolled-up page as it is and cuts a flat page at the next /', (t) => {
  const st = (name: string) => ({ name, sizeBytes: 1, mtimeMs: 0, atimeMs: 0, ctimeMs: 0 });
  const rolled = rollUp({ entries: [st('p/x')], prefixes: ['p/d/', 'p/e/'], nextCursor: null }, 'p/');
  t.deepEqual(
    { files: rolled.files.map((f) => f.name), folders: rolled.folders, done: rolled.done },
    { files: ['x'], folders: ['d', 'e'], done: false },
  );
  const flat = rollUp(
    {
      entries: [st('o'), st('p'), st('p-x'), st('p/a'), st('p/d/1'), st('p/d/2'), st('p/e/f/g'), st('q')],
      nextCursor: null,
    },
    'p/',
  );
  t.deepEqual(
    { files: flat.files.map((f) => f.name), folders: flat.folders, done: flat.done },
    { files: ['a'], folders: ['d', 'e'], done: true },
  );
  const top = rollUp({ entries: [st('a'), st('b/c'), st('b/d')], nextCursor: null }, '');
  t.deepEqual([top.files.map((f) => f.name), top.folders], [['a'], ['b']]);
});

test('listLevel over a backend that does not roll up: a folder spread over pages comes once, and the walk jumps to the prefix and stops after it', async (t) => {
  const mem = new MemoryFlatFs({ quotaBytes: GiB });
  for (let i = 0; i < 30; i++) await put(mem, `a${String(i).padStart(2, '0')}`);
  for (let i = 0; i < 5; i++) await put(mem, `p/big/${i}`);
  await put(mem, 'p/x');
  for (let i = 0; i < 30; i++) await put(mem, `z${i}`);
  const fs = new LegacyListFlatFs(mem);
  const files: string[] = [];
  const folders: string[] = [];
  for await (const level of listLevel(fs, 'p/', 2)) {
    files.push(...level.files.map((f) => f.name));
    folders.push(...level.folders);
  }
  t.deepEqual(files, ['x']);
  t.deepEqual(folders, ['big']);
  t.is(fs.listCalls[1]!.cursor, 'p', 'the second call starts at the folder, not after the first page');
  t.true(fs.listCalls.length <= 3, `${fs.listCalls.length} list calls`);
});

for (const backend of ['rolling', 'legacy'] as const) {
  test(`${backend} backend: prefixes are folders (0755, nlink 2), readdir lists one level, files below stay files`, async (t) => {
    const { a, mem } = setup(backend);
    await put(mem, 'top');
    await put(mem, 'photos/2026/img.jpg', 'jpeg');
    await put(mem, 'photos/2026/raw/img.cr2');
    await put(mem, 'photos/readme');
    await put(mem, 'photos-old');
    t.deepEqual(await ls(a, '/'), ['photos', 'photos-old', 'top']);
    t.deepEqual(await ls(a, '/photos'), ['2026', 'readme']);
    t.deepEqual(await ls(a, '/photos/2026'), ['img.jpg', 'raw']);
    const [r, st] = await getattr(a, '/photos/2026');
    t.is(r, 0);
    t.is(st!.mode & S_IFMT, S_IFDIR);
    t.is(st!.mode & 0o777, 0o755);
    t.is(st!.nlink, 2);
    const [fr, fst] = await getattr(a, '/photos/2026/img.jpg');
    t.is(fr, 0);
    t.is(fst!.mode & S_IFMT, S_IFREG);
    t.is(fst!.sizeBytes, 4);
    t.is(await kind(a, '/photos/20'), -ERRNO.ENOENT);
    t.is(await kind(a, '/top/x'), -ERRNO.ENOENT);
    t.is(await ls(a, '/top'), -ERRNO.ENOTDIR);
    t.is(await ls(a, '/nothing'), -ERRNO.ENOENT);
  });

  test(`${backend} backend: mkdir is remembered, files go in, rmdir refuses a folder that holds anything`, async (t) => {
    const { a, mem } = setup(backend);
    for (const p of ['/a', '/a/b', '/a/b/c']) t.is(await mkdir(a, p), 0);
    t.deepEqual(await ls(a, '/'), ['a']);
    t.deepEqual(await ls(a, '/a/b'), ['c']);
    t.deepEqual(await ls(a, '/a/b/c'), []);
    t.is(await kind(a, '/a/b/c'), 'dir');
    t.is(await mkdir(a, '/a/b'), -ERRNO.EEXIST);
    t.is(await mkdir(a, '/x/y'), -ERRNO.ENOENT);
    const fh = await createIn(a, '/a/b/c/f');
    await op((cb) => a.release('/a/b/c/f', fh, cb));
    t.truthy(await mem.stat('a/b/c/f'));
    t.is(await mkdir(a, '/a/b/c/f'), -ERRNO.EEXIST);
    t.is(await mkdir(a, '/a/b/c/f/g'), -ERRNO.ENOTDIR);
    t.is(await rmdir(a, '/a/b/c'), -ERRNO.ENOTEMPTY);
    t.is(await rmdir(a, '/a'), -ERRNO.ENOTEMPTY);
    t.is(await rmdir(a, '/a/b/c/f'), -ERRNO.ENOTDIR);
    t.is(await rmdir(a, '/nope'), -ERRNO.ENOENT);
    t.is((await op<[number]>((cb) => a.unlink('/a/b/c/f', cb)))[0], 0);
    // Made by mkdir in this mount: stays after its last file went.
    t.is(await kind(a, '/a/b/c'), 'dir');
    t.is(await rmdir(a, '/a/b/c'), 0);
    t.is(await kind(a, '/a/b/c'), -ERRNO.ENOENT);
    t.is(await rmdir(a, '/a/b'), 0);
    t.is(await rmdir(a, '/a'), 0);
    t.deepEqual(await ls(a, '/'), []);
    t.is(a.folders.size, 0);
  });

  test(`${backend} backend: a folder that only its files made vanishes with its last file`, async (t) => {
    const { a, mem } = setup(backend);
    await put(mem, 'd/only');
    t.is(await kind(a, '/d'), 'dir');
    t.is(await rmdir(a, '/d'), -ERRNO.ENOTEMPTY);
    t.is((await op<[number]>((cb) => a.unlink('/d/only', cb)))[0], 0);
    t.is(await kind(a, '/d'), -ERRNO.ENOENT);
    t.deepEqual(await ls(a, '/'), []);
  });

  test(`${backend} backend: files move across folders; a folder moves with everything in it, open handles following`, async (t) => {
    const { a, mem } = setup(backend);
    await put(mem, 'src/one');
    await put(mem, 'src/deep/er/two');
    t.is(await mkdir(a, '/dst'), 0);
    t.is(await rename(a, '/src/one', '/dst/one'), 0);
    t.deepEqual(await ls(a, '/dst'), ['one']);
    t.is(await mkdir(a, '/src/empty'), 0);
    const [, fh] = await op<[number, number?]>((cb) => a.open('/src/deep/er/two', 2, cb));
    t.is(await rename(a, '/src', '/moved'), 0);
    t.is(await kind(a, '/src'), -ERRNO.ENOENT);
    t.deepEqual(await ls(a, '/moved'), ['deep', 'empty']);
    t.is(await kind(a, '/moved/empty'), 'dir');
    t.is((await mem.stat('moved/deep/er/two')).sizeBytes, 'src/deep/er/two'.length);
    // The handle opened before the move now answers to the new name: its unlink hides it there.
    t.is(await rename(a, '/moved/deep/er/two', '/moved/deep/er/' + HIDDEN), 0);
    t.is(await ls(a, '/moved/deep/er'), -ERRNO.ENOENT);
    t.is((await getattr(a, '/moved/deep/er/' + HIDDEN))[0], 0);
    await op((cb) => a.release('/x', fh!, cb));
    t.is((await op<[number]>((cb) => a.unlink('/moved/deep/er/' + HIDDEN, cb)))[0], 0);
    // A folder onto an empty folder replaces it; onto a non-empty one, a file, or inside itself: refused.
    t.is(await mkdir(a, '/target'), 0);
    t.is(await rename(a, '/dst', '/target'), 0);
    t.deepEqual(await ls(a, '/target'), ['one']);
    await put(mem, 'other/x');
    await put(mem, 'file');
    t.is(await rename(a, '/other', '/target'), -ERRNO.ENOTEMPTY);
    t.is(await rename(a, '/other', '/file'), -ERRNO.ENOTDIR);
    t.is(await rename(a, '/other', '/other/sub'), -ERRNO.EINVAL);
    t.is(await rename(a, '/file', '/target'), -ERRNO.EISDIR);
    t.is(await rename(a, '/file', '/moved/empty'), -ERRNO.EISDIR);
    t.is(await rename(a, '/file', '/target/one/x'), -ERRNO.ENOTDIR);
    t.deepEqual((await mem.list()).entries.map((e) => e.name).sort(), ['file', 'other/x', 'target/one']);
  });
}

test('a folder rename that fails half-way moves back what had moved', async (t) => {
  const mem = new MemoryFlatFs({ quotaBytes: GiB });
  for (const n of ['a', 'b', 'c', 'd']) await put(mem, `src/${n}`);
  const fs = new FaultyFlatFs(mem);
  fs.rename = (from, to) =>
    to === 'dst/c' ? Promise.reject(new FerryError('NO_SPACE', 'injected')) : mem.rename(from, to);
  const a = new FlatFsFuseAdapter(fs, SETTINGS);
  t.is(await rename(a, '/src', '/dst'), -ERRNO.ENOSPC);
  t.deepEqual(
    (await mem.list()).entries.map((e) => e.name),
    ['src/a', 'src/b', 'src/c', 'src/d'],
  );
});

test(`a folder of more than MAX_FOLDER_RENAME_FILES files is EXDEV (mv then copies) and nothing moves`, async (t) => {
  t.timeout(60_000);
  const { a, mem } = setup();
  for (let i = 0; i <= MAX_FOLDER_RENAME_FILES; i++) await mem.closeFile(await mem.create(`big/${i}`));
  t.is(await rename(a, '/big', '/other'), -ERRNO.EXDEV);
  t.is((await mem.statfs()).files, MAX_FOLDER_RENAME_FILES + 1);
  t.is(await kind(a, '/other'), -ERRNO.ENOENT);
});

test('readdir pages through a folder larger than one list page', async (t) => {
  const { a, mem } = setup();
  for (let i = 0; i < 2500; i++) await mem.closeFile(await mem.create(`many/${String(i).padStart(4, '0')}`));
  await put(mem, 'many/sub/x');
  const names = await ls(a, '/many');
  t.true(Array.isArray(names));
  t.is((names as string[]).length, 2501);
  t.true((names as string[]).includes('sub'));
});

test('names: create of a name that is a folder is EISDIR, under a file ENOTDIR; a 255-byte segment works, 256 is ENAMETOOLONG', async (t) => {
  const { a, mem } = setup();
  await put(mem, 'd/x');
  await put(mem, 'f');
  t.deepEqual(await op((cb) => a.create('/d', 0o644, cb)), [-ERRNO.EISDIR]);
  t.deepEqual(await op((cb) => a.create('/f/x', 0o644, cb)), [-ERRNO.ENOTDIR]);
  t.is(await mkdir(a, '/e'), 0);
  t.deepEqual(await op((cb) => a.create('/e', 0o644, cb)), [-ERRNO.EISDIR]);
  const seg = 'ü'.repeat(127) + 'y';
  t.is(await mkdir(a, '/d/' + seg), 0);
  const fh = await createIn(a, `/d/${seg}/${seg}`);
  await op((cb) => a.release('/x', fh, cb));
  t.is(await kind(a, `/d/${seg}/${seg}`), 'file');
  t.is(await mkdir(a, '/d/' + seg + 'z'), -ERRNO.ENAMETOOLONG);
  t.deepEqual(await op((cb) => a.create(`/d/${seg}z`, 0o644, cb)), [-ERRNO.ENAMETOOLONG]);
  t.deepEqual(await op((cb) => a.utimens('/d', 5000, 5000, cb)), [0]);
});

test('remembered folders are bounded: past the limit mkdir is ENOSPC; moves carry what is inside', (t) => {
  const r = new RememberedFolders(2);
  t.true(r.add('a'));
  t.true(r.add('a/b'));
  t.true(r.add('a'));
  t.false(r.add('c'));
  t.deepEqual([...r.childrenOf('')], ['a']);
  t.deepEqual([...r.childrenOf('a')], ['b']);
  t.true(r.anyUnder('a'));
  t.false(r.anyUnder('a/b'));
  r.moved('a', 'x/y');
  t.true(r.has('x/y'));
  t.true(r.has('x/y/b'));
  t.false(r.has('a'));
});
