/**
 * The FUSE adapter's operations, called directly (no mount): semantics, errno mapping, deadlines,
 * the unlink-of-an-open-file dance libfuse performs, and the op-size counters.
 */
import test from 'ava';
import { MemoryFlatFs, type ErrorCode, type FlatFs } from '../../../src/index.js';
import { FlatFsFuseAdapter, type AdapterSettings } from '../../../src/fuse/adapter.js';
import { ERRNO, type FuseStat, type FuseStatfs } from '../../../src/fuse/native.js';
import { FaultyFlatFs } from '../../helpers/fuse-faulty-flatfs.js';

const GiB = 2 ** 30;
const O_RDONLY = 0;
const O_RDWR = 2;
const HIDDEN = '.fuse_hidden0000000100000002';

const SETTINGS: AdapterSettings = {
  opTimeoutMs: 5000,
  syncTimeoutMs: 5000,
  maxIoBytes: 131072,
  readOnly: false,
  maxOpenFiles: 100,
  maxDirEntries: 1000,
};

function setup(settings: Partial<AdapterSettings> = {}, quotaBytes = 8 * GiB) {
  const mem = new MemoryFlatFs({ quotaBytes });
  const faulty = new FaultyFlatFs(mem);
  const a = new FlatFsFuseAdapter(faulty, { ...SETTINGS, ...settings });
  return { mem, faulty, a };
}

/** Promise of a callback-style op's reply arguments. */
function op<R extends unknown[]>(start: (reply: (...r: R) => void) => void): Promise<R> {
  return new Promise((resolve) => start((...r: R) => resolve(r)));
}

const create = (a: FlatFsFuseAdapter, name: string) =>
  op<[number, number?]>((cb) => a.create('/' + name, 0o644, cb));
const open = (a: FlatFsFuseAdapter, name: string, flags = O_RDWR) =>
  op<[number, number?]>((cb) => a.open('/' + name, flags, cb));
const getattr = (a: FlatFsFuseAdapter, path: string) => op<[number, FuseStat?]>((cb) => a.getattr(path, cb));
const write = (a: FlatFsFuseAdapter, fh: number, data: Buffer, pos: number) =>
  op<[number]>((cb) => a.write('/x', fh, data, data.length, pos, cb));
const read = (a: FlatFsFuseAdapter, fh: number, buf: Buffer, pos: number) =>
  op<[number]>((cb) => a.read('/x', fh, buf, buf.length, pos, cb));
const readdir = (a: FlatFsFuseAdapter) => op<[number, string[]?, FuseStat[]?]>((cb) => a.readdir('/', cb));
const release = (a: FlatFsFuseAdapter, fh: number) => op<[number]>((cb) => a.release('/x', fh, cb));

async function createOpen(a: FlatFsFuseAdapter, name: string): Promise<number> {
  const [r, fh] = await create(a, name);
  if (r !== 0 || fh === undefined) throw new Error(`create ${name}: ${r}`);
  return fh;
}

test('create, write, read back into the buffer given, getattr and readdir', async (t) => {
  const { a } = setup();
  const fh = await createOpen(a, 'f');
  t.true(fh > 0);
  t.deepEqual(await write(a, fh, Buffer.from('hello'), 0), [5]);
  const buf = Buffer.alloc(16, 0xee);
  t.deepEqual(await read(a, fh, buf, 0), [5]);
  t.is(buf.subarray(0, 5).toString(), 'hello');
  const [r, st] = await getattr(a, '/f');
  t.is(r, 0);
  t.is(st!.sizeBytes, 5);
  t.is(st!.mode & 0o170000, 0o100000);
  t.is(st!.nlink, 1);
  const [rd, names] = await readdir(a);
  t.is(rd, 0);
  t.deepEqual(names, ['.', '..', 'f']);
  t.deepEqual(await release(a, fh), [0]);
  t.is(a.openFiles, 0);
});

