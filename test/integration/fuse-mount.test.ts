/**
 * `ferry mount` / `ferry umount` on real FUSE mounts: lifecycle, recovery of a stale mount, errors,
 * and the size of the write operations the kernel sends. Each mount is served by a child process and
 * driven from this process (async calls only) or from tools it starts.
 */
import test from 'ava';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runFerry } from '../helpers/cli.js';
import {
  isMounted,
  mountFaulty,
  mountFerry,
  mountLine,
  opStats,
  run,
  startFerryServer,
} from '../helpers/fuse.js';

test('a mount appears in /proc/mounts as fuse.ferry and leaves it on SIGINT; the exit line carries op stats', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  const line = await mountLine(m.mountpoint);
  t.truthy(line);
  t.regex(line!, / fuse\.ferry rw,/);
  await writeFile(path.join(m.mountpoint, 'f'), 'hello');
  t.is(await readFile(path.join(m.mountpoint, 'f'), 'utf8'), 'hello');
  m.child.kill('SIGINT');
  const done = await m.nextEvent('unmounted');
  t.is(await m.exited, 0);
  t.false(await isMounted(m.mountpoint));
  t.is(done.reason, 'SIGINT');
  t.true(((done.ops as Record<string, number>).writeOps ?? 0) >= 1);
});

test('ferry umount with a file still open detaches the mount and the server exits', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  const fh = await open(path.join(m.mountpoint, 'held'), 'w+');
  t.teardown(() => fh.close().catch(() => undefined));
  await fh.write('x');
  const r = await runFerry(['umount', '--json', m.mountpoint]);
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout).lazy, true);
  t.false(await isMounted(m.mountpoint));
  await m.nextEvent('unmounted');
  // (null is an exit by a signal: the mount process's stderr says what it was doing)
  t.is(await m.exited, 0, m.stderr());
});

test('after the server is SIGKILLed the mount is stale (ENOTCONN) and ferry umount removes it', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  m.child.kill('SIGKILL');
  await m.exited;
  t.true(await isMounted(m.mountpoint));
  await t.throwsAsync(stat(path.join(m.mountpoint, 'x')), { code: 'ENOTCONN' });
  const r = await runFerry(['umount', m.mountpoint]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /unmounted/);
  t.false(await isMounted(m.mountpoint));
});

test('ferry umount of a folder with nothing mounted fails with NOT_MOUNTED, exit 1', async (t) => {
  const r = await runFerry(['umount', '/nonexistent-ferry-mountpoint']);
  t.is(r.code, 1);
  t.regex(r.stderr, /NOT_MOUNTED/);
});

test('mounting on a folder that is not empty fails clearly, exit 1, and mounts nothing', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  await writeFile(path.join(m.scratch, 'occupied'), 'x');
  const r = await runFerry(['mount', '--memory', m.scratch]);
  t.is(r.code, 1);
  t.regex(r.stderr, /not empty/);
  t.false(await isMounted(m.scratch));
});

test('mounting a server that does not answer fails with UNREACHABLE, exit 1, and mounts nothing', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-fuse-unreachable-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // --insecure: no secret to look for, so what fails is reaching the server (without it the
  // missing per-user secret is refused first, NO_SECRET, which secrets.test.ts covers)
  const r = await runFerry(['mount', 'ferry://127.0.0.1:1', dir, '--insecure']);
  t.is(r.code, 1);
  t.regex(r.stderr, /UNREACHABLE/);
  t.false(await isMounted(dir));
  const bad = await runFerry(['mount', 'ferry://nohost', dir]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /port/);
});

test('--read-only: the mount is ro and a change fails with EROFS', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB', '--read-only']);
  t.regex((await mountLine(m.mountpoint))!, / fuse\.ferry ro,/);
  await t.throwsAsync(writeFile(path.join(m.mountpoint, 'f'), 'x'), { code: 'EROFS' });
});

test('a full quota is ENOSPC for the writer', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '1MiB']);
  await t.throwsAsync(writeFile(path.join(m.mountpoint, 'big'), Buffer.alloc(2 * 1024 * 1024)), {
    code: 'ENOSPC',
  });
  const r = await run('df', ['-B1', '--output=size', m.mountpoint]);
  t.is(Number(r.stdout.split('\n')[1]), 1024 * 1024);
});

