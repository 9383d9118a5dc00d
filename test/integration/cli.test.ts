import test, { type ExecutionContext } from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runFerry } from '../helpers/cli.js';
import { startServe } from '../helpers/server-process.js';

test('ferry --help lists the commands and exits 0', async (t) => {
  const r = await runFerry(['--help']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /ferry <command>/);
});

test('an unknown command is bad usage: exit 2 and one line that says what to do', async (t) => {
  const r = await runFerry(['frobnicate']);
  t.is(r.code, 2);
  t.regex(r.stderr, /ferry --help/);
  t.is(r.stderr.trim().split('\n').length, 1);
});

/** A served tree: files at several depths, a unicode folder, and one folder of 10,001 files (two pages). */
async function servedTree(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-ls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'top.txt': 'top\n',
    'photos/a.jpg': 'aaaa',
    'photos/2026/b.jpg': 'bb',
    'photos/2026/deep/c.jpg': 'c',
    'ünï/ß.txt': 'ß',
  };
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  await mkdir(join(dir, 'many'));
  for (let i = 0; i < MANY; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, MANY - i) }, (_, k) =>
        writeFile(join(dir, 'many', manyName(i + k)), ''),
      ),
    );
  }
  const server = await startServe(['--root', dir]);
  t.teardown(() => server.kill());
  return `127.0.0.1:${server.port}`;
}

const MANY = 10_001;
const manyName = (i: number): string => `f${String(i).padStart(5, '0')}`;

interface LsJson {
  type: 'file' | 'folder';
  name: string;
  sizeBytes?: number;
}

test('ls shows one level (files and folder/ entries), -R everything below, a file by its name', async (t) => {
  const remote = await servedTree(t);
  const top = await runFerry(['ls', `ferry://${remote}`]);
  t.is(top.code, 0, top.stderr);
  const rows = top.stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  t.deepEqual(
    rows.map((r) => [r[0], r[2]]),
    [
      ['folder', 'many/'],
      ['folder', 'photos/'],
      ['4', 'top.txt'],
      ['folder', 'ünï/'],
    ],
  );
  t.regex(rows[2]![1]!, /^\d{4}-\d\d-\d\dT.*Z$/, 'a file shows its modification time');
  t.is(rows[0]![1], '-', 'a folder has no time');
  const photos = await runFerry(['ls', `ferry://${remote}/photos/`, '--json']);
  t.is(photos.code, 0, photos.stderr);
  t.deepEqual(
    (JSON.parse(photos.stdout) as LsJson[]).map((e) => [e.type, e.name, e.sizeBytes]),
    [
      ['folder', 'photos/2026/', undefined],
      ['file', 'photos/a.jpg', 4],
    ],
  );
  const noSlash = await runFerry(['ls', `${remote}:photos`, '--json']);
  t.is(noSlash.stdout, photos.stdout, 'a folder named without its trailing / lists the same');
  const deep = await runFerry(['ls', '-R', `ferry://${remote}/photos`, '--json']);
  t.is(deep.code, 0, deep.stderr);
  t.deepEqual(
    (JSON.parse(deep.stdout) as LsJson[]).map((e) => [e.type, e.name]),
    [
      ['file', 'photos/2026/b.jpg'],
      ['file', 'photos/2026/deep/c.jpg'],
      ['file', 'photos/a.jpg'],
    ],
  );
  const one = await runFerry(['ls', `ferry://${remote}/photos/2026/b.jpg`, '--json']);
  t.deepEqual(
    (JSON.parse(one.stdout) as LsJson[]).map((e) => [e.type, e.name, e.sizeBytes]),
    [['file', 'photos/2026/b.jpg', 2]],
  );
  const uni = await runFerry(['ls', `ferry://${remote}/ünï/`, '--json']);
  t.deepEqual(
    (JSON.parse(uni.stdout) as LsJson[]).map((e) => e.name),
    ['ünï/ß.txt'],
  );
  const many = await runFerry(['ls', `ferry://${remote}/many/`, '--json']);
  t.is(many.code, 0, many.stderr);
  t.deepEqual(
    (JSON.parse(many.stdout) as LsJson[]).map((e) => e.name),
    Array.from({ length: MANY }, (_, i) => `many/${manyName(i)}`),
    'two pages, each file once, in order',
  );
});

test('ls of a missing path is NOT_FOUND and of a bad one BAD_NAME, each on one line', async (t) => {
  const remote = await servedTree(t);
  for (const [path, code] of [
    ['nope', /NOT_FOUND/],
    ['photos/nope/', /NOT_FOUND/],
    ['photos//a.jpg', /BAD_NAME/],
    ['photos/../top.txt', /BAD_NAME/],
  ] as const) {
    const r = await runFerry(['ls', `ferry://${remote}/${path}`]);
    t.is(r.code, 1, `${path}: ${r.stderr}`);
    t.regex(r.stderr, code, path);
    t.is(r.stderr.trim().split('\n').length, 1, path);
  }
});

test('cp -r, sync and ls: bad usage (and a malformed %-escape) exits 2 with one line, a missing folder 1 naming it', async (t) => {
  for (const args of [
    ['cp', '-r', 'a'],
    ['cp', '-r', 'a', 'b'],
    ['cp', '-r', '-', '127.0.0.1:7733:x'],
    ['cp', '-r', '127.0.0.1:1:a', '127.0.0.1:2:b'],
    ['cp', '-r', 'a', '127.0.0.1:7733:x', '--mode', 'append'],
    ['cp', '-r', '127.0.0.1:7733:x', 'out', '--resume'],
    ['sync', 'a', 'b'],
    ['sync', '127.0.0.1:1:a', '127.0.0.1:2:b'],
    ['sync', 'a', '127.0.0.1:7733:x', '--rate', 'fast'],
    ['ls', 'ferry://127.0.0.1:7733/100%'],
  ]) {
    const r = await runFerry(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
  }
  for (const cmd of [['cp', '-r'], ['sync']]) {
    const r = await runFerry([...cmd, '/no/such/folder', '127.0.0.1:7733:x']);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /\/no\/such\/folder.*NOT_FOUND/);
  }
});