test('the root is a folder and answers without the backend, even when the backend hangs', async (t) => {
  const { a, faulty } = setup();
  faulty.fault = { kind: 'hang' };
  const [r, st] = await getattr(a, '/');
  t.is(r, 0);
  t.is(st!.mode & 0o170000, 0o040000);
  t.deepEqual(faulty.faultedCalls, []);
});

test('op stats count reads and writes and keep the largest sizes', async (t) => {
  const { a } = setup();
  const fh = await createOpen(a, 'f');
  await write(a, fh, Buffer.alloc(131072, 1), 0);
  await write(a, fh, Buffer.alloc(4096, 2), 131072);
  await read(a, fh, Buffer.alloc(65536), 0);
  t.like(a.stats.toJSON(), {
    writeOps: 2,
    writeBytes: 135168,
    writeMaxBytes: 131072,
    readOps: 1,
    readBytes: 65536,
    readMaxBytes: 65536,
  });
});

const MAPPED: Array<[ErrorCode, number]> = [
  ['NOT_FOUND', ERRNO.ENOENT],
  ['EXISTS', ERRNO.EEXIST],
  ['NO_SPACE', ERRNO.ENOSPC],
  ['READ_ONLY', ERRNO.EROFS],
  ['NAME_TOO_LONG', ERRNO.ENAMETOOLONG],
  ['BAD_NAME', ERRNO.EINVAL],
  ['INVALID_ARGUMENT', ERRNO.EINVAL],
  ['BAD_HANDLE', ERRNO.EBADF],
  ['NOT_A_FOLDER', ERRNO.ENOTDIR],
  ['IS_A_FOLDER', ERRNO.EISDIR],
  ['IO_ERROR', ERRNO.EIO],
  ['UNREACHABLE', ERRNO.EIO],
  ['PEER_DEAD', ERRNO.EIO],
  ['TIMEOUT', ERRNO.EIO],
  ['CLOSED', ERRNO.EIO],
  ['INTERNAL', ERRNO.EIO],
];

for (const [code, errno] of MAPPED) {
  test(`backend ${code} is errno ${errno} on every kind of operation`, async (t) => {
    const { a, faulty } = setup();
    const fh = await createOpen(a, 'f');
    faulty.fault = { kind: 'reject', code };
    t.deepEqual(await getattr(a, '/f'), [-errno]);
    t.deepEqual(await write(a, fh, Buffer.from('x'), 0), [-errno]);
    t.deepEqual(await read(a, fh, Buffer.alloc(4), 0), [-errno]);
    t.deepEqual(await open(a, 'f'), [-errno]);
    t.deepEqual(await op((cb) => a.truncate('/f', 0, cb)), [-errno]);
    t.deepEqual(await op((cb) => a.rename('/f', '/g', cb)), [-errno]);
    t.deepEqual(await op((cb) => a.statfs('/', cb)), [-errno]);
    t.deepEqual(await op((cb) => a.fsync('/f', false, fh, cb)), [-errno]);
  });
}

test('an error that is not a FerryError, or a backend that throws synchronously, is EIO', async (t) => {
  const { a, faulty } = setup();
  faulty.fault = { kind: 'throw', error: new TypeError('boom') };
  t.deepEqual(await getattr(a, '/f'), [-ERRNO.EIO]);
  t.deepEqual(await create(a, 'g'), [-ERRNO.EIO]);
});

test('a hung backend is answered with EIO after opTimeoutMs and counted as a timeout', async (t) => {
  const { a, faulty } = setup({ opTimeoutMs: 50, syncTimeoutMs: 80 });
  const fh = await createOpen(a, 'f');
  faulty.fault = { kind: 'hang' };
  t.deepEqual(await read(a, fh, Buffer.alloc(8), 0), [-ERRNO.EIO]);
  t.deepEqual(await op((cb) => a.fsync('/f', false, fh, cb)), [-ERRNO.EIO]);
  t.deepEqual(await op((cb) => a.readdir('/', cb)), [-ERRNO.EIO]);
  t.is(a.stats.timeouts, 3);
});

