/**
 * The FlatFs compliance suite: one set of behaviour tests that every backend runs.
 *
 * Why: the memory backend, the directory backend and the remote client must be interchangeable
 * for the transfer engine and the FUSE adapter. Each backend's test file calls `flatFsCompliance`
 * with a factory; the suite uses only the FlatFs interface (no backend internals), so a new backend
 * is compliant exactly when this suite passes against it.
 */
import test, { type ExecutionContext } from 'ava';
import { FerryError, type ErrorCode } from '../../../src/core/errors.js';
import { GiB, KiB, LIMITS, MiB } from '../../../src/core/limits.js';
import { compareNames } from '../../../src/flatfs/names.js';
import { HIDDEN_PREFIX, type FlatFs, type ListOptions, type ListPage } from '../../../src/flatfs/types.js';
import { pattern } from './pattern.js';

export { pattern };

export interface FlatFsFactoryOptions {
  /** Total-bytes quota; undefined means the backend's roomiest setting (at least 16 GiB logical). */
  quotaBytes?: number;
  readOnly?: boolean;
  /** Files that exist when the filesystem is handed over (how a read-only fs gets content). */
  files?: ReadonlyArray<readonly [string, Uint8Array]>;
}

export interface FlatFsUnderTest {
  fs: FlatFs;
  /** Releases everything the factory made (closes the fs if still open, removes temp files). */
  cleanup(): Promise<void>;
}

export type FlatFsFactory = (opts: FlatFsFactoryOptions) => Promise<FlatFsUnderTest>;

type T = ExecutionContext<unknown>;

async function setup(t: T, factory: FlatFsFactory, opts: FlatFsFactoryOptions = {}): Promise<FlatFs> {
  const under = await factory(opts);
  t.teardown(() => under.cleanup());
  return under.fs;
}

/** Asserts that `promise` rejects with a FerryError of `code`; returns it. */
export async function rejectsWith(t: T, promise: Promise<unknown>, code: ErrorCode): Promise<FerryError> {
  const err = await t.throwsAsync(promise);
  t.true(err instanceof FerryError, `expected a FerryError ${code}, got ${String(err)}`);
  t.is((err as FerryError).code, code, (err as Error)?.message);
  return err as FerryError;
}

/**
 * Asserts equal bytes, naming the first differing offset. (Ava's deepEqual is far too slow on
 * buffers of megabytes.)
 */
export function sameBytes(t: T, actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.length);
  if (a.equals(expected)) {
    t.pass();
    return;
  }
  let i = 0;
  while (i < a.length && i < expected.length && a[i] === expected[i]) i++;
  t.fail(`${what}: ${a.length} bytes, expected ${expected.length}; first difference at offset ${i}`);
}

async function writeFile(fs: FlatFs, name: string, data: Uint8Array): Promise<void> {
  const h = await fs.create(name);
  await fs.write(h, 0, data);
  await fs.closeFile(h);
}

async function readFile(fs: FlatFs, name: string): Promise<Buffer> {
  const h = await fs.open(name);
  try {
    const { sizeBytes } = await fs.fstat(h);
    return await fs.read(h, 0, sizeBytes);
  } finally {
    await fs.closeFile(h);
  }
}

async function allNames(fs: FlatFs, includeHidden = false): Promise<string[]> {
  return (await fs.list({ includeHidden })).entries.map((e) => e.name);
}

const BAD_NAMES: ReadonlyArray<readonly [string, string, ErrorCode]> = [
  ['empty', '', 'BAD_NAME'],
  ['dot', '.', 'BAD_NAME'],
  ['dot-dot', '..', 'BAD_NAME'],
  ['empty segment', 'a//b', 'BAD_NAME'],
  ['trailing slash (a folder)', 'a/', 'BAD_NAME'],
  ['dot segment', 'a/./b', 'BAD_NAME'],
  ['dot-dot segment', 'a/../b', 'BAD_NAME'],
  ['dot-dot last segment', 'a/..', 'BAD_NAME'],
  ['dot last segment', 'a/.', 'BAD_NAME'],
  ['slash alone', '/', 'BAD_NAME'],
  ['parent path', '../escape', 'BAD_NAME'],
  ['deep parent path', 'a/b/../../../escape', 'BAD_NAME'],
  ['absolute path', '/etc/passwd', 'BAD_NAME'],
  ['NUL in a folder', 'a\0/b', 'BAD_NAME'],
  ['NUL', 'a\0b', 'BAD_NAME'],
  ['lone high surrogate', 'a\uD800b', 'BAD_NAME'],
  ['lone low surrogate', '\uDC00', 'BAD_NAME'],
  ['256 ASCII bytes', 'x'.repeat(256), 'NAME_TOO_LONG'],
  ['256 bytes of 2-byte chars', '\u00e9'.repeat(128), 'NAME_TOO_LONG'],
  ['258 bytes of 3-byte chars', '\u20ac'.repeat(86), 'NAME_TOO_LONG'],
  ['a 256-byte folder segment', `${'x'.repeat(256)}/f`, 'NAME_TOO_LONG'],
  ['a 256-byte last segment', `a/b/${'y'.repeat(256)}`, 'NAME_TOO_LONG'],
  ['1025 bytes of short segments', `${'abcd/'.repeat(204)}abcde`, 'NAME_TOO_LONG'],
];

/** A name of exactly MAX_NAME_BYTES (1024): three segments of MAX_SEGMENT_BYTES, one of 254, one of 1. */
const LONGEST_NAME = `${'0'.repeat(255)}/${'1'.repeat(255)}/${'2'.repeat(255)}/${'3'.repeat(254)}/z`;

const GOOD_EDGE_NAMES: readonly string[] = [
  'x'.repeat(255),
  '\u00e9'.repeat(127) + 'x',
  '\u{1F600}'.repeat(63) + 'abc',
  '...',
  '.hidden-but-not-ferry',
  ' spaced name ',
  'back\\slash',
  'new\nline',
  '-dash',
  'photos/2026/img_001.jpg',
  `${'d/'.repeat(200)}deep`,
  'фото/2026/日本語の名前.txt',
  '\u{1F600}/\u{1F601}/\u{1F602}',
  `${'y'.repeat(255)}/${'\u00e9'.repeat(127)}x`,
  '..../...../x',
  'sp ace/ /tab\t/end',
  LONGEST_NAME,
];

/** What a backend supports beyond the calls every backend has. */
export interface FlatFsFeatures {
  /**
   * `list` honours `prefix` and `delimiter` and returns `prefixes` (default false: the remote client
   * does not carry them over the wire yet; the memory and directory backends pass true).
   */
  prefixListing?: boolean;
}

