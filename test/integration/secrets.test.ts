/**
 * Secrets at the command line, end to end against real `ferry serve` processes on loopback:
 * `ferry keygen`; a wrong, weak or missing secret exits 1 with a message that says what to do
 * (refused by the handshake or a local check, never by a timeout); `ferry serve` on loopback makes a per-user secret that clients of the same user find and
 * another local user (nobody, uid 65534) cannot use; `--no-encrypt` is refused off loopback.
 *
 * The commands run the compiled CLI (bin/ferry.js over dist/, built here when older than the
 * sources).
 * Every ferry process here gets the test's own XDG_CONFIG_HOME (test/helpers/cli.ts).
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateSecret } from '../../cli/secret.js';
import { REPO_ROOT, TEST_CONFIG_HOME } from '../helpers/cli.js';
import { startServe, type ServeProcess } from '../helpers/server-process.js';

const NOBODY = 65534;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const BIN = join(REPO_ROOT, 'bin', 'ferry.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled `ferry ARGS` (as another user with `as`). */
function ferry(args: string[], opts: { env?: NodeJS.ProcessEnv; as?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.as === undefined ? REPO_ROOT : '/',
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.as !== undefined ? { uid: opts.as, gid: opts.as } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The newest modification time of the .ts files under `dir` (recursive). */
function newestTs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function distIsFresh(): boolean {
  try {
    const built = statSync(join(REPO_ROOT, 'dist', 'cli', 'main.js')).mtimeMs;
    return built >= Math.max(newestTs(join(REPO_ROOT, 'cli')), newestTs(join(REPO_ROOT, 'src')));
  } catch {
    return false;
  }
}

let dir = '';
let secretA = '';
let secretB = '';
let weak = '';
let server: ServeProcess;

test.before(async () => {
  if (!distIsFresh()) {
    await promisify(execFile)(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
      {
        cwd: REPO_ROOT,
      },
    );
  }
  dir = await mkdtemp(join(tmpdir(), 'ferry-secrets-'));
  secretA = join(dir, 'a.secret');
  secretB = join(dir, 'b.secret');
  weak = join(dir, 'weak.secret');
  await writeFile(secretA, generateSecret() + '\n', { mode: 0o600 });
  await writeFile(secretB, generateSecret() + '\n', { mode: 0o600 });
  await writeFile(weak, 'hunter2\n', { mode: 0o600 });
  server = await startServe(['--memory', '--secret-file', secretA]);
});

test.after.always(async () => {
  await server?.kill();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A connect timeout far longer than any refusal may take: a refused command that waited for the
 * network instead of being told would end UNREACHABLE after it, not with the refusal's code.
 */
const PATIENT = ['--connect-timeout', '30'];

/**
 * Runs `ferry ARGS` and checks it is refused: exit 1, one line naming `code` and saying `what`.
 * Commands that dial get PATIENT, so the refusal's code shows it came from the handshake (a REJECT
 * or a local check), not from waiting out a timeout; the 2 s the issue asks for is measured in the
 * closing note, not asserted here (timing is for benchmarks).
 */
async function refused(
  t: ExecutionContext,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv },
  code: RegExp,
  what: RegExp,
): Promise<void> {
  const label = args.join(' ');
  const dials = args[0] !== 'serve';
  const r = await ferry(dials ? [...args, ...PATIENT] : args, opts);
  t.is(r.code, 1, `${label}: ${r.stderr}`);
  t.regex(r.stderr, code, label);
  t.regex(r.stderr, what, label);
  t.is(r.stderr.trim().split('\n').length, 1, `${label}: one line: ${r.stderr}`);
}

test('ferry keygen prints a secret, or writes it 0600 and never over an existing file unless --force', async (t) => {
  const printed = await ferry(['keygen']);
  t.is(printed.code, 0, printed.stderr);
  t.regex(printed.stdout, /^ferry-[A-Za-z0-9_-]{43}\n$/);
  const out = join(dir, 'made.secret');
  const made = await ferry(['keygen', '--out', out]);
  t.is(made.code, 0, made.stderr);
  t.is((await stat(out)).mode & 0o777, 0o600);
  const first = await readFile(out, 'utf8');
  t.regex(first, /^ferry-[A-Za-z0-9_-]{43}\n$/);
  const again = await ferry(['keygen', '--out', out]);
  t.is(again.code, 1);
  t.regex(again.stderr, /exists: keep it, or pass --force.*\[EXISTS\]/);
  t.is(await readFile(out, 'utf8'), first, 'the existing secret is untouched');
  const forced = await ferry(['keygen', '--out', out, '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.not(await readFile(out, 'utf8'), first);
  t.is((await stat(out)).mode & 0o777, 0o600);
  const served = await ferry(['ls', `127.0.0.1:${server.port}`, '--secret-file', secretA]);
  t.is(served.code, 0, `a keygen secret is accepted: ${served.stderr}`);
});

test.serial('a wrong secret exits 1 at once, saying to pass the server secret', async (t) => {
  await refused(
    t,
    ['ls', `127.0.0.1:${server.port}`, '--secret-file', secretB],
    {},
    /\[AUTH_FAILED\]/,
    /the secret from --secret-file .*b\.secret is not its secret; pass --secret-file/,
  );
});

test.serial('a weak secret exits 1 at serve and at cp, saying to run ferry keygen', async (t) => {
  const fix = /about \d+ bits, below the 128 a secret needs: make one with `ferry keygen --out FILE`/;
  const weakCode = /\[WEAK_SECRET\]/;
  await refused(
    t,
    ['serve', '--memory', '--listen', '127.0.0.1:0', '--secret-file', weak],
    {},
    weakCode,
    fix,
  );
  const src = join(dir, 'up.txt');
  await writeFile(src, 'data\n');
  const to = `127.0.0.1:${server.port}:up.txt`;
  await refused(t, ['cp', src, to, '--secret-file', weak], {}, weakCode, fix);
  const passphrase = { env: { FERRY_SECRET: 'correct horse battery staple' } };
  await refused(t, ['cp', src, to], passphrase, weakCode, /the secret in FERRY_SECRET is about/);
  const short = { env: { FERRY_SECRET: 'hunter2hunter2' } };
  await refused(t, ['serve', '--memory', '--listen', '127.0.0.1:0'], short, weakCode, fix);
});

test.serial('serve on loopback without a secret makes a per-user one that the same user finds', async (t) => {
  const config = await mkdtemp(join(tmpdir(), 'ferry-secrets-config-'));
  t.teardown(() => rm(config, { recursive: true, force: true }));
  const env = { XDG_CONFIG_HOME: config };
  await refused(
    t,
    ['ls', '127.0.0.1:9'],
    { env },
    /\[NO_SECRET\]/,
    new RegExp(`the server's user keeps it in ${config}/ferry/secret; pass --secret-file`),
  );
  const s = await startServe(['--memory'], { env });
  t.teardown(() => s.kill());
  const path = join(config, 'ferry', 'secret');
  t.regex(s.stderr(), new RegExp(`made a secret in ${path}`));
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.is((await stat(join(config, 'ferry'))).mode & 0o777, 0o700);
  const made = await readFile(path, 'utf8');
  t.regex(made, /^ferry-[A-Za-z0-9_-]{43}\n$/);
  const ls = await ferry(['ls', `127.0.0.1:${s.port}`, '--json'], { env });
  t.is(ls.code, 0, ls.stderr);
  await refused(
    t,
    ['ls', `127.0.0.1:${s.port}`, '--insecure'],
    { env },
    /\[AUTH_FAILED\]/,
    /it has a secret; pass --secret-file/,
  );
  const second = await startServe(['--memory'], { env });
  t.teardown(() => second.kill());
  t.regex(second.stderr(), /secret from .*ferry\/secret/);
  t.is(await readFile(path, 'utf8'), made, 'a second server reuses the secret');
  chmodSync(path, 0o644);
  const unsafe = /\[UNSAFE_SECRET_FILE\]/;
  await refused(t, ['ls', `127.0.0.1:${s.port}`], { env }, unsafe, /mode 644, open to the group or others/);
  await refused(t, ['serve', '--memory', '--listen', '127.0.0.1:0'], { env }, unsafe, /chmod 600/);
});

test.serial('serve --insecure on loopback makes no secret and clients dial it with --insecure', async (t) => {
  const config = await mkdtemp(join(tmpdir(), 'ferry-secrets-config-'));
  t.teardown(() => rm(config, { recursive: true, force: true }));
  const env = { XDG_CONFIG_HOME: config };
  const s = await startServe(['--memory', '--insecure'], { env });
  t.teardown(() => s.kill());
  t.deepEqual(readdirSync(config), [], 'no secret made');
  const ls = await ferry(['ls', `127.0.0.1:${s.port}`, '--insecure'], { env });
  t.is(ls.code, 0, ls.stderr);
});

test('another local user cannot use a loopback server: no secret, its own, or --insecure', async (t) => {
  if (!isRoot) {
    t.log('skipped: needs root to run a client as nobody (uid 65534)');
    t.pass();
    return;
  }
  // The server of this file keeps its secret in TEST_CONFIG_HOME (0700, root's): nobody cannot
  // read it, and it is nobody's HOME and config folder too.
  const s = await startServe(['--memory']);
  t.teardown(() => s.kill());
  const up = await ferry(['cp', join(REPO_ROOT, 'package.json'), `127.0.0.1:${s.port}:private.json`]);
  t.is(up.code, 0, `the server's own user copies in: ${up.stderr}`);
  const env = { HOME: TEST_CONFIG_HOME, XDG_CONFIG_HOME: TEST_CONFIG_HOME, FERRY_SECRET: '' };
  const remote = `127.0.0.1:${s.port}`;
  const tries: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    ['no secret', ['ls', remote], env, /cannot read .*EACCES.*pass --secret-file \[NO_SECRET\]/],
    ['--insecure', ['ls', remote, '--insecure'], env, /AUTH_FAILED/],
    ['its own secret', ['ls', remote], { ...env, FERRY_SECRET: generateSecret() }, /AUTH_FAILED/],
    ['download', ['cp', `${remote}:private.json`, '-', '--insecure'], env, /AUTH_FAILED/],
  ];
  for (const [label, args, e, expect] of tries) {
    const r = await ferry(args, { env: e, as: NOBODY });
    t.is(r.code, 1, `${label}: ${r.stderr}`);
    t.regex(r.stderr, expect, label);
    t.notRegex(r.stdout, /private\.json|"name"/, `${label}: nothing listed or read`);
  }
});

test('--no-encrypt is refused (exit 2) on a non-loopback address, and works on loopback', async (t) => {
  const off = /--no-encrypt is for benchmarks only and is refused on the non-loopback/;
  for (const args of [
    ['serve', '--memory', '--listen', '0.0.0.0:0', '--no-encrypt', '--secret-file', secretA],
    ['ls', '192.0.2.1:7733', '--no-encrypt', '--secret-file', secretA],
    ['cp', join(dir, 'a.secret'), '192.0.2.1:7733:x', '--no-encrypt', '--secret-file', secretA],
    ['stat', '192.0.2.1:7733:x', '--no-encrypt'],
    ['bench', 'fs', '--remote', 'ferry://192.0.2.1:7733', '--no-encrypt', '--smoke'],
  ]) {
    const r = await ferry(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, off, args.join(' '));
  }
  const help = await ferry(['cp', '--help']);
  t.regex(help.stdout.replace(/\s+/g, ' '), /for benchmarks only; refused on a non-loopback address/);
  const s = await startServe(['--memory', '--no-encrypt', '--secret-file', secretA]);
  t.teardown(() => s.kill());
  const ls = await ferry(['ls', `127.0.0.1:${s.port}`, '--no-encrypt', '--secret-file', secretA]);
  t.is(ls.code, 0, ls.stderr);
});