test('a handle that arrives after the deadline is closed, not leaked', async (t) => {
  const { a, faulty } = setup({ opTimeoutMs: 30 });
  const fh = await createOpen(a, 'f');
  await release(a, fh);
  faulty.fault = { kind: 'hold' };
  t.deepEqual(await open(a, 'f'), [-ERRNO.EIO]);
  const before = faulty.closedHandles.length;
  faulty.release();
  await new Promise((r) => setTimeout(r, 20));
  t.is(faulty.closedHandles.length, before + 1);
  t.is(a.openFiles, 0);
});

test('an open file unlinked (libfuse renames it to .fuse_hidden...) leaves the listing at once and stays usable', async (t) => {
  const { a, mem } = setup();
  const fh = await createOpen(a, 'f');
  await write(a, fh, Buffer.from('data'), 0);
  t.deepEqual(await op((cb) => a.rename('/f', '/' + HIDDEN, cb)), [0]);
  const [, names] = await readdir(a);
  t.deepEqual(names, ['.', '..']);
  await t.throwsAsync(mem.stat(HIDDEN), { code: 'NOT_FOUND' });
  await t.throwsAsync(mem.stat('f'), { code: 'NOT_FOUND' });
  const [r, st] = await getattr(a, '/' + HIDDEN);
  t.is(r, 0);
  t.is(st!.sizeBytes, 4);
  t.deepEqual(await write(a, fh, Buffer.from('more'), 4), [4]);
  t.deepEqual(await op((cb) => a.ftruncate('/' + HIDDEN, fh, 6, cb)), [0]);
  const buf = Buffer.alloc(10);
  t.deepEqual(await read(a, fh, buf, 0), [6]);
  t.is(buf.subarray(0, 6).toString(), 'datamo');
  const [fr, fst] = await op<[number, FuseStat?]>((cb) => a.fgetattr('/' + HIDDEN, fh, cb));
  t.is(fr, 0);
  t.is(fst!.sizeBytes, 6);
  t.deepEqual(await release(a, fh), [0]);
  t.deepEqual(await op((cb) => a.unlink('/' + HIDDEN, cb)), [0]);
  t.is((await mem.statfs()).files, 0);
});

test('rename replaces an existing file and open handles follow the new name', async (t) => {
  const { a } = setup();
  const f1 = await createOpen(a, 'a');
  await write(a, f1, Buffer.from('AAA'), 0);
  const f2 = await createOpen(a, 'b');
  await write(a, f2, Buffer.from('B'), 0);
  await release(a, f2);
  t.deepEqual(await op((cb) => a.rename('/a', '/b', cb)), [0]);
  const [, names] = await readdir(a);
  t.deepEqual(names, ['.', '..', 'b']);
  t.is((await getattr(a, '/b'))[1]!.sizeBytes, 3);
  // The open handle of "a" is now "b": unlinking it while open hides it under that name.
  t.deepEqual(await op((cb) => a.rename('/b', '/' + HIDDEN, cb)), [0]);
  t.deepEqual((await readdir(a))[1], ['.', '..']);
  await release(a, f1);
});

