/**
 * cli/secret.ts: the keygen form, the strength estimate (weak forms refused, random ones of 128
 * bits and more accepted) and the per-user secret file (made 0600 in a 0700 folder, reused, and
 * refused when another user could read or replace it).
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkSecretStrength,
  estimateSecretBits,
  generateSecret,
  isKeygenSecret,
  loadOrCreateUserSecret,
  readUserSecret,
  SECRET_MIN_BITS,
  userSecretPath,
} from '../../../cli/secret.js';
import { isFerryError } from '../../../src/index.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-secret-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('keygen secrets: ferry- + 43 base64url characters, 256 bits, never the same twice', (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const s = generateSecret();
    t.regex(s, /^ferry-[A-Za-z0-9_-]{43}$/);
    t.true(isKeygenSecret(s));
    t.is(estimateSecretBits(s), 256);
    seen.add(s);
  }
  t.is(seen.size, 100);
});

test('weak secrets are estimated below 128 bits', (t) => {
  for (const weak of [
    'hunter2',
    'correct horse battery staple',
    'correct-horse-battery-staple-and-more',
    'Tr0ub4dor&3',
    'a'.repeat(200),
    '0'.repeat(64),
    'abcdefghijklmnopqrstuvwxyz'.repeat(4),
    '1234567890'.repeat(8),
    'password123'.repeat(6),
    'ac'.repeat(40),
    randomBytes(8).toString('hex'),
    'ferry-short',
  ]) {
    t.true(estimateSecretBits(weak) < SECRET_MIN_BITS, `${weak}: ${estimateSecretBits(weak)}`);
  }
});

test('random secrets of 128 bits and more pass', (t) => {
  for (let i = 0; i < 20; i++) {
    for (const strong of [
      randomBytes(32).toString('hex'),
      randomBytes(24).toString('hex'),
      randomBytes(24).toString('base64'),
      randomBytes(32).toString('base64url'),
    ]) {
      t.true(estimateSecretBits(strong) >= SECRET_MIN_BITS, `${strong}: ${estimateSecretBits(strong)}`);
    }
  }
});

test('checkSecretStrength names the bits, the minimum and ferry keygen', (t) => {
  t.notThrows(() => checkSecretStrength(generateSecret(), 'FERRY_SECRET'));
  const err = t.throws(() => checkSecretStrength('hunter2', '--secret-file a.txt'));
  t.true(isFerryError(err, 'WEAK_SECRET'));
  t.regex(err!.message, /--secret-file a\.txt is about \d+ bits, below the 128/);
  t.regex(err!.message, /ferry keygen --out FILE/);
});

test('userSecretPath: $XDG_CONFIG_HOME/ferry/secret, else ~/.config/ferry/secret', (t) => {
  t.is(userSecretPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' }), '/x/cfg/ferry/secret');
  t.is(userSecretPath({ HOME: '/home/u' }), '/home/u/.config/ferry/secret');
  t.is(
    userSecretPath({ XDG_CONFIG_HOME: 'relative', HOME: '/home/u' }),
    '/home/u/.config/ferry/secret',
    'a relative XDG_CONFIG_HOME is ignored, as the XDG spec says',
  );
});

test('the per-user secret is made 0600 in a 0700 folder, then reused', (t) => {
  const path = join(tempDir(t), 'cfg', 'ferry', 'secret');
  t.is(readUserSecret(path), null, 'none yet');
  const first = loadOrCreateUserSecret(path);
  t.true(first.created);
  t.true(isKeygenSecret(first.secret));
  t.is(statSync(path).mode & 0o777, 0o600);
  t.is(statSync(join(path, '..')).mode & 0o777, 0o700);
  const again = loadOrCreateUserSecret(path);
  t.false(again.created);
  t.is(again.secret, first.secret);
  t.is(readUserSecret(path), first.secret);
});

test('an existing per-user secret is never replaced', (t) => {
  const dir = join(tempDir(t), 'ferry');
  mkdirSync(dir, { mode: 0o700 });
  const mine = randomBytes(32).toString('hex');
  writeFileSync(join(dir, 'secret'), mine + '\n', { mode: 0o600 });
  t.deepEqual(loadOrCreateUserSecret(join(dir, 'secret')), { secret: mine, created: false });
});

test('a per-user secret open to others, a symlink or a weak one is refused', (t) => {
  const dir = join(tempDir(t), 'ferry');
  mkdirSync(dir, { mode: 0o700 });
  const path = join(dir, 'secret');
  writeFileSync(path, generateSecret() + '\n', { mode: 0o600 });
  chmodSync(path, 0o644);
  let err = t.throws(() => readUserSecret(path));
  t.true(isFerryError(err, 'UNSAFE_SECRET_FILE'), String(err));
  t.regex(err!.message, /mode 644/);
  t.throws(() => loadOrCreateUserSecret(path), { message: /mode 644/ }, 'serve refuses it too');
  chmodSync(path, 0o600);
  const link = join(dir, 'link');
  symlinkSync(path, link);
  err = t.throws(() => readUserSecret(link));
  t.true(isFerryError(err, 'UNSAFE_SECRET_FILE'), String(err));
  writeFileSync(path, 'hunter2\n', { mode: 0o600 });
  err = t.throws(() => readUserSecret(path));
  t.true(isFerryError(err, 'WEAK_SECRET'), String(err));
});

test('a per-user secret owned by another user is refused', (t) => {
  if (!isRoot) {
    t.log('skipped: needs root to chown a file to another user');
    t.pass();
    return;
  }
  const dir = join(tempDir(t), 'ferry');
  mkdirSync(dir, { mode: 0o700 });
  const path = join(dir, 'secret');
  writeFileSync(path, generateSecret() + '\n', { mode: 0o600 });
  chownSync(path, 65534, 65534);
  const err = t.throws(() => readUserSecret(path));
  t.true(isFerryError(err, 'UNSAFE_SECRET_FILE'), String(err));
  t.regex(err!.message, /owned by uid 65534/);
  chownSync(path, 0, 0);
  chmodSync(dir, 0o777);
  t.throws(() => loadOrCreateUserSecret(join(dir, 'other')), { message: /writable by the group or others/ });
});
