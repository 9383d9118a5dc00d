/**
 * End to end through the CLI and a real `ferry serve --root`: files keep their permission bits up
 * (the host files get them) and back down (`cp` and `cp -r`); part files are 0600; `ferry stat`
 * shows what unfinished uploads hold; an abandoned upload older than `--part-ttl` is removed when
 * the server starts; a bad `--part-ttl` is a usage error.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, utimes, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFerry } from '../helpers/cli.js';
import { startServe } from '../helpers/server-process.js';

async function workdir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-modes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

const MODES: Record<string, number> = {
  'tool.sh': 0o750,
  'secret.key': 0o600,
  'notes/readme.txt': 0o644,
  'notes/shared.txt': 0o664,
};

test('cp and cp -r keep file modes up to the server host files and back down', async (t) => {
  const dir = await workdir(t);
  const src = join(dir, 'tree');
  for (const [name, mode] of Object.entries(MODES)) {
    await mkdir(join(src, name, '..'), { recursive: true });
    await writeFile(join(src, name), randomBytes(5000));
    await chmod(join(src, name), mode);
  }
  const root = join(dir, 'root');
  await mkdir(root);
  const server = await startServe(['--root', root]);
  t.teardown(() => server.kill());
  const remote = `ferry://127.0.0.1:${server.port}`;

  const one = await runFerry(['cp', join(src, 'tool.sh'), `${remote}/single.sh`]);
  t.is(one.code, 0, one.stderr);
  t.is(await modeOf(join(root, 'single.sh')), 0o750, 'cp: the host file has the source mode');
  const oneBack = join(dir, 'single.sh');
  const down1 = await runFerry(['cp', `${remote}/single.sh`, oneBack]);
  t.is(down1.code, 0, down1.stderr);
  t.is(await modeOf(oneBack), 0o750, 'cp: the download has the server file mode');

  const up = await runFerry(['cp', '-r', src, `${remote}/backup`], { timeoutMs: 120_000 });
  t.is(up.code, 0, up.stderr);
  for (const [name, mode] of Object.entries(MODES)) {
    t.is(await modeOf(join(root, 'backup/tree', name)), mode, `cp -r up: ${name}`);
  }
  const back = join(dir, 'back');
  const down = await runFerry(['cp', '-r', `${remote}/backup/tree`, back], { timeoutMs: 120_000 });
  t.is(down.code, 0, down.stderr);
  for (const [name, mode] of Object.entries(MODES)) {
    t.is(await modeOf(join(back, 'tree', name)), mode, `cp -r down: ${name}`);
  }

  // sync both ways keeps modes and modification times too (small files go batched, one large alone)
  const mtime = new Date('2019-09-09T09:09:09.009Z');
  await writeFile(join(src, 'large.bin'), randomBytes(600 * 1024));
  await chmod(join(src, 'large.bin'), 0o604);
  for (const name of [...Object.keys(MODES), 'large.bin']) await utimes(join(src, name), mtime, mtime);
  const synced = { ...MODES, 'large.bin': 0o604 };
  const syncUp = await runFerry(['sync', src, `${remote}/mirror`], { timeoutMs: 120_000 });
  t.is(syncUp.code, 0, syncUp.stderr);
  const syncBack = join(dir, 'sync-back');
  const syncDown = await runFerry(['sync', `${remote}/mirror`, syncBack], { timeoutMs: 120_000 });
  t.is(syncDown.code, 0, syncDown.stderr);
  for (const [name, mode] of Object.entries(synced)) {
    for (const [where, path] of [
      ['up', join(root, 'mirror', name)],
      ['down', join(syncBack, name)],
    ] as const) {
      const st = await stat(path);
      t.is(st.mode & 0o777, mode, `sync ${where}: ${name} mode`);
      t.true(Math.abs(st.mtimeMs - mtime.getTime()) < 1, `sync ${where}: ${name} mtime ${st.mtimeMs}`);
    }
  }
});

test('ferry stat shows unfinished uploads; one idle past --part-ttl is removed at start', async (t) => {
  const dir = await workdir(t);
  const root = join(dir, 'root');
  await mkdir(join(root, '.ferry~part'), { recursive: true });
  await mkdir(join(root, '.ferry~journal'), { recursive: true });
  const stale = join(root, '.ferry~part', 'old.bin');
  const staleJournal = join(root, '.ferry~journal', 'old.bin');
  const fresh = join(root, '.ferry~part', 'new.bin');
  await writeFile(stale, randomBytes(3000));
  await writeFile(staleJournal, randomBytes(40));
  await writeFile(fresh, randomBytes(1000));
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  for (const p of [stale, staleJournal]) await utimes(p, twoHoursAgo, twoHoursAgo);
  const server = await startServe(['--root', root, '--part-ttl', '1h']);
  t.teardown(() => server.kill());

  const st = await runFerry(['stat', `ferry://127.0.0.1:${server.port}`, '--json']);
  t.is(st.code, 0, st.stderr);
  // The start sweep runs before the first request is answered or soon after: the stat may see it
  // either way, so wait for the stale files to go, then ask again.
  for (let i = 0; i < 100; i++) {
    if (
      !(await access(stale).then(
        () => true,
        () => false,
      ))
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await t.throwsAsync(access(stale), undefined, 'the stale part file is gone');
  await t.throwsAsync(access(staleJournal), undefined, 'and its journal');
  await access(fresh);
  t.pass('the fresh part file stays');
  const after = JSON.parse(
    (await runFerry(['stat', `ferry://127.0.0.1:${server.port}`, '--json'])).stdout,
  ) as {
    partUploads: number;
    partBytes: number;
  };
  t.is(after.partUploads, 1);
  t.is(after.partBytes, 1000);
  t.regex(server.log(), /expired an unfinished upload/);
});

test('a bad --part-ttl is a usage error that names the fix', async (t) => {
  for (const bad of ['0', 'soon', '-5m']) {
    const r = await runFerry(['serve', '--memory', '--listen', '127.0.0.1:0', '--part-ttl', bad]);
    t.is(r.code, 2, `${bad}: ${r.stderr}`);
    t.regex(r.stderr, /--part-ttl/);
    t.regex(r.stderr, /24h/);
  }
});
