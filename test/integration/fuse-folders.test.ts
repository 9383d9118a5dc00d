/**
 * Folders through a real mount (`ferry mount --memory` and `--root DIR`, each served by a child
 * process), driven only by tools started as child processes (mkdir -p, ls -R, rmdir, mv, cp -r,
 * diff -r): deep paths, unicode names, a 255-byte segment, empty folders, and folder moves. Every
 * step also runs on a plain host folder, and the mount must answer exactly like it.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { mountFerry, run, startFerryServer, type RunResult, type ServedMount } from '../helpers/fuse.js';

/** A 255-byte segment (the longest a name part may be) of two-byte characters, and one of ASCII. */
const LONG_UNICODE = 'é'.repeat(127) + 'z';
const LONG_ASCII = 'n'.repeat(255);
const UNICODE_DIR = 'ünïcødé 日本';
const NO_CACHE = ['--attr-timeout', '0', '--entry-timeout', '0'];

type Backend = 'memory' | 'root';

function mountBackend(t: ExecutionContext, backend: Backend): Promise<ServedMount> {
  if (backend === 'memory') return mountFerry(t, ['--memory', '--quota', '256MiB', ...NO_CACHE]);
  return mountFerry(t, (scratch) => {
    const root = path.join(scratch, 'root');
    mkdirSync(root);
    return ['--root', root, ...NO_CACHE];
  });
}

/** Runs a shell command inside `dir` (a child process: this process never touches the mount). */
function sh(dir: string, script: string): Promise<RunResult> {
  return run('sh', ['-c', `cd "$1" && ${script}`, 'sh', dir]);
}

/** Runs one step in the mount and in the host folder: both must exit alike. */
async function both(t: ExecutionContext, mnt: string, host: string, script: string): Promise<RunResult> {
  const [m, h] = await Promise.all([sh(mnt, script), sh(host, script)]);
  t.is(
    m.code === 0,
    h.code === 0,
    `${script}: mount exit ${m.code} (${m.stderr}), host exit ${h.code} (${h.stderr})`,
  );
  return m;
}

