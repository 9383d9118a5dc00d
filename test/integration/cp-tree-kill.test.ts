/**
 * Trees interrupted by SIGKILL and copied again: the server killed during a `cp -r` upload and
 * started again on the same folder, and the client killed part-way through a `cp -r` download. The
 * second run ends with the same bytes as the source, sends no file again that the first run
 * finished, and continues a download's part-way file from its part file instead of starting over
 * (both read from the --json summary).
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runFerry, spawnFerry } from '../helpers/cli.js';
import { startServe } from '../helpers/server-process.js';

interface Summary {
  files: number;
  alreadyThere: number;
  bytes: number;
  bytesMoved: number;
}

async function files(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const visit = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, d.name);
      if (d.isDirectory()) await visit(path);
      else if (d.isFile() && !d.name.startsWith('.')) out.set(relative(root, path), await readFile(path));
    }
  };
  await visit(root);
  return out;
}

async function workdir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-tree-kill-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function makeTree(src: string, big: number, small: number): Promise<Map<string, Buffer>> {
  for (let i = 0; i < big; i++) {
    await mkdir(join(src, 'big'), { recursive: true });
    await writeFile(join(src, 'big', `b${i}.bin`), randomBytes(1024 * 1024));
  }
  for (let i = 0; i < small; i++) {
    await mkdir(join(src, 'small', `s${i % 10}`), { recursive: true });
    await writeFile(join(src, 'small', `s${i % 10}`, `f${i}.txt`), randomBytes(1024 + i));
  }
  return files(src);
}

function sameTree(t: ExecutionContext, got: Map<string, Buffer>, want: Map<string, Buffer>): void {
  t.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, data] of want) t.true(data.equals(got.get(name)!), `${name} has the same bytes`);
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited 90 s for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the server killed (SIGKILL) during cp -r up, started again: the rerun ends with the same tree and sends no finished file again', async (t) => {
  const dir = await workdir(t);
  const src = join(dir, 'tree');
  const want = await makeTree(src, 6, 200);
  const root = join(dir, 'root');
  await mkdir(root);
  const first = await startServe(['--root', root]);
  t.teardown(() => first.kill());
  // 256 KiB/s per large file: each takes about 4 s, so the kill lands with some done and some not
  const child = spawnFerry(['cp', '-r', src, `ferry://127.0.0.1:${first.port}`, '--rate', '256KiB']);
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const finished = async (): Promise<Map<string, Buffer>> =>
    files(join(root, 'tree')).catch(() => new Map<string, Buffer>());
  await until(async () => [...(await finished()).keys()].some((n) => n.startsWith('big')), 'a large file');
  await first.kill();
  const before = await finished();
  t.true(before.size < want.size, `killed part way: ${before.size} of ${want.size} files in place`);
  // the client notices its server is gone by itself; a hard stop if it has not within 60 s
  const stopper = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(stopper);
  t.not(child.exitCode, 0, 'the interrupted copy did not claim success');

  const second = await startServe(['--root', root]);
  t.teardown(() => second.kill());
  const again = await runFerry(['cp', '-r', src, `ferry://127.0.0.1:${second.port}`, '--json'], {
    timeoutMs: 180_000,
  });
  t.is(again.code, 0, again.stderr);
  const summary = JSON.parse(again.stdout) as Summary;
  t.is(summary.files, want.size);
  t.true(summary.alreadyThere >= before.size, `${summary.alreadyThere} found there, ${before.size} were`);
  const finishedBytes = [...before.values()].reduce((n, b) => n + b.length, 0);
  t.true(
    summary.bytesMoved <= summary.bytes - finishedBytes,
    `moved ${summary.bytesMoved} of ${summary.bytes}: nothing of the ${finishedBytes} finished bytes`,
  );
  sameTree(t, await files(join(root, 'tree')), want);
});

test('cp -r down killed part-way through a file: the rerun continues that file from its part file', async (t) => {
  const dir = await workdir(t);
  const root = join(dir, 'root');
  const want = new Map<string, Buffer>();
  await mkdir(join(root, 't', 'sub'), { recursive: true });
  for (const name of ['a.bin', 'b.bin']) {
    const data = randomBytes(6 * 1024 * 1024);
    await writeFile(join(root, 't', name), data);
    want.set(name, data);
  }
  for (let i = 0; i < 20; i++) {
    const data = randomBytes(500 + i);
    await writeFile(join(root, 't', 'sub', `s${i}.txt`), data);
    want.set(join('sub', `s${i}.txt`), data);
  }
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  const remote = `ferry://127.0.0.1:${server.port}/t`;
  const out = join(dir, 'out');
  // 1 MiB/s per file: a 6 MiB file takes about 6 s
  const child = spawnFerry(['cp', '-r', remote, out, '--rate', '1MiB', '--block-size', '64KiB']);
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const journal = join(out, 't', '.a.bin.ferry-journal');
  await until(
    () =>
      access(journal).then(
        () => true,
        () => false,
      ),
    "a.bin's download journal",
  );
  await new Promise((r) => setTimeout(r, 1000));
  child.kill('SIGKILL');
  await exited;
  const kept = await files(join(out, 't'));
  t.false(kept.has('a.bin'), 'a.bin was not finished');
  const left = [...want].filter(([n]) => !kept.has(n)).reduce((n, [, b]) => n + b.length, 0);

  const again = await runFerry(['cp', '-r', remote, out, '--json'], { timeoutMs: 180_000 });
  t.is(again.code, 0, again.stderr);
  const summary = JSON.parse(again.stdout) as Summary;
  t.is(summary.alreadyThere, kept.size);
  t.true(summary.bytesMoved < left, `moved ${summary.bytesMoved} of the ${left} bytes not finished before`);
  sameTree(t, await files(join(out, 't')), want);
});