test('a read-only mount refuses every change with EROFS and still reads', async (t) => {
  const { a, mem } = setup({ readOnly: true });
  const h = await mem.create('f');
  await mem.write(h, 0, Buffer.from('ro'));
  await mem.closeFile(h);
  t.true(a.readOnly);
  t.deepEqual(await create(a, 'g'), [-ERRNO.EROFS]);
  t.deepEqual(await open(a, 'f', O_RDWR), [-ERRNO.EROFS]);
  t.deepEqual(await op((cb) => a.truncate('/f', 0, cb)), [-ERRNO.EROFS]);
  t.deepEqual(await op((cb) => a.unlink('/f', cb)), [-ERRNO.EROFS]);
  t.deepEqual(await op((cb) => a.rename('/f', '/g', cb)), [-ERRNO.EROFS]);
  t.deepEqual(await op((cb) => a.utimens('/f', 5000, 5000, cb)), [-ERRNO.EROFS]);
  t.deepEqual(await op((cb) => a.chmod('/f', 0o600, cb)), [-ERRNO.EROFS]);
  t.deepEqual(await op((cb) => a.mkdir('/d', 0o755, cb)), [-ERRNO.EROFS]);
  const [r, fh] = await open(a, 'f', O_RDONLY);
  t.is(r, 0);
  t.deepEqual(await write(a, fh!, Buffer.from('x'), 0), [-ERRNO.EROFS]);
  const buf = Buffer.alloc(2);
  t.deepEqual(await read(a, fh!, buf, 0), [2]);
  t.is(buf.toString(), 'ro');
  t.is((await getattr(a, '/f'))[1]!.mode & 0o777, 0o444);
  const [sr, sfs] = await op<[number, FuseStatfs?]>((cb) => a.statfs('/', cb));
  t.is(sr, 0);
  t.is(sfs!.blocksAvailable, 0);
});

test('a backend that is read-only makes the adapter read-only', (t) => {
  const mem = new MemoryFlatFs({ quotaBytes: GiB, readOnly: true });
  t.true(new FlatFsFuseAdapter(mem, SETTINGS).readOnly);
});

test('a full quota is ENOSPC', async (t) => {
  const { a } = setup({}, 8192);
  const fh = await createOpen(a, 'f');
  t.deepEqual(await write(a, fh, Buffer.alloc(8192), 0), [8192]);
  t.deepEqual(await write(a, fh, Buffer.alloc(1), 8192), [-ERRNO.ENOSPC]);
  t.deepEqual(await op((cb) => a.truncate('/f', 16384, cb)), [-ERRNO.ENOSPC]);
});

test('names: too long is ENAMETOOLONG, an existing name is EEXIST on create, paths below / are ENOENT', async (t) => {
  const { a } = setup();
  t.deepEqual(await create(a, 'x'.repeat(300)), [-ERRNO.ENAMETOOLONG]);
  t.deepEqual(await getattr(a, '/' + 'x'.repeat(300)), [-ERRNO.ENAMETOOLONG]);
  await createOpen(a, 'e');
  t.deepEqual(await create(a, 'e'), [-ERRNO.EEXIST]);
  t.deepEqual(await getattr(a, '/e/f'), [-ERRNO.ENOENT]);
  t.deepEqual(await getattr(a, '/missing'), [-ERRNO.ENOENT]);
});

test('link and device operations fail like a filesystem without them; folder operations on a file are ENOTDIR; chmod is accepted, chown to others is not', async (t) => {
  const { a } = setup();
  await createOpen(a, 'f');
  t.deepEqual(await op((cb) => a.mkdir('/f/d', 0o755, cb)), [-ERRNO.ENOTDIR]);
  t.deepEqual(await op((cb) => a.rmdir('/f', cb)), [-ERRNO.ENOTDIR]);
  t.deepEqual(await op((cb) => a.symlink('f', '/s', cb)), [-ERRNO.EPERM]);
  t.deepEqual(await op((cb) => a.link('/f', '/l', cb)), [-ERRNO.EPERM]);
  t.deepEqual(await op((cb) => a.mknod('/n', 0o010644, 0, cb)), [-ERRNO.EPERM]);
  t.deepEqual(await op((cb) => a.chmod('/f', 0o600, cb)), [0]);
  const uid = process.getuid!();
  const gid = process.getgid!();
  t.deepEqual(await op((cb) => a.chown('/f', uid, gid, cb)), [0]);
  t.deepEqual(await op((cb) => a.chown('/f', 0xffffffff, 0xffffffff, cb)), [0]);
  t.deepEqual(await op((cb) => a.chown('/f', uid + 1, gid, cb)), [-ERRNO.EPERM]);
  t.deepEqual(await op((cb) => a.readdir('/f', cb)), [-ERRNO.ENOTDIR]);
});

