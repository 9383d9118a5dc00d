/**
 * Data through a real mount (memory backend, served by a `ferry mount` child): offsets past 4 GiB,
 * append, truncate, holes, rename over a file, unlink of an open file, listings, folder operations,
 * and a 512 MiB file copied in and out with cp and compared with cmp.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import {
  appendFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  symlink,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { mountFerry, run } from '../helpers/fuse.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

test('write and read back at 0 and past 4 GiB; the gap reads as zeros', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '8GiB']);
  const f = path.join(m.mountpoint, 'far');
  const fh = await open(f, 'w+');
  t.teardown(() => fh.close().catch(() => undefined));
  const head = randomBytes(4096);
  const tail = randomBytes(70_000);
  const farOffset = 5 * GiB + 12_345;
  await fh.write(head, 0, head.length, 0);
  await fh.write(tail, 0, tail.length, farOffset);
  await fh.sync();
  t.is((await fh.stat()).size, farOffset + tail.length);
  const back = Buffer.alloc(tail.length);
  t.is((await fh.read(back, 0, back.length, farOffset)).bytesRead, tail.length);
  t.true(back.equals(tail));
  const start = Buffer.alloc(head.length);
  await fh.read(start, 0, start.length, 0);
  t.true(start.equals(head));
  const hole = Buffer.alloc(256 * 1024, 0xff);
  t.is((await fh.read(hole, 0, hole.length, 4 * GiB - 100_000)).bytesRead, hole.length);
  t.true(hole.every((b) => b === 0));
  const pastEnd = Buffer.alloc(10);
  t.is((await fh.read(pastEnd, 0, 10, farOffset + tail.length)).bytesRead, 0);
});

test('append, truncate down and up (zeros), ftruncate, O_TRUNC', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  const f = path.join(m.mountpoint, 'log');
  await writeFile(f, 'one\n');
  await appendFile(f, 'two\n');
  await appendFile(f, 'three\n');
  t.is(await readFile(f, 'utf8'), 'one\ntwo\nthree\n');
  await truncate(f, 3);
  t.is(await readFile(f, 'utf8'), 'one');
  await truncate(f, 8);
  t.deepEqual(await readFile(f), Buffer.from('one\0\0\0\0\0'));
  const fh = await open(f, 'r+');
  await fh.truncate(2);
  await fh.close();
  t.is(await readFile(f, 'utf8'), 'on');
  t.is((await stat(f)).size, 2);
  await writeFile(f, 'x'); // O_TRUNC of an existing file
  t.is(await readFile(f, 'utf8'), 'x');
});

test('rename over an existing file replaces it; the listing is exactly the files', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  const a = path.join(m.mountpoint, 'a');
  const b = path.join(m.mountpoint, 'b');
  await writeFile(a, 'new');
  await writeFile(b, 'old contents');
  await writeFile(path.join(m.mountpoint, '.dotfile'), 'dot');
  await rename(a, b);
  t.is(await readFile(b, 'utf8'), 'new');
  await t.throwsAsync(stat(a), { code: 'ENOENT' });
  t.deepEqual((await readdir(m.mountpoint)).sort(), ['.dotfile', 'b']);
});

test('an open file that is unlinked stays readable and writable through its descriptor and leaves the listing', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  const f = path.join(m.mountpoint, 'victim');
  await writeFile(f, 'still here');
  const fh = await open(f, 'r+');
  t.teardown(() => fh.close().catch(() => undefined));
  await unlink(f);
  t.deepEqual(await readdir(m.mountpoint), []);
  await t.throwsAsync(stat(f), { code: 'ENOENT' });
  const buf = Buffer.alloc(10);
  await fh.read(buf, 0, 10, 0);
  t.is(buf.toString(), 'still here');
  await fh.write('STILL', 0);
  await fh.read(buf, 0, 10, 0);
  t.is(buf.toString(), 'STILL here');
  t.is((await fh.stat()).size, 10);
  await fh.close();
  t.deepEqual(await readdir(m.mountpoint), []);
  // The name is free again and the space is back.
  await writeFile(f, 'reborn');
  t.is(await readFile(f, 'utf8'), 'reborn');
});

test('links are refused with EPERM; a folder where a file is wanted is EISDIR; the name rules give ENAMETOOLONG and EEXIST', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  await mkdir(path.join(m.mountpoint, 'd'));
  await t.throwsAsync(writeFile(path.join(m.mountpoint, 'd'), 'x'), { code: 'EISDIR' });
  await t.throwsAsync(symlink('x', path.join(m.mountpoint, 's')), { code: 'EPERM' });
  await t.throwsAsync(writeFile(path.join(m.mountpoint, 'n'.repeat(300)), 'x'), { code: 'ENAMETOOLONG' });
  await writeFile(path.join(m.mountpoint, 'e'), 'x');
  await t.throwsAsync(writeFile(path.join(m.mountpoint, 'e'), 'y', { flag: 'wx' }), { code: 'EEXIST' });
  const utime = new Date('2020-01-02T03:04:05Z');
  const r = await run('touch', ['-d', utime.toISOString(), path.join(m.mountpoint, 'e')]);
  t.is(r.code, 0, r.stderr);
  t.is((await stat(path.join(m.mountpoint, 'e'))).mtimeMs, utime.getTime());
});

test.serial('a 512 MiB file copied in with cp and out again compares equal (cmp)', async (t) => {
  t.timeout(150_000);
  const m = await mountFerry(t, ['--memory', '--quota', '1GiB']);
  const src = path.join(m.scratch, 'src.bin');
  const out = path.join(m.scratch, 'out.bin');
  const inMount = path.join(m.mountpoint, 'big.bin');
  const made = await run('dd', ['if=/dev/urandom', `of=${src}`, 'bs=1M', `count=${512}`, 'status=none']);
  t.is(made.code, 0, made.stderr);
  const cpIn = await run('cp', [src, inMount]);
  t.is(cpIn.code, 0, cpIn.stderr);
  t.is((await stat(inMount)).size, 512 * MiB);
  const cpOut = await run('cp', [inMount, out]);
  t.is(cpOut.code, 0, cpOut.stderr);
  const cmp = await run('cmp', [src, out]);
  t.is(cmp.code, 0, cmp.stdout + cmp.stderr);
});
