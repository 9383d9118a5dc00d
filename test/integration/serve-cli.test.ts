/**
 * The command line around the transfer engine: ls/stat/rm/discover against a live `ferry serve`,
 * bad usage (exit 2, one line), and failures that must name their cause within seconds (exit 1):
 * a missing source, an unreachable server, a wrong or missing secret. Also: without the secret a
 * client can neither list, read nor write.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecret } from '../../cli/secret.js';
import { runFerry } from '../helpers/cli.js';
import { startServe, type ServeProcess } from '../helpers/server-process.js';

let dir = '';
let open: ServeProcess;
let secured: ServeProcess;
const SECRET = generateSecret();

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
  await writeFile(join(dir, 'hello.txt'), 'hello ferry\n');
  await writeFile(join(dir, 'secret.txt'), SECRET + '\n');
  await writeFile(join(dir, 'wrong.txt'), generateSecret() + '\n');
  open = await startServe(['--memory']);
  secured = await startServe(['--memory', '--secret-file', join(dir, 'secret.txt')]);
});

test.after.always(async () => {
  await open?.kill();
  await secured?.kill();
  await rm(dir, { recursive: true, force: true });
});

test.serial('cp up, ls, stat, rm with --json', async (t) => {
  const remote = `127.0.0.1:${open.port}`;
  const up = await runFerry([
    'cp',
    join(dir, 'hello.txt'),
    join(dir, 'secret.txt'),
    `ferry://${remote}`,
    '--json',
  ]);
  t.is(up.code, 0, up.stderr);
  t.deepEqual(
    (JSON.parse(up.stdout) as Array<{ name: string }>).map((s) => s.name),
    ['hello.txt', 'secret.txt'],
    'several sources to one server',
  );
  const ls = await runFerry(['ls', `ferry://${remote}`, '--json']);
  t.is(ls.code, 0, ls.stderr);
  t.deepEqual(
    (JSON.parse(ls.stdout) as Array<{ name: string; sizeBytes: number }>).map((e) => [e.name, e.sizeBytes]),
    [
      ['hello.txt', 12],
      ['secret.txt', SECRET.length + 1],
    ],
  );
  const st = await runFerry(['stat', `${remote}:hello.txt`, '--json']);
  t.is(st.code, 0, st.stderr);
  t.is((JSON.parse(st.stdout) as { sizeBytes: number }).sizeBytes, 12);
  const rmr = await runFerry(['rm', `${remote}:secret.txt`, '--json']);
  t.deepEqual(JSON.parse(rmr.stdout), { removed: ['secret.txt'] });
  const gone = await runFerry(['stat', `${remote}:secret.txt`]);
  t.is(gone.code, 1);
  t.regex(gone.stderr, /NOT_FOUND/);
});

test('bad usage exits 2 with one line', async (t) => {
  for (const args of [
    ['cp', 'a'],
    ['cp', 'a', 'b'],
    ['cp', '127.0.0.1:1:a', '127.0.0.1:2:b'],
    ['cp', 'x', 'ferry://nothost:77/x'],
    ['cp', 'x', '127.0.0.1:99999:x'],
    ['cp', 'x', 'y', '127.0.0.1:7733:one-name'],
    ['cp', 'x', '127.0.0.1:7733:y', '--rate', 'fast'],
    ['serve'],
    ['serve', '--memory', '--root', '/tmp'],
    ['serve', '--memory', '--listen', 'nowhere'],
    ['ls', 'not-a-remote'],
  ]) {
    const r = await runFerry(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('a missing source exits 1 naming it, before any traffic', async (t) => {
  const r = await runFerry(['cp', join(dir, 'nope.bin'), `127.0.0.1:${open.port}:x`]);
  t.is(r.code, 1);
  t.regex(r.stderr, /nope\.bin.*NOT_FOUND/);
});

test('an unreachable server exits 1 with UNREACHABLE within a few seconds', async (t) => {
  const r = await runFerry(['ls', '127.0.0.1:9', '--connect-timeout', '2'], { timeoutMs: 20_000 });
  t.is(r.code, 1);
  t.regex(r.stderr, /UNREACHABLE/);
});

test('without the right secret a client can neither list, read nor write', async (t) => {
  const remote = `127.0.0.1:${secured.port}`;
  const wrong = ['--secret-file', join(dir, 'wrong.txt')];
  for (const args of [
    ['ls', remote, ...wrong],
    ['cp', join(dir, 'hello.txt'), `${remote}:h`, ...wrong],
    ['cp', `${remote}:h`, join(dir, 'out'), ...wrong],
    ['ls', remote],
  ]) {
    const r = await runFerry(args, { env: { FERRY_SECRET: '' }, timeoutMs: 30_000 });
    t.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /AUTH_FAILED|UNREACHABLE/, args.join(' '));
  }
  const ok = await runFerry([
    'cp',
    join(dir, 'hello.txt'),
    `${remote}:h`,
    '--secret-file',
    join(dir, 'secret.txt'),
  ]);
  t.is(ok.code, 0, ok.stderr);
  const env = await runFerry(['ls', remote, '--json'], { env: { FERRY_SECRET: SECRET } });
  t.is(env.code, 0, env.stderr);
  t.is((JSON.parse(env.stdout) as unknown[]).length, 1);
});

test('discover lists a loopback server that answers probes', async (t) => {
  const port = 17000 + Math.floor(Math.random() * 20000);
  const s = await startServe([
    '--memory',
    '--discovery',
    '--discovery-port',
    String(port),
    '--name',
    'disco-test',
  ]);
  t.teardown(() => s.kill());
  const r = await runFerry([
    'discover',
    '--port',
    String(port),
    '--wait',
    '1500',
    '--json',
    '--broadcast',
    '127.255.255.255',
  ]);
  t.is(r.code, 0, r.stderr);
  const found = JSON.parse(r.stdout) as Array<{ name: string; port: number }>;
  t.true(
    found.some((f) => f.name === 'disco-test' && f.port === s.port),
    r.stdout,
  );
});

test('serve stops cleanly on SIGTERM', async (t) => {
  const s = await startServe(['--memory']);
  t.is(await s.stop(), 0);
  t.regex(s.stderr(), /stopped/);
});