for (const backend of ['memory', 'root'] as const) {
  test(`--${backend}: mkdir -p, deep and unicode names, a 255-byte segment, rmdir, mv of files and folders, ls -R as on a host folder`, async (t) => {
    t.timeout(120_000);
    const m = await mountBackend(t, backend);
    const host = path.join(m.scratch, 'host');
    await mkdir(host);
    const mnt = m.mountpoint;

    t.is((await both(t, mnt, host, 'mkdir -p a/b/c/d/e/f/g/h')).code, 0);
    t.is((await both(t, mnt, host, 'echo deep > a/b/c/d/e/f/g/h/deep.txt')).code, 0);
    t.is((await both(t, mnt, host, 'echo top > a/top.txt')).code, 0);
    t.is(
      (await both(t, mnt, host, `mkdir "${UNICODE_DIR}" && echo ü > "${UNICODE_DIR}/файл ✓.txt"`)).code,
      0,
    );
    t.is(
      (await both(t, mnt, host, `mkdir ${LONG_ASCII} && echo long > ${LONG_ASCII}/${LONG_UNICODE}`)).code,
      0,
    );
    t.not((await both(t, mnt, host, `mkdir ${LONG_ASCII}x`)).code, 0, 'a 256-byte segment is refused');
    t.is((await both(t, mnt, host, 'mkdir empty keep')).code, 0);

    // rmdir: a folder holding a file (or a folder) is not empty; an empty one goes; a file is no folder.
    const notEmpty = await both(t, mnt, host, 'rmdir a/b/c');
    t.not(notEmpty.code, 0);
    t.regex(notEmpty.stderr, /Directory not empty/);
    t.regex((await both(t, mnt, host, 'rmdir a/top.txt')).stderr, /Not a directory/);
    t.regex((await both(t, mnt, host, 'rmdir nothing')).stderr, /No such file or directory/);
    t.is((await both(t, mnt, host, 'rmdir empty')).code, 0);
    t.regex((await both(t, mnt, host, 'mkdir a')).stderr, /File exists/);
    t.regex((await both(t, mnt, host, 'mkdir a/top.txt/x')).stderr, /Not a directory/);

    // mv: files across folders, a folder into another, a folder onto a new name, a file onto a folder.
    t.is((await both(t, mnt, host, 'mv a/top.txt keep/')).code, 0);
    t.is((await both(t, mnt, host, `mv "${UNICODE_DIR}/файл ✓.txt" a/b/c/d/`)).code, 0);
    t.is((await both(t, mnt, host, 'mv a/b/c/d/e keep/')).code, 0);
    t.is((await both(t, mnt, host, 'mv keep kept')).code, 0);
    t.not((await both(t, mnt, host, 'mv -T kept/top.txt a/b')).code, 0);
    t.is((await both(t, mnt, host, 'mkdir -p x/y && mv x/y/ kept/e/f/')).code, 0);

    const lsMount = await sh(mnt, 'LC_ALL=C ls -R');
    const lsHost = await sh(host, 'LC_ALL=C ls -R');
    t.is(lsMount.code, 0, lsMount.stderr);
    t.is(lsMount.stdout, lsHost.stdout);
    t.is(
      lsMount.stdout,
      [
        '.:',
        'a',
        'kept',
        LONG_ASCII,
        'x',
        UNICODE_DIR,
        '',
        './a:',
        'b',
        '',
        './a/b:',
        'c',
        '',
        './a/b/c:',
        'd',
        '',
        './a/b/c/d:',
        'файл ✓.txt',
        '',
        './kept:',
        'e',
        'top.txt',
        '',
        './kept/e:',
        'f',
        '',
        './kept/e/f:',
        'g',
        'y',
        '',
        './kept/e/f/g:',
        'h',
        '',
        './kept/e/f/g/h:',
        'deep.txt',
        '',
        './kept/e/f/y:',
        '',
        `./${LONG_ASCII}:`,
        LONG_UNICODE,
        '',
        './x:',
        '',
        `./${UNICODE_DIR}:`,
        '',
      ].join('\n'),
    );
    const diff = await run('diff', ['-r', mnt, host]);
    t.is(diff.code, 0, diff.stdout + diff.stderr);
    const cat = await sh(mnt, 'cat kept/e/f/g/h/deep.txt a/b/c/d/*.txt');
    t.is(cat.stdout, 'deep\nü\n');
    t.is((await sh(mnt, 'stat -c %F:%a:%h kept/e')).stdout, 'directory:755:2\n');
    if (backend === 'root') {
      // The keys are host paths under the served root.
      const onHost = await readFile(
        path.join(m.scratch, 'root', 'kept', 'e', 'f', 'g', 'h', 'deep.txt'),
        'utf8',
      );
      t.is(onHost, 'deep\n');
    }
  });

  test(`--${backend}: a tree copied in with cp -r and back out compares equal with diff -r`, async (t) => {
    t.timeout(120_000);
    const m = await mountBackend(t, backend);
    const src = path.join(m.scratch, 'src');
    const made = await run('sh', [
      '-c',
      [
        'set -e',
        'mkdir -p "$1/tree/one/two/three" "$1/tree/empty" "$1/tree/' + UNICODE_DIR + '"',
        'head -c 300000 /dev/urandom > "$1/tree/one/two/three/random.bin"',
        'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "$i" > "$1/tree/one/f$i"; done',
        ': > "$1/tree/one/two/zero-bytes"',
        'echo ü > "$1/tree/' + UNICODE_DIR + '/' + LONG_UNICODE + '"',
      ].join('\n'),
      'sh',
      src,
    ]);
    t.is(made.code, 0, made.stderr);
    const cpIn = await run('cp', ['-r', path.join(src, 'tree'), path.join(m.mountpoint, 'tree')]);
    t.is(cpIn.code, 0, cpIn.stderr);
    const inMount = await run('diff', ['-r', path.join(src, 'tree'), path.join(m.mountpoint, 'tree')]);
    t.is(inMount.code, 0, inMount.stdout + inMount.stderr);
    const out = path.join(m.scratch, 'out');
    const cpOut = await run('cp', ['-r', path.join(m.mountpoint, 'tree'), out]);
    t.is(cpOut.code, 0, cpOut.stderr);
    const back = await run('diff', ['-r', path.join(src, 'tree'), out]);
    t.is(back.code, 0, back.stdout + back.stderr);
    const lsIn = await sh(path.join(m.mountpoint, 'tree'), 'LC_ALL=C ls -R');
    const lsSrc = await sh(path.join(src, 'tree'), 'LC_ALL=C ls -R');
    t.is(lsIn.stdout, lsSrc.stdout);
    t.regex(lsIn.stdout, /\.\/empty:\n/);
  });
}

test('a remote mount (ferry serve, whose client lists every name today) shows one level per folder, moves folders, and copies a tree equal', async (t) => {
  t.timeout(120_000);
  const server = await startFerryServer(t, ['--memory', '--quota', '256MiB']);
  const m = await mountFerry(t, [server.url, ...NO_CACHE]);
  const mnt = m.mountpoint;
  t.is(
    (await sh(mnt, 'mkdir -p a/b/c empty && echo 1 > a/b/c/one && echo 2 > a/two && echo 3 > a-b')).code,
    0,
  );
  t.is((await sh(mnt, `mkdir "${UNICODE_DIR}" && echo ü > "${UNICODE_DIR}/${LONG_UNICODE}"`)).code, 0);
  t.is((await sh(mnt, 'mv a moved && rmdir empty')).code, 0);
  const ls = await sh(mnt, 'LC_ALL=C ls -R');
  t.is(ls.code, 0, ls.stderr);
  t.is(
    ls.stdout,
    [
      '.:',
      'a-b',
      'moved',
      UNICODE_DIR,
      '',
      './moved:',
      'b',
      'two',
      '',
      './moved/b:',
      'c',
      '',
      './moved/b/c:',
      'one',
      '',
      `./${UNICODE_DIR}:`,
      LONG_UNICODE,
      '',
    ].join('\n'),
  );
  const out = path.join(m.scratch, 'out');
  t.is((await run('cp', ['-r', mnt, out])).code, 0);
  const diff = await run('diff', ['-r', mnt, out]);
  t.is(diff.code, 0, diff.stdout + diff.stderr);
  t.is((await sh(mnt, 'cat moved/b/c/one')).stdout, '1\n');
});