export function flatFsCompliance(name: string, factory: FlatFsFactory, features: FlatFsFeatures = {}): void {
  const it = (title: string, fn: (t: T) => Promise<void>): void => {
    test(`${name}: ${title}`, fn);
  };

  it('create, write, stat and read back', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('alpha');
    t.is(typeof h, 'number');
    t.is((await fs.stat('alpha')).sizeBytes, 0);
    const data = pattern(1000, 1);
    await fs.write(h, 0, data);
    const st = await fs.fstat(h);
    t.is(st.name, 'alpha');
    t.is(st.sizeBytes, 1000);
    sameBytes(t, await fs.read(h, 0, 1000), data);
    await fs.closeFile(h);
    sameBytes(t, await readFile(fs, 'alpha'), data);
    t.is((await fs.stat('alpha')).sizeBytes, 1000);
  });

  it('open: NOT_FOUND for a missing name; read-only by default, writable on request', async (t) => {
    const fs = await setup(t, factory);
    await rejectsWith(t, fs.open('missing'), 'NOT_FOUND');
    await rejectsWith(t, fs.stat('missing'), 'NOT_FOUND');
    await writeFile(fs, 'f', Buffer.from('hello'));
    const ro = await fs.open('f');
    t.deepEqual(await fs.read(ro, 0, 5), Buffer.from('hello'));
    await rejectsWith(t, fs.write(ro, 0, Buffer.from('x')), 'BAD_HANDLE');
    await rejectsWith(t, fs.append(ro, Buffer.from('x')), 'BAD_HANDLE');
    await rejectsWith(t, fs.ftruncate(ro, 0), 'BAD_HANDLE');
    const rw = await fs.open('f', { write: true });
    await fs.write(rw, 0, Buffer.from('J'));
    t.deepEqual(await fs.read(ro, 0, 5), Buffer.from('Jello'));
    await fs.closeFile(ro);
    await fs.closeFile(rw);
  });

  it('create: exclusive refuses an existing name; otherwise truncates it; sizeBytes preallocates zeros', async (t) => {
    const fs = await setup(t, factory);
    await writeFile(fs, 'f', pattern(300, 2));
    await rejectsWith(t, fs.create('f', { exclusive: true }), 'EXISTS');
    t.is((await fs.stat('f')).sizeBytes, 300);
    const other = await fs.open('f');
    const h = await fs.create('f');
    t.is((await fs.stat('f')).sizeBytes, 0);
    t.is((await fs.fstat(other)).sizeBytes, 0, 'an existing file is truncated in place');
    await fs.closeFile(h);
    await fs.closeFile(other);
    const s = await fs.create('sized', { sizeBytes: 5000, exclusive: true });
    t.is((await fs.fstat(s)).sizeBytes, 5000);
    t.deepEqual(await fs.read(s, 0, 5000), Buffer.alloc(5000));
    await fs.closeFile(s);
    await rejectsWith(t, fs.create('neg', { sizeBytes: -1 }), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.create('huge', { sizeBytes: LIMITS.MAX_FILE_BYTES + 1 }), 'OUT_OF_RANGE');
    t.deepEqual(await allNames(fs), ['f', 'sized']);
  });

  it('list: sorted by UTF-8 bytes with sizes', async (t) => {
    const fs = await setup(t, factory);
    // UTF-16 order would put U+1F600 (a surrogate pair) before U+FFFD; UTF-8 byte order does not.
    const names = ['b', 'a', '\u{1F600}', '\uFFFD', 'B', 'a0', '\u00e9'];
    for (const [i, n] of names.entries()) await writeFile(fs, n, pattern(i * 10, i));
    const page = await fs.list();
    t.deepEqual(
      page.entries.map((e) => e.name),
      ['B', 'a', 'a0', 'b', '\u00e9', '\uFFFD', '\u{1F600}'],
    );
    t.is(page.nextCursor, null);
    for (const e of page.entries) t.is(e.sizeBytes, names.indexOf(e.name) * 10, e.name);
    for (const e of page.entries) t.true(e.mtimeMs > 0 && e.atimeMs > 0 && e.ctimeMs > 0);
  });

  it('list: paginates with a cursor, each name once, even with changes between pages', async (t) => {
    const fs = await setup(t, factory);
    const names = Array.from({ length: 23 }, (_, i) => `file-${String(i).padStart(3, '0')}`);
    for (const n of names) await writeFile(fs, n, Buffer.from(n));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await fs.list(cursor === null ? { limit: 5 } : { limit: 5, cursor });
      t.true(page.entries.length <= 5);
      seen.push(...page.entries.map((e) => e.name));
      cursor = page.nextCursor;
      if (pages === 1) await fs.unlink('file-000'); // behind the cursor: must not disturb paging
      pages++;
    } while (cursor !== null && pages < 20);
    t.is(pages, 5);
    t.deepEqual(seen, names);
    const between = await fs.list({ cursor: 'file-0105', limit: 2 });
    t.deepEqual(
      between.entries.map((e) => e.name),
      ['file-011', 'file-012'],
    );
    t.is(between.nextCursor, 'file-012');
    const last = await fs.list({ cursor: 'file-021' });
    t.deepEqual(
      last.entries.map((e) => e.name),
      ['file-022'],
    );
    t.is(last.nextCursor, null);
    t.is((await fs.list({ cursor: 'zzz' })).entries.length, 0);
    await rejectsWith(t, fs.list({ limit: 0 }), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.list({ limit: 1.5 }), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.list({ cursor: 'a//b' }), 'BAD_NAME');
    t.is(
      (await fs.list({ limit: LIMITS.MAX_LIST_PAGE + 1 })).entries.length,
      22,
      'limits above the ceiling are capped',
    );
  });

  it('hidden names are valid files left out of list unless asked', async (t) => {
    const fs = await setup(t, factory);
    const hidden = `${HIDDEN_PREFIX}upload-1`;
    await writeFile(fs, 'visible', Buffer.from('v'));
    await writeFile(fs, hidden, Buffer.from('hidden data'));
    t.deepEqual(await allNames(fs), ['visible']);
    t.deepEqual(await allNames(fs, true), [hidden, 'visible'].sort());
    t.is((await fs.stat(hidden)).sizeBytes, 11);
    const onlyHidden = await fs.list({ limit: 1, cursor: 'visible' });
    t.deepEqual(onlyHidden.entries, []);
    t.deepEqual(onlyHidden.prefixes ?? [], []);
    t.is(onlyHidden.nextCursor, null);
    const first = await fs.list({ limit: 1 });
    t.deepEqual(
      first.entries.map((e) => e.name),
      ['visible'],
    );
    t.is(first.nextCursor, null, 'a page followed only by hidden names is the last page');
    await fs.rename(hidden, 'published');
    t.deepEqual(await allNames(fs), ['published', 'visible']);
  });

  it('times: setTimes sets atime and mtime; a write moves mtime forward', async (t) => {
    const fs = await setup(t, factory);
    const before = Date.now();
    await writeFile(fs, 'f', Buffer.from('abc'));
    const created = await fs.stat('f');
    t.true(
      created.mtimeMs >= before - 2000 && created.mtimeMs <= Date.now() + 2000,
      'mtime is wall-clock time',
    );
    const atimeMs = 1_600_000_000_000;
    const mtimeMs = 1_500_000_000_000;
    await fs.setTimes('f', atimeMs, mtimeMs);
    const st = await fs.stat('f');
    t.is(st.atimeMs, atimeMs);
    t.is(st.mtimeMs, mtimeMs);
    t.true(st.ctimeMs >= before - 2000, 'setTimes changes ctime to now');
    const h = await fs.open('f', { write: true });
    await fs.write(h, 1, Buffer.from('Z'));
    t.true((await fs.fstat(h)).mtimeMs > mtimeMs);
    await fs.setTimes('f', atimeMs, mtimeMs);
    await fs.ftruncate(h, 10);
    t.true((await fs.stat('f')).mtimeMs > mtimeMs, 'truncate moves mtime');
    await fs.closeFile(h);
    await rejectsWith(t, fs.setTimes('missing', 1, 1), 'NOT_FOUND');
    await rejectsWith(t, fs.setTimes('f', Number.NaN, 1), 'INVALID_ARGUMENT');
  });

  it('I/O at offset 0, the last byte, and across chunk boundaries', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('f');
    const data = pattern(3 * MiB + 123, 3);
    await fs.write(h, 0, data);
    t.deepEqual(await fs.read(h, 0, 1), data.subarray(0, 1));
    t.deepEqual(await fs.read(h, data.length - 1, 1), data.subarray(data.length - 1));
    for (const boundary of [4 * KiB, 64 * KiB, 128 * KiB, 1 * MiB, 2 * MiB]) {
      const patch = pattern(10, boundary);
      await fs.write(h, boundary - 5, patch);
      patch.copy(data, boundary - 5);
      t.deepEqual(
        await fs.read(h, boundary - 7, 14),
        data.subarray(boundary - 7, boundary + 7),
        `at ${boundary}`,
      );
    }
    const big = pattern(200 * KiB, 9);
    await fs.write(h, 64 * KiB - 1, big);
    big.copy(data, 64 * KiB - 1);
    sameBytes(t, await fs.read(h, 0, data.length), data);
    const target = Buffer.alloc(100 * KiB, 0xee);
    t.is(await fs.readInto(h, 60 * KiB, target), target.length);
    sameBytes(t, target, data.subarray(60 * KiB, 160 * KiB));
    await fs.closeFile(h);
  });

  it('sparse I/O past 4 GiB and 6 GiB; holes read as zeros', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('sparse');
    const across4 = pattern(100, 4);
    await fs.write(h, 4 * GiB - 50, across4);
    t.is((await fs.fstat(h)).sizeBytes, 4 * GiB + 50);
    const at6 = pattern(4096, 6);
    await fs.write(h, 6 * GiB + 7, at6);
    t.is((await fs.fstat(h)).sizeBytes, 6 * GiB + 7 + 4096);
    t.deepEqual(await fs.read(h, 4 * GiB - 50, 100), across4);
    t.deepEqual(await fs.read(h, 6 * GiB + 7, 4096), at6);
    t.deepEqual(await fs.read(h, 5 * GiB, 1000), Buffer.alloc(1000), 'a hole reads as zeros');
    t.deepEqual(await fs.read(h, 0, 1000), Buffer.alloc(1000));
    const around = await fs.read(h, 6 * GiB, 20);
    t.deepEqual(around, Buffer.concat([Buffer.alloc(7), at6.subarray(0, 13)]));
    t.is((await fs.stat('sparse')).sizeBytes, 6 * GiB + 4103);
    await fs.closeFile(h);
  });

  it('zero-length I/O changes nothing', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('f');
    await fs.write(h, 0, Buffer.from('abc'));
    await fs.write(h, 1000, Buffer.alloc(0));
    t.is((await fs.fstat(h)).sizeBytes, 3, 'an empty write past the end does not extend');
    t.is((await fs.read(h, 1, 0)).length, 0);
    t.is(await fs.readInto(h, 0, Buffer.alloc(0)), 0);
    t.is(await fs.append(h, Buffer.alloc(0)), 3);
    t.is((await fs.fstat(h)).sizeBytes, 3);
    t.deepEqual(await fs.read(h, 0, 3), Buffer.from('abc'));
    await fs.closeFile(h);
  });

  it('reads past the end of file are short, never padded', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('f');
    await fs.write(h, 0, Buffer.from('0123456789'));
    t.deepEqual(await fs.read(h, 8, 10), Buffer.from('89'));
    t.is((await fs.read(h, 10, 10)).length, 0);
    t.is((await fs.read(h, 1000, 10)).length, 0);
    const target = Buffer.alloc(10);
    t.is(await fs.readInto(h, 7, target), 3);
    t.deepEqual(target.subarray(0, 3), Buffer.from('789'));
    t.is(await fs.readInto(h, 11, target), 0);
    await fs.closeFile(h);
  });

  it('append returns the offset each write landed at', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('log');
    t.is(await fs.append(h, Buffer.from('abc')), 0);
    t.is(await fs.append(h, Buffer.from('defgh')), 3);
    await fs.write(h, 20, Buffer.from('!'));
    t.is(await fs.append(h, Buffer.from('x')), 21);
    const concurrent = Array.from({ length: 20 }, (_, i) => pattern(100 + i, i));
    const offsets = await Promise.all(concurrent.map((d) => fs.append(h, d)));
    t.is(new Set(offsets).size, 20, 'concurrent appends never overlap');
    for (const [i, off] of offsets.entries())
      t.deepEqual(await fs.read(h, off, concurrent[i]!.length), concurrent[i]);
    const total = 22 + concurrent.reduce((n, d) => n + d.length, 0);
    t.is((await fs.fstat(h)).sizeBytes, total);
    t.deepEqual(await fs.read(h, 0, 9), Buffer.from('abcdefgh\0'));
    await fs.closeFile(h);
  });

  it('truncate up adds zeros, down drops data, and old data never comes back', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('f');
    const data = pattern(200 * KiB, 5);
    await fs.write(h, 0, data);
    await fs.truncate('f', 100 * KiB + 3);
    t.is((await fs.fstat(h)).sizeBytes, 100 * KiB + 3, 'truncate by name is seen through the handle');
    await fs.ftruncate(h, 300 * KiB);
    const all = await fs.read(h, 0, 300 * KiB);
    sameBytes(t, all.subarray(0, 100 * KiB + 3), data.subarray(0, 100 * KiB + 3));
    sameBytes(t, all.subarray(100 * KiB + 3), Buffer.alloc(200 * KiB - 3), 'growing exposes zeros only');
    await fs.ftruncate(h, 0);
    t.is((await fs.read(h, 0, 10)).length, 0);
    await fs.truncate('f', 0);
    await fs.ftruncate(h, 6 * GiB);
    t.is((await fs.stat('f')).sizeBytes, 6 * GiB);
    t.deepEqual(await fs.read(h, 6 * GiB - 10, 20), Buffer.alloc(10));
    await rejectsWith(t, fs.truncate('missing', 0), 'NOT_FOUND');
    await rejectsWith(t, fs.truncate('f', -1), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.truncate('f', LIMITS.MAX_FILE_BYTES + 1), 'OUT_OF_RANGE');
    t.is((await fs.stat('f')).sizeBytes, 6 * GiB);
    await fs.closeFile(h);
  });

  it('rename replaces the target atomically; open handles follow their files', async (t) => {
    const fs = await setup(t, factory);
    await writeFile(fs, 'new', Buffer.from('new contents'));
    await writeFile(fs, 'old', Buffer.from('old contents, longer'));
    const onNew = await fs.open('new');
    const onOld = await fs.open('old');
    await fs.rename('new', 'old');
    await rejectsWith(t, fs.stat('new'), 'NOT_FOUND');
    t.deepEqual(await readFile(fs, 'old'), Buffer.from('new contents'));
    t.deepEqual(
      await fs.read(onOld, 0, 100),
      Buffer.from('old contents, longer'),
      'renamed-over file stays readable',
    );
    t.is((await fs.fstat(onNew)).name, 'old', 'fstat reports the current name');
    t.deepEqual(await fs.read(onNew, 0, 3), Buffer.from('new'));
    t.deepEqual(await allNames(fs), ['old']);
    await fs.closeFile(onNew);
    await fs.closeFile(onOld);
    await fs.rename('old', 'fresh');
    t.deepEqual(await allNames(fs), ['fresh']);
    await rejectsWith(t, fs.rename('missing', 'x'), 'NOT_FOUND');
    await rejectsWith(t, fs.rename('fresh', 'a//b'), 'BAD_NAME');
    t.deepEqual(await allNames(fs), ['fresh']);
  });

  it('rename onto itself changes nothing', async (t) => {
    const fs = await setup(t, factory);
    await writeFile(fs, 'same', Buffer.from('data'));
    await fs.rename('same', 'same');
    t.deepEqual(await readFile(fs, 'same'), Buffer.from('data'));
    t.deepEqual(await allNames(fs), ['same']);
    await rejectsWith(t, fs.rename('ghost', 'ghost'), 'NOT_FOUND');
  });

  it('unlink: an open handle keeps reading and writing; the name is gone', async (t) => {
    const fs = await setup(t, factory);
    await writeFile(fs, 'f', Buffer.from('still here'));
    const h = await fs.open('f', { write: true });
    await fs.unlink('f');
    await rejectsWith(t, fs.stat('f'), 'NOT_FOUND');
    await rejectsWith(t, fs.open('f'), 'NOT_FOUND');
    t.deepEqual(await allNames(fs), []);
    t.deepEqual(await fs.read(h, 0, 100), Buffer.from('still here'));
    await fs.write(h, 0, Buffer.from('STILL'));
    t.deepEqual(await fs.read(h, 0, 100), Buffer.from('STILL here'));
    t.is((await fs.fstat(h)).sizeBytes, 10);
    await writeFile(fs, 'f', Buffer.from('another file'));
    t.deepEqual(
      await fs.read(h, 0, 100),
      Buffer.from('STILL here'),
      'a new file of the same name is another file',
    );
    await fs.closeFile(h);
    t.deepEqual(await readFile(fs, 'f'), Buffer.from('another file'));
    await fs.unlink('f');
    await rejectsWith(t, fs.unlink('f'), 'NOT_FOUND');
  });

  it('modes: new files 0644, hidden ones 0600; fchmod sets the bits stat shows, where the backend keeps modes', async (t) => {
    const fs = await setup(t, factory);
    if (!fs.fchmod) {
      t.pass('this backend keeps no modes');
      return;
    }
    const h = await fs.create('f');
    t.is((await fs.stat('f')).mode! & ~0o644, 0, 'at most 0644 (a host umask may take more away)');
    await fs.fchmod(h, 0o751);
    t.is((await fs.stat('f')).mode, 0o751);
    t.is((await fs.fstat(h)).mode, 0o751);
    for (const bad of [-1, 0o1000, 0o4755, 1.5, Number.NaN]) {
      await rejectsWith(t, fs.fchmod(h, bad), 'INVALID_ARGUMENT');
    }
    await fs.closeFile(h);
    const ro = await fs.open('f');
    await rejectsWith(t, fs.fchmod(ro, 0o600), 'BAD_HANDLE');
    await fs.closeFile(ro);
    t.is((await fs.stat('f')).mode, 0o751, 'refusals changed nothing');
    const hidden = await fs.create(`${HIDDEN_PREFIX}part/f`);
    await fs.closeFile(hidden);
    const hiddenMode = (await fs.stat(`${HIDDEN_PREFIX}part/f`)).mode!;
    t.is(hiddenMode & 0o077, 0, "hidden (transfer) files are the owner's alone (0600)");
  });

  it('futimes sets the times stat shows through a write handle; refuses bad times and read handles', async (t) => {
    const fs = await setup(t, factory);
    if (!fs.futimes) {
      t.pass('this backend sets times by name only');
      return;
    }
    const h = await fs.create('f');
    await fs.write(h, 0, Buffer.from('data'));
    await fs.futimes(h, 1_500_000_000_000, 1_600_000_000_250);
    t.is((await fs.stat('f')).mtimeMs, 1_600_000_000_250);
    t.is((await fs.fstat(h)).atimeMs, 1_500_000_000_000);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      await rejectsWith(t, fs.futimes(h, bad, 1), 'INVALID_ARGUMENT');
    }
    await fs.closeFile(h);
    const ro = await fs.open('f');
    await rejectsWith(t, fs.futimes(ro, 1, 1), 'BAD_HANDLE');
    await fs.closeFile(ro);
    t.is((await fs.stat('f')).mtimeMs, 1_600_000_000_250, 'refusals changed nothing');
  });

  it('fsync resolves on read and write handles; refuses bad handles', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('f');
    await fs.write(h, 0, Buffer.from('durable'));
    await fs.fsync(h);
    const r = await fs.open('f');
    await fs.fsync(r);
    await fs.closeFile(r);
    await fs.closeFile(h);
    await rejectsWith(t, fs.fsync(h), 'BAD_HANDLE');
    t.deepEqual(await readFile(fs, 'f'), Buffer.from('durable'));
  });

  it('statfs reports files, bytes and limits', async (t) => {
    const fs = await setup(t, factory, { quotaBytes: 10 * MiB });
    const empty = await fs.statfs();
    t.is(empty.files, 0);
    t.is(empty.maxNameBytes, LIMITS.MAX_NAME_BYTES);
    t.false(empty.readOnly);
    t.true(empty.totalBytes <= 10 * MiB);
    await writeFile(fs, 'a', pattern(100 * KiB, 1));
    await writeFile(fs, 'b', pattern(50 * KiB, 2));
    const st = await fs.statfs();
    t.is(st.files, 2);
    t.is(st.usedBytes - empty.usedBytes, 150 * KiB);
    t.is(st.freeBytes, empty.freeBytes - 150 * KiB);
    t.is(st.usedBytes + st.freeBytes, st.totalBytes);
    const h = await fs.open('a', { write: true });
    await fs.write(h, 0, pattern(10, 3));
    await fs.write(h, 100 * KiB - 5, pattern(5, 4));
    t.is((await fs.statfs()).usedBytes, st.usedBytes, 'overwriting inside a file takes no space');
    await fs.write(h, 100 * KiB - 5, pattern(10, 5));
    t.is((await fs.statfs()).usedBytes, st.usedBytes + 5, 'growing takes exactly the growth');
    await fs.closeFile(h);
  });

  it('handles: unknown and closed handles are BAD_HANDLE; the open-handle limit holds', async (t) => {
    const fs = await setup(t, factory);
    await rejectsWith(t, fs.read(987_654, 0, 1), 'BAD_HANDLE');
    await rejectsWith(t, fs.fstat(-1), 'BAD_HANDLE');
    await writeFile(fs, 'f', Buffer.from('x'));
    const h = await fs.open('f');
    await fs.closeFile(h);
    await rejectsWith(t, fs.read(h, 0, 1), 'BAD_HANDLE');
    await rejectsWith(t, fs.closeFile(h), 'BAD_HANDLE');
    const opened: number[] = [];
    let refusal: unknown = null;
    for (let i = 0; i <= LIMITS.MAX_OPEN_FILES && refusal === null; i++) {
      try {
        opened.push(await fs.open('f'));
      } catch (err) {
        refusal = err;
      }
    }
    t.true(refusal instanceof FerryError && refusal.code === 'LIMIT_EXCEEDED', String(refusal));
    t.true(opened.length <= LIMITS.MAX_OPEN_FILES);
    await rejectsWith(t, fs.create('g'), 'LIMIT_EXCEEDED');
    await rejectsWith(t, fs.stat('g'), 'NOT_FOUND');
    await fs.closeFile(opened.pop()!);
    const again = await fs.open('f');
    t.deepEqual(await fs.read(again, 0, 1), Buffer.from('x'));
    for (const o of opened) await fs.closeFile(o);
    await fs.closeFile(again);
  });

  it('argument checks: offsets, lengths and data are refused before any change', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('f');
    await fs.write(h, 0, Buffer.from('abc'));
    await rejectsWith(t, fs.write(h, -1, Buffer.from('x')), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.write(h, 0.5, Buffer.from('x')), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.write(h, LIMITS.MAX_FILE_BYTES, Buffer.from('x')), 'OUT_OF_RANGE');
    await rejectsWith(t, fs.read(h, 0, -1), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.read(h, 0, LIMITS.MAX_IO_BYTES + 1), 'LIMIT_EXCEEDED');
    await rejectsWith(t, fs.write(h, 0, 'text' as unknown as Uint8Array), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.ftruncate(h, Number.NaN), 'INVALID_ARGUMENT');
    t.deepEqual(await fs.read(h, 0, 10), Buffer.from('abc'));
    await fs.closeFile(h);
  });

  it('read-only: every change is refused and nothing changes', async (t) => {
    const seed = pattern(5000, 7);
    const fs = await setup(t, factory, { readOnly: true, files: [['seed', seed]] });
    t.true(fs.readOnly);
    t.true((await fs.statfs()).readOnly);
    t.deepEqual(await readFile(fs, 'seed'), seed);
    await rejectsWith(t, fs.create('new'), 'READ_ONLY');
    await rejectsWith(t, fs.create('seed'), 'READ_ONLY');
    await rejectsWith(t, fs.open('seed', { write: true }), 'READ_ONLY');
    await rejectsWith(t, fs.truncate('seed', 0), 'READ_ONLY');
    await rejectsWith(t, fs.rename('seed', 'other'), 'READ_ONLY');
    await rejectsWith(t, fs.unlink('seed'), 'READ_ONLY');
    await rejectsWith(t, fs.setTimes('seed', 1, 1), 'READ_ONLY');
    const h = await fs.open('seed');
    await rejectsWith(t, fs.write(h, 0, Buffer.from('x')), 'BAD_HANDLE');
    await rejectsWith(t, fs.append(h, Buffer.from('x')), 'BAD_HANDLE');
    await rejectsWith(t, fs.ftruncate(h, 0), 'BAD_HANDLE');
    await fs.fsync(h);
    await fs.closeFile(h);
    t.deepEqual(await allNames(fs, true), ['seed']);
    t.deepEqual(await readFile(fs, 'seed'), seed);
  });

  it('name validation: every bad kind is refused by every call, nothing is created', async (t) => {
    const fs = await setup(t, factory);
    await writeFile(fs, 'ok', Buffer.from('ok'));
    for (const [kind, bad, code] of BAD_NAMES) {
      const calls: Array<readonly [string, () => Promise<unknown>]> = [
        ['create', () => fs.create(bad)],
        ['open', () => fs.open(bad)],
        ['stat', () => fs.stat(bad)],
        ['truncate', () => fs.truncate(bad, 0)],
        ['rename from', () => fs.rename(bad, 'x')],
        ['rename to', () => fs.rename('ok', bad)],
        ['unlink', () => fs.unlink(bad)],
        ['setTimes', () => fs.setTimes(bad, 0, 0)],
      ];
      for (const [call, fn] of calls) {
        const err = await t.throwsAsync(fn(), undefined, `${call} with ${kind}`);
        t.is((err as FerryError)?.code, code, `${call} with ${kind}: ${err?.message}`);
      }
    }
    await rejectsWith(t, fs.create(42 as unknown as string), 'BAD_NAME');
    t.deepEqual(await allNames(fs, true), ['ok']);
    const msg = (await rejectsWith(t, fs.create('a//b'), 'BAD_NAME')).message;
    t.regex(
      msg,
      /1\.\.1024 UTF-8 bytes .* each segment 1\.\.255 bytes/,
      'the message says what a valid name is',
    );
  });

  it('name validation: edge names that are valid work end to end', async (t) => {
    const fs = await setup(t, factory);
    for (const [i, n] of GOOD_EDGE_NAMES.entries()) {
      t.true(Buffer.byteLength(n) <= LIMITS.MAX_NAME_BYTES);
      await writeFile(fs, n, pattern(i + 1, i));
      t.deepEqual(await readFile(fs, n), pattern(i + 1, i), JSON.stringify(n));
    }
    t.deepEqual((await allNames(fs)).sort(), [...GOOD_EDGE_NAMES].sort());
  });

  it('nested names: deep paths work end to end; rename moves across folders', async (t) => {
    const fs = await setup(t, factory);
    const deep = `${Array.from({ length: 40 }, (_, i) => `level-${i}`).join('/')}/leaf.bin`;
    await writeFile(fs, deep, pattern(3000, 1));
    await writeFile(fs, 'photos/2026/img_001.jpg', pattern(10, 2));
    await writeFile(fs, 'photos/2026/img_002.jpg', pattern(20, 3));
    await writeFile(fs, 'photos/cover.jpg', pattern(30, 4));
    sameBytes(t, await readFile(fs, deep), pattern(3000, 1));
    t.is((await fs.stat('photos/2026/img_002.jpg')).sizeBytes, 20);
    t.deepEqual(await allNames(fs), [
      deep,
      'photos/2026/img_001.jpg',
      'photos/2026/img_002.jpg',
      'photos/cover.jpg',
    ]);
    const h = await fs.open('photos/2026/img_001.jpg');
    await fs.rename('photos/2026/img_001.jpg', 'archive/2026/01/img_001.jpg');
    t.is((await fs.fstat(h)).name, 'archive/2026/01/img_001.jpg', 'the handle follows its file');
    await fs.closeFile(h);
    await fs.rename('photos/2026/img_002.jpg', 'top.jpg');
    await fs.rename(deep, 'level-0/short');
    await rejectsWith(t, fs.stat('photos/2026/img_001.jpg'), 'NOT_FOUND');
    t.deepEqual(await allNames(fs), [
      'archive/2026/01/img_001.jpg',
      'level-0/short',
      'photos/cover.jpg',
      'top.jpg',
    ]);
    sameBytes(t, await readFile(fs, 'archive/2026/01/img_001.jpg'), pattern(10, 2));
    sameBytes(t, await readFile(fs, 'level-0/short'), pattern(3000, 1));
    // A folder emptied by rename or unlink is gone: a file may take its name.
    await writeFile(fs, 'photos/2026', Buffer.from('now a file'));
    await fs.unlink('archive/2026/01/img_001.jpg');
    await writeFile(fs, 'archive', Buffer.from('also a file'));
    t.deepEqual(await allNames(fs), [
      'archive',
      'level-0/short',
      'photos/2026',
      'photos/cover.jpg',
      'top.jpg',
    ]);
    t.is((await fs.statfs()).files, 5);
  });

  it('nested names: a file and a folder never share a name, and a refusal writes nothing', async (t) => {
    const fs = await setup(t, factory);
    await writeFile(fs, 'a', Buffer.from('file a'));
    await writeFile(fs, 'x/y', Buffer.from('file x/y'));
    const notFolder = await rejectsWith(t, fs.create('a/b'), 'NOT_A_FOLDER');
    t.regex(notFolder.message, /a file is named 'a'.*rename or remove/);
    await rejectsWith(t, fs.create('a/b/c', { exclusive: true }), 'NOT_A_FOLDER');
    const isFolder = await rejectsWith(t, fs.create('x'), 'IS_A_FOLDER');
    t.regex(isFolder.message, /'x' is a folder.*pick another name/);
    await rejectsWith(t, fs.create('x', { exclusive: true, sizeBytes: 10 }), 'IS_A_FOLDER');
    await rejectsWith(t, fs.rename('a', 'x'), 'IS_A_FOLDER');
    await rejectsWith(t, fs.rename('x/y', 'a/y'), 'NOT_A_FOLDER');
    await rejectsWith(t, fs.rename('a', 'a/inside'), 'NOT_A_FOLDER');
    await rejectsWith(t, fs.rename('x/y', 'x'), 'IS_A_FOLDER');
    for (const [what, call] of [
      ['stat of a folder', () => fs.stat('x')],
      ['open of a folder', () => fs.open('x')],
      ['unlink of a folder', () => fs.unlink('x')],
      ['truncate of a folder', () => fs.truncate('x', 0)],
      ['setTimes of a folder', () => fs.setTimes('x', 0, 0)],
      ['rename of a folder', () => fs.rename('x', 'z')],
      ['stat under a file', () => fs.stat('a/b')],
      ['open under a file', () => fs.open('a/b')],
      ['unlink under a file', () => fs.unlink('a/b')],
    ] as const) {
      const err = await t.throwsAsync(call(), undefined, what);
      t.is((err as FerryError)?.code, 'NOT_FOUND', `${what}: ${err?.message}`);
    }
    t.deepEqual(await allNames(fs, true), ['a', 'x/y'], 'nothing was written');
    t.deepEqual(await readFile(fs, 'a'), Buffer.from('file a'));
    t.deepEqual(await readFile(fs, 'x/y'), Buffer.from('file x/y'));
    // Once the collision is gone, the name is free.
    await fs.unlink('x/y');
    await fs.rename('a', 'x');
    await writeFile(fs, 'a/b', Buffer.from('now a folder'));
    t.deepEqual(await allNames(fs), ['a/b', 'x']);
    await rejectsWith(t, fs.create('x/y'), 'NOT_A_FOLDER');
    t.is((await fs.statfs()).files, 2);
  });

  it('nested names: hidden names nest, and a hidden folder is hidden', async (t) => {
    const fs = await setup(t, factory);
    const part = `${HIDDEN_PREFIX}part/photos/img.jpg`;
    await writeFile(fs, part, Buffer.from('partial'));
    await writeFile(fs, 'photos/img.jpg', Buffer.from('old'));
    t.deepEqual(await allNames(fs), ['photos/img.jpg']);
    t.deepEqual(await allNames(fs, true), [part, 'photos/img.jpg']);
    await fs.rename(part, 'photos/img.jpg');
    t.deepEqual(await allNames(fs, true), ['photos/img.jpg']);
    t.deepEqual(await readFile(fs, 'photos/img.jpg'), Buffer.from('partial'));
  });

  it('nested names: concurrent creates, renames and unlinks that share folders', async (t) => {
    const fs = await setup(t, factory);
    const names = Array.from({ length: 24 }, (_, i) => `shared/${i % 3}/file-${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((n, i) => writeFile(fs, n, pattern(100, i))));
    t.deepEqual(await allNames(fs), [...names].sort(compareNames));
    // Empty some folders while others fill up, all at once.
    await Promise.all([
      ...names.filter((n) => n.startsWith('shared/0/')).map((n) => fs.unlink(n)),
      ...names
        .filter((n) => n.startsWith('shared/1/'))
        .map((n) => fs.rename(n, n.replace('shared/1/', 'moved/'))),
      ...Array.from({ length: 8 }, (_, i) => writeFile(fs, `shared/3/new-${i}`, pattern(10, i))),
    ]);
    const expected = [
      ...names.filter((n) => n.startsWith('shared/1/')).map((n) => n.replace('shared/1/', 'moved/')),
      ...names.filter((n) => n.startsWith('shared/2/')),
      ...Array.from({ length: 8 }, (_, i) => `shared/3/new-${i}`),
    ].sort(compareNames);
    t.deepEqual(await allNames(fs), expected);
    for (const n of expected.filter((e) => e.startsWith('moved/'))) {
      const i = Number(n.slice(-2));
      sameBytes(t, await readFile(fs, n), pattern(100, i), n);
    }
    await writeFile(fs, 'shared/0', Buffer.from('the emptied folder is free'));
    t.is((await fs.statfs()).files, expected.length + 1);
  });

  if (features.prefixListing === true) prefixListingTests(it, factory);

  it('quota: NO_SPACE before anything is written, and space comes back', async (t) => {
    const fs = await setup(t, factory, { quotaBytes: 1 * MiB });
    const h = await fs.create('a');
    const first = pattern(700 * KiB, 1);
    await fs.write(h, 0, first);
    await rejectsWith(t, fs.write(h, 600 * KiB, pattern(500 * KiB, 2)), 'NO_SPACE');
    t.is((await fs.fstat(h)).sizeBytes, 700 * KiB, 'a refused write changes nothing');
    sameBytes(t, await fs.read(h, 0, 700 * KiB), first);
    await rejectsWith(t, fs.append(h, Buffer.alloc(400 * KiB)), 'NO_SPACE');
    await rejectsWith(t, fs.ftruncate(h, 2 * MiB), 'NO_SPACE');
    await rejectsWith(t, fs.truncate('a', 2 * MiB), 'NO_SPACE');
    await rejectsWith(t, fs.create('b', { sizeBytes: 400 * KiB }), 'NO_SPACE');
    await rejectsWith(t, fs.stat('b'), 'NOT_FOUND');
    t.is((await fs.fstat(h)).sizeBytes, 700 * KiB);
    await fs.write(h, 0, pattern(700 * KiB, 3)); // overwriting in place needs no new space
    const b = await fs.create('b', { sizeBytes: 300 * KiB });
    await rejectsWith(t, fs.write(b, 300 * KiB, Buffer.alloc(100 * KiB)), 'NO_SPACE');
    await fs.closeFile(b);
    await fs.rename('b', 'a'); // replaces a: its 700 KiB leave the quota once its handle closes
    await fs.closeFile(h);
    const c = await fs.create('c', { sizeBytes: 600 * KiB });
    await fs.closeFile(c);
    await fs.truncate('c', 100 * KiB);
    const d = await fs.create('d', { sizeBytes: 600 * KiB });
    await fs.closeFile(d);
    t.deepEqual(await allNames(fs), ['a', 'c', 'd']);
  });

  it('quota: an unlinked file holds its space until its last handle closes', async (t) => {
    const fs = await setup(t, factory, { quotaBytes: 1 * MiB });
    const h = await fs.create('big', { sizeBytes: 700 * KiB });
    await fs.unlink('big');
    await rejectsWith(t, fs.create('next', { sizeBytes: 700 * KiB }), 'NO_SPACE');
    await fs.closeFile(h);
    const n = await fs.create('next', { sizeBytes: 700 * KiB });
    await fs.closeFile(n);
    const used = (await fs.statfs()).usedBytes;
    await fs.create('next'); // truncating gives the bytes back at once
    t.is((await fs.statfs()).usedBytes, used - 700 * KiB);
  });

  it('quota: parallel writers and appenders never overshoot it', async (t) => {
    const fs = await setup(t, factory, { quotaBytes: 1 * MiB });
    const blockBytes = 100 * KiB;
    const h = await fs.create('w');
    const writes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => fs.write(h, i * blockBytes, pattern(blockBytes, i))),
    );
    let endBytes = 0;
    for (const [i, w] of writes.entries()) {
      if (w.status === 'fulfilled') {
        endBytes = Math.max(endBytes, (i + 1) * blockBytes);
        sameBytes(t, await fs.read(h, i * blockBytes, blockBytes), pattern(blockBytes, i), `block ${i}`);
      } else {
        t.is((w.reason as FerryError).code, 'NO_SPACE');
      }
    }
    t.is((await fs.fstat(h)).sizeBytes, endBytes);
    t.true(endBytes <= 1 * MiB);
    await fs.ftruncate(h, 0);
    const appends = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => fs.append(h, pattern(blockBytes, i))),
    );
    const landed = appends.filter((a) => a.status === 'fulfilled');
    t.is(landed.length, 10, 'exactly as many appends as fit');
    t.is((await fs.fstat(h)).sizeBytes, 10 * blockBytes);
    for (const a of appends) if (a.status === 'rejected') t.is((a.reason as FerryError).code, 'NO_SPACE');
    const st = await fs.statfs();
    t.true(st.usedBytes <= st.totalBytes);
    await fs.closeFile(h);
  });

  it('concurrent operations on different files', async (t) => {
    const fs = await setup(t, factory);
    const files = Array.from({ length: 8 }, (_, i) => `par-${i}`);
    await Promise.all(
      files.map(async (n, i) => {
        const h = await fs.create(n);
        await Promise.all(
          Array.from({ length: 8 }, (_, k) => fs.write(h, k * 10 * KiB, pattern(10 * KiB, i * 8 + k))),
        );
        await fs.fsync(h);
        await fs.closeFile(h);
      }),
    );
    for (const [i, n] of files.entries()) {
      const expected = Buffer.concat(Array.from({ length: 8 }, (_, k) => pattern(10 * KiB, i * 8 + k)));
      sameBytes(t, await readFile(fs, n), expected, n);
    }
    await Promise.all([
      fs.rename('par-0', 'moved'),
      fs.unlink('par-1'),
      fs.truncate('par-2', 1),
      fs.stat('par-3'),
    ]);
    t.deepEqual(await allNames(fs), ['moved', 'par-2', 'par-3', 'par-4', 'par-5', 'par-6', 'par-7']);
  });

  it('concurrent operations on the same file', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('shared');
    const blocks = Array.from({ length: 32 }, (_, k) => pattern(8 * KiB + 1, k));
    const order = blocks.map((_, k) => (k * 13) % 32); // out of order, as offset writes arrive
    await Promise.all(order.map((k) => fs.write(h, k * (8 * KiB + 1), blocks[k]!)));
    const expected = Buffer.concat(blocks);
    t.is((await fs.fstat(h)).sizeBytes, expected.length);
    const reads = await Promise.all(blocks.map((b, k) => fs.read(h, k * b.length, b.length)));
    sameBytes(t, Buffer.concat(reads), expected);
    const r2 = await fs.open('shared');
    const mixed = await Promise.all([
      fs.read(r2, 0, 100),
      fs.write(h, expected.length, Buffer.from('tail')),
      fs.read(r2, 8 * KiB, 100),
      fs.fsync(h),
    ]);
    t.deepEqual(mixed[0], expected.subarray(0, 100));
    t.deepEqual(mixed[2], expected.subarray(8 * KiB, 8 * KiB + 100));
    t.deepEqual(await fs.read(r2, expected.length, 10), Buffer.from('tail'));
    await fs.closeFile(r2);
    await fs.closeFile(h);
  });

  it('a closed filesystem refuses every call with CLOSED', async (t) => {
    const fs = await setup(t, factory);
    const h = await fs.create('f');
    await fs.close();
    await fs.close(); // closing twice is harmless
    const calls: Array<readonly [string, () => Promise<unknown>]> = [
      ['create', () => fs.create('g')],
      ['open', () => fs.open('f')],
      ['closeFile', () => fs.closeFile(h)],
      ['stat', () => fs.stat('f')],
      ['fstat', () => fs.fstat(h)],
      ['list', () => fs.list()],
      ['read', () => fs.read(h, 0, 1)],
      ['readInto', () => fs.readInto(h, 0, Buffer.alloc(1))],
      ['write', () => fs.write(h, 0, Buffer.from('x'))],
      ['append', () => fs.append(h, Buffer.from('x'))],
      ['truncate', () => fs.truncate('f', 0)],
      ['ftruncate', () => fs.ftruncate(h, 0)],
      ['rename', () => fs.rename('f', 'g')],
      ['unlink', () => fs.unlink('f')],
      ['setTimes', () => fs.setTimes('f', 0, 0)],
      ['fsync', () => fs.fsync(h)],
      ['statfs', () => fs.statfs()],
    ];
    for (const [call, fn] of calls) {
      const err = await t.throwsAsync(fn(), undefined, call);
      t.is((err as FerryError)?.code, 'CLOSED', `${call}: ${err?.message}`);
    }
  });
}

/** A page's files and folders as one list, in name order. */
function pageItems(page: ListPage): string[] {
  return [...page.entries.map((e) => e.name), ...(page.prefixes ?? [])].sort(compareNames);
}

/** Every item of a listing walked in pages of `limit`, checking each page's size and cursor. */
async function walkPages(t: T, fs: FlatFs, opts: ListOptions, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await fs.list({ ...opts, limit, ...(cursor === undefined ? {} : { cursor }) });
    const items = pageItems(page);
    t.true(items.length <= limit, `a page holds at most ${limit}`);
    if (page.nextCursor === null) return [...seen, ...items];
    t.is(
      page.nextCursor as string | undefined,
      items[items.length - 1],
      'the cursor is the last item of the page',
    );
    seen.push(...items);
    cursor = page.nextCursor;
  }
  t.fail('the listing never ended');
  return seen;
}

/** Listing by prefix and delimiter (ListObjectsV2), for backends with FlatFsFeatures.prefixListing. */
function prefixListingTests(
  it: (title: string, fn: (t: T) => Promise<void>) => void,
  factory: FlatFsFactory,
): void {
  const TREE = [
    'a.txt',
    'a/1',
    'a/2/x',
    'a0',
    'b/c/d',
    'photos/20-notes.txt',
    'photos/2025/x.jpg',
    'photos/2026/img_001.jpg',
    'photos/2026/img_002.jpg',
    'photos/cover.jpg',
    `${HIDDEN_PREFIX}part/a`,
    'z',
  ];

  it('list with a delimiter: one level of one folder, files and folders in name order', async (t) => {
    const fs = await setup(t, factory);
    for (const [i, n] of TREE.entries()) await writeFile(fs, n, pattern(i + 1, i));
    const root = await fs.list({ delimiter: '/' });
    t.deepEqual(
      root.entries.map((e) => [e.name, e.sizeBytes]),
      [
        ['a.txt', 1],
        ['a0', 4],
        ['z', 12],
      ],
    );
    t.deepEqual(root.prefixes, ['a/', 'b/', 'photos/']);
    t.is(root.nextCursor, null);
    t.deepEqual(
      pageItems(root),
      ['a.txt', 'a/', 'a0', 'b/', 'photos/', 'z'],
      "'/' sorts between '.' and '0'",
    );
    t.deepEqual((await fs.list({ delimiter: '/', includeHidden: true })).prefixes, [
      `${HIDDEN_PREFIX}part/`,
      'a/',
      'b/',
      'photos/',
    ]);
    const photos = await fs.list({ prefix: 'photos/', delimiter: '/' });
    t.deepEqual(
      photos.entries.map((e) => e.name),
      ['photos/20-notes.txt', 'photos/cover.jpg'],
    );
    t.deepEqual(photos.prefixes, ['photos/2025/', 'photos/2026/']);
    const partial = await fs.list({ prefix: 'photos/20', delimiter: '/' });
    t.deepEqual(pageItems(partial), ['photos/20-notes.txt', 'photos/2025/', 'photos/2026/']);
    t.deepEqual(pageItems(await fs.list({ prefix: 'photos/2026/', delimiter: '/' })), [
      'photos/2026/img_001.jpg',
      'photos/2026/img_002.jpg',
    ]);
    t.deepEqual(pageItems(await fs.list({ prefix: 'a', delimiter: '/' })), ['a.txt', 'a/', 'a0']);
    t.deepEqual(pageItems(await fs.list({ prefix: 'a/', delimiter: '/' })), ['a/1', 'a/2/']);
    const everyDepth = await fs.list({ prefix: 'photos/' });
    t.deepEqual(
      everyDepth.entries.map((e) => e.name),
      TREE.filter((n) => n.startsWith('photos/')),
    );
    t.deepEqual(everyDepth.prefixes, [], 'no delimiter, no folders');
    for (const prefix of ['nothing/', 'a.txt/', '../', '/', 'a//', 'photos/2026/img_001.jpg/']) {
      const empty = await fs.list({ prefix, delimiter: '/' });
      t.deepEqual([pageItems(empty), empty.nextCursor], [[], null], `prefix ${prefix}`);
    }
    await fs.unlink('b/c/d');
    t.deepEqual((await fs.list({ delimiter: '/' })).prefixes, ['a/', 'photos/'], 'an emptied folder is gone');
    await rejectsWith(t, fs.list({ delimiter: ',' as '/' }), 'INVALID_ARGUMENT');
    await rejectsWith(t, fs.list({ prefix: 'a\0' }), 'BAD_NAME');
    await rejectsWith(t, fs.list({ prefix: 'x'.repeat(LIMITS.MAX_NAME_BYTES + 1) }), 'NAME_TOO_LONG');
    await rejectsWith(t, fs.list({ cursor: 'a//', delimiter: '/' }), 'BAD_NAME');
  });

  it('list with a delimiter pages through a big folder, each file and folder once', async (t) => {
    const fs = await setup(t, factory);
    const files = Array.from({ length: 250 }, (_, i) => `big/f-${String(i).padStart(3, '0')}`);
    const folders = Array.from({ length: 30 }, (_, i) => `big/sub-${String(i).padStart(2, '0')}/`);
    for (const n of files) await writeFile(fs, n, Buffer.from(n));
    for (const f of folders) await writeFile(fs, `${f}x`, Buffer.from(f));
    await writeFile(fs, 'big/sub-05/deeper/y', Buffer.from('y'));
    await writeFile(fs, 'bigger', Buffer.from('outside the prefix'));
    const expected = [...files, ...folders].sort(compareNames);
    t.deepEqual(await walkPages(t, fs, { prefix: 'big/', delimiter: '/' }, 7), expected);
    t.deepEqual(await walkPages(t, fs, { prefix: 'big/', delimiter: '/' }, LIMITS.MAX_LIST_PAGE), expected);
    const afterFolder = await fs.list({ prefix: 'big/', delimiter: '/', cursor: 'big/sub-03/', limit: 2 });
    t.deepEqual(pageItems(afterFolder), ['big/sub-04/', 'big/sub-05/'], 'nothing inside the cursor folder');
    t.is(afterFolder.nextCursor, 'big/sub-05/');
    const insideFolder = await fs.list({ prefix: 'big/', delimiter: '/', cursor: 'big/sub-03/x', limit: 1 });
    t.deepEqual(pageItems(insideFolder), ['big/sub-04/'], 'a cursor inside a folder is past that folder');
    const startAfter = await fs.list({ prefix: 'big/', delimiter: '/', cursor: 'big/f-2', limit: 3 });
    t.deepEqual(pageItems(startAfter), ['big/f-200', 'big/f-201', 'big/f-202'], 'any name is a start-after');
    const all = [...files, ...folders.map((f) => `${f}x`), 'big/sub-05/deeper/y'].sort(compareNames);
    t.deepEqual(await walkPages(t, fs, { prefix: 'big/' }, 13), all);
    const afterSub = await fs.list({ prefix: 'big/', cursor: 'big/sub-05/', limit: 2 });
    t.deepEqual(
      pageItems(afterSub),
      ['big/sub-05/deeper/y', 'big/sub-05/x'],
      'no delimiter: a folder cursor is a start-after',
    );
    // Changes behind the cursor do not disturb paging.
    const first = await fs.list({ prefix: 'big/', delimiter: '/', limit: 100 });
    await fs.unlink('big/f-000');
    await fs.unlink('big/f-050');
    const rest = await walkPages(t, fs, { prefix: 'big/', delimiter: '/', cursor: first.nextCursor! }, 50);
    t.deepEqual([...pageItems(first), ...rest], expected);
  });
}