test('single 1 MiB write() calls reach the adapter as 128 KiB operations', async (t) => {
  const m = await mountFerry(t, ['--memory', '--quota', '64MiB']);
  const r = await run('dd', ['if=/dev/zero', `of=${path.join(m.mountpoint, 'f')}`, 'bs=1M', 'count=8']);
  t.is(r.code, 0, r.stderr);
  const s = await opStats(m);
  t.is(s.writeBytes, 8 * 1024 * 1024);
  t.is(s.writeMaxBytes, 128 * 1024);
  t.is(s.writeOps, 64);
});

test('a lost backend (calls reject UNREACHABLE) gives EIO; a hung one gives EIO after the op timeout', async (t) => {
  const m = await mountFaulty(t, 'opTimeoutMs=300,attrTimeoutMs=0,entryTimeoutMs=0');
  const f = path.join(m.mountpoint, 'f');
  await writeFile(f, 'before');
  const faulted = m.nextEvent('fault');
  m.child.kill('SIGUSR1');
  await faulted;
  await t.throwsAsync(readFile(f), { code: 'EIO' });
  await t.throwsAsync(writeFile(path.join(m.mountpoint, 'g'), 'x'), { code: 'EIO' });
  const hung = m.nextEvent('fault');
  m.child.kill('SIGHUP');
  await hung;
  await t.throwsAsync(readFile(f), { code: 'EIO' });
  await t.throwsAsync(stat(path.join(m.mountpoint, 'never-seen')), { code: 'EIO' });
  // The root answers without the backend: the mount itself stays usable for `cd`, `ls -d`.
  t.true((await stat(m.mountpoint)).isDirectory());
});

test('a hung server (SIGSTOP) leaves a caller stuck; ferry umount aborts the connection and the caller gets ENOTCONN', async (t) => {
  const m = await mountFerry(t, [
    '--memory',
    '--quota',
    '64MiB',
    '--attr-timeout',
    '0',
    '--entry-timeout',
    '0',
  ]);
  await writeFile(path.join(m.mountpoint, 'f'), 'data');
  m.child.kill('SIGSTOP');
  t.teardown(() => void m.child.kill('SIGCONT'));
  const stuck = stat(path.join(m.mountpoint, 'f'));
  const r = await runFerry(['umount', '--json', '--grace', '300', m.mountpoint]);
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout).aborted, true);
  await t.throwsAsync(stuck, { code: 'ENOTCONN' });
  t.false(await isMounted(m.mountpoint));
});

test('a remote mount whose server dies answers EIO within the op timeout, then unmounts itself (exit 1)', async (t) => {
  const server = await startFerryServer(t, ['--memory', '--quota', '64MiB']);
  const m = await mountFerry(t, [
    server.url,
    '--op-timeout',
    '2s',
    '--attr-timeout',
    '0',
    '--entry-timeout',
    '0',
  ]);
  const f = path.join(m.mountpoint, 'f');
  await writeFile(f, 'remote data');
  t.is(await readFile(f, 'utf8'), 'remote data');
  const fh = await open(f, 'r');
  t.teardown(() => fh.close().catch(() => undefined));
  server.child.kill('SIGKILL');
  await server.exited;
  await t.throwsAsync(fh.read(Buffer.alloc(4), 0, 4, 0), { code: 'EIO' });
  const done = await m.nextEvent('unmounted');
  t.regex(String(done.reason), /^lost (PEER_DEAD|PEER_RESET|NOT_CONNECTED)$/);
  t.is(await m.exited, 1);
  t.regex(m.stderr(), /was unmounted/);
  t.false(await isMounted(m.mountpoint));
  // The descriptor opened before stays dead: it never reaches the empty folder underneath.
  const late = await fh.read(Buffer.alloc(4), 0, 4, 0).then(
    () => 'read',
    (err: NodeJS.ErrnoException) => err.code,
  );
  t.true(late === 'ENOTCONN' || late === 'EIO', String(late));
});