test('unknown file handles are EBADF', async (t) => {
  const { a } = setup();
  t.deepEqual(await read(a, 999, Buffer.alloc(4), 0), [-ERRNO.EBADF]);
  t.deepEqual(await write(a, 999, Buffer.alloc(4), 0), [-ERRNO.EBADF]);
  t.deepEqual(await release(a, 999), [-ERRNO.EBADF]);
  t.deepEqual(await op((cb) => a.flush('/x', 999, cb)), [-ERRNO.EBADF]);
});

test('utimens sets the times; the "now" markers fuse-native garbles become now', async (t) => {
  const { a, mem } = setup();
  await createOpen(a, 'f');
  t.deepEqual(await op((cb) => a.utimens('/f', 1_600_000_000_000, 1_600_000_000_000, cb)), [0]);
  t.is((await mem.stat('f')).mtimeMs, 1_600_000_000_000);
  const before = Date.now();
  t.deepEqual(await op((cb) => a.utimens('/f', 1073, 1073, cb)), [0]);
  t.true((await mem.stat('f')).mtimeMs >= before);
});

test('statfs fits any size in 32-bit block counts and reports the name limit', async (t) => {
  const { a } = setup({}, 64 * 2 ** 40);
  const [r, st] = await op<[number, FuseStatfs?]>((cb) => a.statfs('/', cb));
  t.is(r, 0);
  t.true(st!.blocks <= 0xffffffff);
  t.is(st!.blocks * st!.fragmentBytes, 64 * 2 ** 40);
  t.is(st!.maxNameBytes, 255);
});

test('a listing larger than maxDirEntries is EIO, never silently cut', async (t) => {
  const { a } = setup({ maxDirEntries: 3 });
  for (const n of ['a', 'b', 'c']) await createOpen(a, n);
  t.is((await readdir(a))[0], 0);
  await createOpen(a, 'd');
  t.deepEqual(await readdir(a), [-ERRNO.EIO]);
});

test('more open files than maxOpenFiles is ENFILE and the extra backend handle is closed', async (t) => {
  const { a, faulty } = setup({ maxOpenFiles: 2 });
  await createOpen(a, 'a');
  await createOpen(a, 'b');
  const closed = faulty.closedHandles.length;
  t.deepEqual(await create(a, 'c'), [-ERRNO.ENFILE]);
  t.is(faulty.closedHandles.length, closed + 1);
});

test('closeAll closes every backend handle', async (t) => {
  const { a, faulty } = setup();
  await createOpen(a, 'a');
  await createOpen(a, 'b');
  await a.closeAll();
  t.is(faulty.closedHandles.length, 2);
  t.is(a.openFiles, 0);
});

// Keeps the type import used when FlatFs changes shape: the adapter needs nothing beyond it.
const _typecheck: (fs: FlatFs) => FlatFsFuseAdapter = (fs) => new FlatFsFuseAdapter(fs, SETTINGS);
void _typecheck;

test('a session that is gone for good (PEER_DEAD) marks the backend lost; a failed call (UNREACHABLE) does not', async (t) => {
  const { a, faulty } = setup();
  let lost: string | null = null;
  void a.lost.then((code) => (lost = code));
  faulty.fault = { kind: 'reject', code: 'UNREACHABLE' };
  t.deepEqual(await getattr(a, '/f'), [-ERRNO.EIO]);
  await new Promise((r) => setImmediate(r));
  t.is(lost, null);
  faulty.fault = { kind: 'reject', code: 'PEER_DEAD' };
  t.deepEqual(await getattr(a, '/f'), [-ERRNO.EIO]);
  t.is(await a.lost, 'PEER_DEAD');
});
