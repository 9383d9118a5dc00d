/**
 * `ferry cp -r` up to a real `ferry serve` on loopback and back down, compared file by file: deep
 * paths, unicode names, a 255-byte segment, an empty folder and a symlink (skipped and reported);
 * modification times kept both ways; a second run finds everything there; a bad name is refused
 * before anything is written.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runFerry, spawnFerry } from '../helpers/cli.js';
import { startServe } from '../helpers/server-process.js';

const SEGMENT_255 = 'é'.repeat(127) + 'x'; // 255 UTF-8 bytes

/** Every regular file below `root` (relative path -> bytes), and every folder. */
async function snapshot(root: string): Promise<{ files: Map<string, Buffer>; folders: string[] }> {
  const files = new Map<string, Buffer>();
  const folders: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, d.name);
      if (d.isDirectory()) {
        folders.push(relative(root, path));
        await visit(path);
      } else if (d.isFile()) files.set(relative(root, path), await readFile(path));
    }
  };
  await visit(root);
  return { files, folders: folders.sort() };
}

async function workdir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-tree-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const TREE: Record<string, Buffer> = {
  'top.txt': Buffer.from('top\n'),
  'empty-file': Buffer.alloc(0),
  'a/b/c/d/e/f/g/deep.bin': randomBytes(3 * 1024 * 1024 + 17),
  'фото/2026/снимок.jpg': randomBytes(70_000),
  'emoji 🚢/ferry.txt': Buffer.from('🚢'),
  [`long/${SEGMENT_255}`]: randomBytes(1000),
  [`${SEGMENT_255}/inside.txt`]: Buffer.from('inside'),
};
for (let i = 0; i < 40; i++) TREE[`many/file-${i}.dat`] = randomBytes(i * 1000);

test('cp -r up and back down gives the same tree; symlinks and empty folders are reported; times kept; a rerun copies nothing', async (t) => {
  const dir = await workdir(t);
  const src = join(dir, 'tree');
  const mtime = new Date('2020-02-02T02:02:02.123Z');
  for (const [name, data] of Object.entries(TREE)) {
    await mkdir(dirname(join(src, name)), { recursive: true });
    await writeFile(join(src, name), data);
    await utimes(join(src, name), mtime, mtime);
  }
  await mkdir(join(src, 'empty/folder'), { recursive: true });
  await symlink('top.txt', join(src, 'link-to-top'));
  const root = join(dir, 'root');
  await mkdir(root);
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  const remote = `ferry://127.0.0.1:${server.port}`;

  const up = await runFerry(['cp', '-r', src, `${remote}/backup`, '--json'], { timeoutMs: 120_000 });
  t.is(up.code, 0, up.stderr);
  t.regex(up.stderr, /skipped .*link-to-top: symlink, not followed/);
  t.regex(up.stderr, /skipped .*empty[/]folder: empty folder/);
  const upSummary = JSON.parse(up.stdout) as {
    files: number;
    bytes: number;
    alreadyThere: number;
    seconds: number;
    skipped: Array<{ path: string; reason: string }>;
  };
  const totalBytes = Object.values(TREE).reduce((n, b) => n + b.length, 0);
  t.is(upSummary.files, Object.keys(TREE).length);
  t.is(upSummary.bytes, totalBytes);
  t.is(upSummary.alreadyThere, 0);
  t.is(upSummary.skipped.length, 2);
  const small = Object.values(TREE).filter((b) => b.length <= 256 * 1024).length;
  t.like(upSummary, { filesBatched: small }, 'every file of at most 256 KiB went in a batch');
  t.true((upSummary as { batches?: number }).batches! >= 1);
  t.true(upSummary.seconds > 0);

  const ls = await runFerry(['ls', '-R', `${remote}/backup/tree/`, '--json']);
  const listed = JSON.parse(ls.stdout) as Array<{ name: string; mtimeMs: number }>;
  t.deepEqual(
    listed.map((e) => e.name).sort(),
    Object.keys(TREE)
      .map((n) => `backup/tree/${n}`)
      .sort(),
  );
  for (const e of listed) t.true(Math.abs(e.mtimeMs - mtime.getTime()) < 1, `${e.name} keeps its mtime`);

  const again = await runFerry(['cp', '-r', src, `${remote}/backup`, '--json']);
  t.is(again.code, 0, again.stderr);
  t.like(JSON.parse(again.stdout), { alreadyThere: Object.keys(TREE).length, bytesMoved: 0 });

  const back = join(dir, 'back');
  const down = await runFerry(['cp', '-r', `${remote}/backup/tree`, back, '--json'], { timeoutMs: 120_000 });
  t.is(down.code, 0, down.stderr);
  t.like(JSON.parse(down.stdout), {
    files: Object.keys(TREE).length,
    bytes: totalBytes,
    alreadyThere: 0,
    filesBatched: small,
  });
  const a = await snapshot(src);
  const b = await snapshot(join(back, 'tree'));
  t.deepEqual([...b.files.keys()].sort(), [...a.files.keys()].sort());
  for (const [name, data] of a.files) t.true(data.equals(b.files.get(name)!), `${name} has the same bytes`);
  t.deepEqual(
    b.folders,
    a.folders.filter((f) => f !== 'empty' && f !== join('empty', 'folder')),
    'every folder that holds files comes back; the empty one cannot exist on a server',
  );
  for (const name of Object.keys(TREE)) {
    const got = (await lstat(join(back, 'tree', name))).mtimeMs;
    t.true(Math.abs(got - mtime.getTime()) < 1, `${name} mtime on download: ${got}`);
  }
  const rerun = await runFerry(['cp', '-r', `${remote}/backup/tree`, back, '--json']);
  t.is(rerun.code, 0, rerun.stderr);
  t.like(JSON.parse(rerun.stdout), { alreadyThere: Object.keys(TREE).length, bytesMoved: 0 });
});

test('cp -r refuses a tree holding a name a server cannot take, and writes nothing', async (t) => {
  const dir = await workdir(t);
  const src = join(dir, 'bad');
  await mkdir(join(src, 'ok'), { recursive: true });
  await writeFile(join(src, 'ok', 'fine.txt'), 'fine');
  let deep = src;
  for (let i = 0; i < 5; i++) deep = join(deep, 'd'.repeat(250));
  await mkdir(deep, { recursive: true });
  await writeFile(join(deep, 'too-long'), 'x');
  const root = join(dir, 'root');
  await mkdir(root);
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  const r = await runFerry(['cp', '-r', src, `ferry://127.0.0.1:${server.port}`]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /BAD_NAME/);
  t.regex(r.stderr, /nothing was copied/);
  t.regex(r.stderr, /too-long/);
  t.regex(r.stderr, /Rename them/);
  t.deepEqual(await readdir(root), [], 'nothing reached the server');
  const hidden = join(dir, '.ferry~cache');
  await mkdir(hidden);
  await writeFile(join(hidden, 'x'), 'x');
  const h = await runFerry(['cp', '-r', hidden, `ferry://127.0.0.1:${server.port}`]);
  t.is(h.code, 1, h.stderr);
  t.regex(h.stderr, /reserved for ferry.*nothing was copied|nothing was copied.*reserved for ferry/);
  t.deepEqual(await readdir(root), [], 'nothing reached the server');
  const missing = await runFerry(['cp', '-r', `ferry://127.0.0.1:${server.port}/nothing`, join(dir, 'out')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /NOT_FOUND/);
});

test('cp -r killed part way (SIGKILL) and run again skips the files already complete and ends with the same tree', async (t) => {
  const dir = await workdir(t);
  const src = join(dir, 'tree');
  const files = 24;
  for (let i = 0; i < files; i++) {
    await mkdir(join(src, `part-${i % 4}`), { recursive: true });
    await writeFile(join(src, `part-${i % 4}`, `f${i}.bin`), randomBytes(1024 * 1024));
  }
  const root = join(dir, 'root');
  await mkdir(root);
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  const remote = `ferry://127.0.0.1:${server.port}`;
  // 512 KiB/s per file in flight: the whole tree takes about 12 s, so the kill lands part way
  const child = spawnFerry(['cp', '-r', src, remote, '--rate', '512KiB']);
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const complete = async (): Promise<number> => {
    const ls = await runFerry(['ls', '-R', `${remote}/tree/`, '--json']);
    return ls.code === 0 ? (JSON.parse(ls.stdout) as unknown[]).length : 0;
  };
  const deadline = Date.now() + 60_000;
  while ((await complete()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const before = await complete();
  t.true(before >= 2 && before < files, `killed part way: ${before} of ${files} files complete`);
  const again = await runFerry(['cp', '-r', src, remote, '--json'], { timeoutMs: 120_000 });
  t.is(again.code, 0, again.stderr);
  const summary = JSON.parse(again.stdout) as { files: number; alreadyThere: number };
  t.is(summary.files, files);
  t.true(summary.alreadyThere >= before - 4, `${summary.alreadyThere} skipped (${before} listed before)`);
  const back = join(dir, 'back');
  const down = await runFerry(['cp', '-r', `${remote}/tree`, back], { timeoutMs: 120_000 });
  t.is(down.code, 0, down.stderr);
  const a = await snapshot(src);
  const b = await snapshot(join(back, 'tree'));
  t.deepEqual([...b.files.keys()].sort(), [...a.files.keys()].sort());
  for (const [name, data] of a.files) t.true(data.equals(b.files.get(name)!), `${name} has the same bytes`);
});

test('sync copies only what differs, and with --delete removes what the source lacks, both ways', async (t) => {
  const dir = await workdir(t);
  const src = join(dir, 'src');
  await mkdir(join(src, 'b'), { recursive: true });
  await writeFile(join(src, 'a.txt'), 'a1');
  await writeFile(join(src, 'b', 'c.txt'), 'c1');
  await writeFile(join(src, 'same.txt'), 'same');
  const root = join(dir, 'root');
  await mkdir(root);
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  const mirror = `ferry://127.0.0.1:${server.port}/mirror`;
  const names = async (): Promise<string[]> => {
    const ls = await runFerry(['ls', '-R', `${mirror}/`, '--json']);
    return (JSON.parse(ls.stdout) as Array<{ name: string }>).map((e) => e.name);
  };

  const first = await runFerry(['sync', src, mirror, '--json']);
  t.is(first.code, 0, first.stderr);
  t.like(JSON.parse(first.stdout), { files: 3, alreadyThere: 0, deleted: 0 });
  t.deepEqual(
    await names(),
    ['mirror/a.txt', 'mirror/b/c.txt', 'mirror/same.txt'],
    'contents, not the folder',
  );

  await writeFile(join(src, 'a.txt'), 'a2 longer');
  await rm(join(src, 'b'), { recursive: true });
  await writeFile(join(src, 'd.txt'), 'd');
  const kept = await runFerry(['sync', src, mirror, '--json']);
  t.like(JSON.parse(kept.stdout), { files: 3, alreadyThere: 1, deleted: 0 });
  t.deepEqual(await names(), ['mirror/a.txt', 'mirror/b/c.txt', 'mirror/d.txt', 'mirror/same.txt']);
  const pruned = await runFerry(['sync', src, mirror, '--delete', '--json']);
  t.is(pruned.code, 0, pruned.stderr);
  t.like(JSON.parse(pruned.stdout), { files: 3, alreadyThere: 3, deleted: 1, bytesMoved: 0 });
  t.deepEqual(await names(), ['mirror/a.txt', 'mirror/d.txt', 'mirror/same.txt']);

  const out = join(dir, 'out');
  await mkdir(join(out, 'old'), { recursive: true });
  await writeFile(join(out, 'old', 'stale.txt'), 'stale');
  await writeFile(join(out, 'same.txt'), 'different');
  const down = await runFerry(['sync', mirror, out, '--delete', '--json']);
  t.is(down.code, 0, down.stderr);
  t.like(JSON.parse(down.stdout), { files: 3, alreadyThere: 0, deleted: 1 });
  const a = await snapshot(src);
  const b = await snapshot(out);
  t.deepEqual([...b.files.keys()].sort(), [...a.files.keys()].sort());
  for (const [name, data] of a.files) t.true(data.equals(b.files.get(name)!), `${name} has the same bytes`);
  const again = await runFerry(['sync', mirror, out, '--json']);
  t.like(JSON.parse(again.stdout), { alreadyThere: 3, bytesMoved: 0 });
});

test('sync --checksum re-sends a file changed with its size and mtime kept; without it such a file is taken as the same; unchanged files are not sent', async (t) => {
  const dir = await workdir(t);
  const src = join(dir, 'src');
  await mkdir(join(src, 'sub'), { recursive: true });
  const mtime = new Date('2021-03-04T05:06:07.089Z');
  const files: Record<string, Buffer> = {
    'a.bin': randomBytes(5000),
    'sub/b.bin': randomBytes(300 * 1024),
    'sub/c.txt': Buffer.from('unchanged'),
  };
  for (const [name, data] of Object.entries(files)) {
    await writeFile(join(src, name), data);
    await utimes(join(src, name), mtime, mtime);
  }
  const root = join(dir, 'root');
  await mkdir(root);
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  const mirror = `ferry://127.0.0.1:${server.port}/m`;
  const first = await runFerry(['sync', src, mirror, '--json']);
  t.is(first.code, 0, first.stderr);
  t.like(JSON.parse(first.stdout), { files: 3, alreadyThere: 0 });

  // same size, same mtime, other bytes: one small file and one sent on its own
  const changed = { 'a.bin': randomBytes(5000), 'sub/b.bin': randomBytes(300 * 1024) };
  for (const [name, data] of Object.entries(changed)) {
    await writeFile(join(src, name), data);
    await utimes(join(src, name), mtime, mtime);
  }
  const plain = await runFerry(['sync', src, mirror, '--json']);
  t.like(JSON.parse(plain.stdout), { alreadyThere: 3, bytesMoved: 0, filesHashed: 0 });
  t.true((await readFile(join(root, 'm', 'a.bin'))).equals(files['a.bin']!), 'size and mtime alone miss it');

  const summed = await runFerry(['sync', src, mirror, '--checksum', '--json']);
  t.is(summed.code, 0, summed.stderr);
  t.like(JSON.parse(summed.stdout), {
    files: 3,
    alreadyThere: 1,
    filesHashed: 3,
    bytesMoved: 5000 + 300 * 1024,
  });
  for (const [name, data] of Object.entries(changed)) {
    t.true((await readFile(join(root, 'm', name))).equals(data), `${name} re-sent`);
  }
  const again = await runFerry(['sync', src, mirror, '--checksum', '--json']);
  t.like(JSON.parse(again.stdout), { alreadyThere: 3, bytesMoved: 0, filesHashed: 3 });

  // the other way: a local copy changed in place, its mtime put back
  const out = join(dir, 'out');
  const down = await runFerry(['sync', mirror, out, '--json']);
  t.is(down.code, 0, down.stderr);
  const tampered = randomBytes(9);
  await writeFile(join(out, 'sub', 'c.txt'), tampered);
  await utimes(join(out, 'sub', 'c.txt'), mtime, mtime);
  const plainDown = await runFerry(['sync', mirror, out, '--json']);
  t.like(JSON.parse(plainDown.stdout), { alreadyThere: 3, bytesMoved: 0 });
  const summedDown = await runFerry(['sync', mirror, out, '--checksum', '--json']);
  t.is(summedDown.code, 0, summedDown.stderr);
  t.like(JSON.parse(summedDown.stdout), { alreadyThere: 2, filesHashed: 3, bytesMoved: 9 });
  t.true((await readFile(join(out, 'sub', 'c.txt'))).equals(files['sub/c.txt']!));
  t.true(Math.abs((await lstat(join(out, 'sub', 'c.txt'))).mtimeMs - mtime.getTime()) < 1, 'mtime kept');
});
