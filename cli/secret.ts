/**
 * Secrets of the command line: making one (`ferry keygen`), judging whether one is strong enough,
 * and the per-user secret file that keeps other local users off a loopback server.
 *
 * Why a strength check: the handshake proves knowledge of the secret with an HMAC, so whoever sees
 * one proof (a recorded handshake, or a fake server a client dials) can test guesses offline at
 * billions a second. Only a secret of 128 bits or more stays out of reach, so every secret that
 * enters the command line (--secret-file, FERRY_SECRET, the per-user file) is measured here and a
 * weaker one is refused with the command that makes a good one. There is no override: a strong
 * secret costs one `ferry keygen`, and on loopback the server makes one by itself.
 *
 * Why a per-user file: a loopback server without a secret lets every local user read and plant
 * files as the server's user. `ferry serve` on loopback therefore creates a secret in the user's
 * config folder (folder 0700, file 0600, published atomically), and clients of the same user read
 * it; other users cannot, so they cannot connect.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsc,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { FerryError } from '../src/index.js';

/** A secret must carry at least this many bits (estimated by `estimateSecretBits`). */
export const SECRET_MIN_BITS = 128;
/** Random bytes in a `ferry keygen` secret (256 bits: twice the minimum). */
export const KEYGEN_SECRET_BYTES = 32;
/** What a `ferry keygen` secret starts with, so one is recognised at a glance and by the check. */
export const KEYGEN_PREFIX = 'ferry-';
/** Bits one word of a passphrase counts for: a word drawn from a 7,776-word (Diceware) list. */
export const PASSPHRASE_WORD_BITS = 13;
/** A secret file larger than this is refused unread (a secret is one short line). */
export const SECRET_FILE_MAX_BYTES = 4096;

/** base64url of KEYGEN_SECRET_BYTES bytes, unpadded: 43 characters. */
const KEYGEN_RE = /^ferry-[A-Za-z0-9_-]{43}$/;

/** A new secret: KEYGEN_SECRET_BYTES random bytes as `ferry-` + base64url, one line. */
export function generateSecret(): string {
  return KEYGEN_PREFIX + randomBytes(KEYGEN_SECRET_BYTES).toString('base64url');
}

/** True when `text` has the exact form `ferry keygen` prints. */
export function isKeygenSecret(text: string): boolean {
  return KEYGEN_RE.test(text);
}

/**
 * A conservative estimate of the bits of guessing a secret takes.
 *
 * The rule (README "Security" documents it): a `ferry keygen` secret counts its 256 random bits.
 * Otherwise each character counts log2 of the size of the character classes the secret uses
 * (digits 10; hex digits of one case 16, also when split by `-`, `:` or spaces, which then count
 * nothing; lower case 26; upper case 26; other ASCII 33; anything else 64), except that a repeated
 * block counts once and a run or ±1 sequence (`aaaa`, `abcd`, `4321`) counts its first three
 * characters only; a secret of few distinct characters counts at most what guessing those
 * characters and then each position among them takes; and a passphrase of words (letters only,
 * split by spaces, `-`, `_` or `.`) counts PASSPHRASE_WORD_BITS per word at most.
 */
export function estimateSecretBits(text: string): number {
  if (isKeygenSecret(text)) return KEYGEN_SECRET_BYTES * 8;
  const compact = text.replace(/[-:\s]/g, '');
  const hex = compact !== '' && (/^[0-9a-f]+$/.test(compact) || /^[0-9A-F]+$/.test(compact));
  const chars = Array.from(hex ? compact : text);
  if (chars.length === 0) return 0;
  const unit = chars.slice(0, repeatPeriod(chars));
  const perCharBits = Math.log2(poolSize(chars));
  const effective = effectiveLength(unit);
  const distinct = new Set(chars).size;
  const fewCharsBits = distinct * perCharBits + effective * Math.log2(distinct);
  let bits = Math.min(effective * perCharBits, fewCharsBits);
  const words = text.split(/[\s._-]+/).filter((w) => w !== '');
  if (words.length >= 2 && words.every((w) => /^\p{L}+$/u.test(w))) {
    bits = Math.min(bits, words.length * PASSPHRASE_WORD_BITS);
  }
  return Math.floor(bits);
}

/** The size of the character classes `chars` draws from. */
function poolSize(chars: readonly string[]): number {
  const all = (re: RegExp): boolean => chars.every((c) => re.test(c));
  if (all(/^[0-9]$/)) return 10;
  if (all(/^[0-9a-f]$/) || all(/^[0-9A-F]$/)) return 16;
  const any = (re: RegExp): boolean => chars.some((c) => re.test(c));
  let pool = 0;
  if (any(/^[0-9]$/)) pool += 10;
  if (any(/^[a-z]$/)) pool += 26;
  if (any(/^[A-Z]$/)) pool += 26;
  if (any(/^[\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/)) pool += 33;
  if (any(/^[^\x20-\x7e]$/)) pool += 64;
  return pool;
}

/** The shortest p such that `chars` repeats its first p characters (the whole length when none). */
function repeatPeriod(chars: readonly string[]): number {
  for (let p = 1; p <= chars.length >> 1; p++) {
    let repeats = true;
    for (let i = p; i < chars.length && repeats; i++) repeats = chars[i] === chars[i - p];
    if (repeats) return p;
  }
  return chars.length;
}

/**
 * Characters that count: in a run or ±1 sequence, the fourth character on counts nothing (a
 * random string has such a run of four at a position about once in 1,400 for hex, so a random
 * secret is almost never marked down).
 */
function effectiveLength(chars: readonly string[]): number {
  let n = 0;
  let prevCode = 0;
  let prevDelta = Number.NaN;
  let streak = 0;
  for (let i = 0; i < chars.length; i++) {
    const code = chars[i]!.codePointAt(0)!;
    if (i >= 1) {
      const delta = code - prevCode;
      const small = Math.abs(delta) <= 1;
      streak = small && delta === prevDelta ? streak + 1 : small ? 1 : 0;
      prevDelta = delta;
    }
    if (streak < 3) n++;
    prevCode = code;
  }
  return n;
}

/**
 * Throws WEAK_SECRET when `secret` carries fewer than SECRET_MIN_BITS; `from` names where it came
 * from (`--secret-file a.txt`, `FERRY_SECRET`) for the message.
 */
export function checkSecretStrength(secret: string, from: string): void {
  const bits = estimateSecretBits(secret);
  if (bits >= SECRET_MIN_BITS) return;
  throw new FerryError(
    'WEAK_SECRET',
    `the secret in ${from} is about ${bits} bits, below the ${SECRET_MIN_BITS} a secret needs: make one with \`ferry keygen --out FILE\` and give both sides --secret-file FILE`,
    { bits, minBits: SECRET_MIN_BITS },
  );
}

/** Where the per-user secret lives: $XDG_CONFIG_HOME/ferry/secret, else ~/.config/ferry/secret. */
export function userSecretPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config');
  return join(base, 'ferry', 'secret');
}

/** The secret text of a file's contents: one line, its line end dropped. */
export function secretFromText(text: string): string {
  return text.replace(/\r?\n$/, '');
}

function myUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

function unsafe(path: string, why: string): FerryError {
  return new FerryError(
    'UNSAFE_SECRET_FILE',
    `${path} ${why}: another local user could read or replace the secret; remove it (ferry serve makes a new one) or fix it with chmod 600 and chown to you`,
    { path },
  );
}

/**
 * Reads the per-user secret file, or returns null when there is none. Refuses (UNSAFE_SECRET_FILE)
 * a file that is not a regular file, is owned by another user, or is readable or writable by the
 * group or others; a weak secret in it is refused too (WEAK_SECRET).
 */
export function readUserSecret(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw unsafe(path, 'is a symbolic link');
    throw new FerryError(
      'NO_SECRET',
      `no secret: cannot read ${path} (${code ?? (err as Error).message}): it belongs to another user; pass --secret-file`,
      { path },
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw unsafe(path, 'is not a regular file');
    const uid = myUid();
    if (uid !== null && st.uid !== uid) throw unsafe(path, `is owned by uid ${st.uid}, not by you (${uid})`);
    if ((st.mode & 0o077) !== 0)
      throw unsafe(path, `has mode ${(st.mode & 0o777).toString(8)}, open to the group or others`);
    if (st.size > SECRET_FILE_MAX_BYTES) throw unsafe(path, `is ${st.size} bytes, not a secret`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    const secret = secretFromText(buf.subarray(0, got).toString('utf8'));
    checkSecretStrength(secret, path);
    return secret;
  } finally {
    closeSync(fd);
  }
}

/** Creates the folder of the per-user secret (0700) and refuses one another user owns or may write. */
function ensureSecretFolder(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = myUid();
  if (!st.isDirectory()) throw unsafe(dir, 'is not a folder');
  if (uid !== null && st.uid !== uid) throw unsafe(dir, `is owned by uid ${st.uid}, not by you (${uid})`);
  if ((st.mode & 0o022) !== 0)
    throw unsafe(dir, `has mode ${(st.mode & 0o777).toString(8)}, writable by the group or others`);
}

/**
 * The per-user secret, created when missing: a `ferry keygen` secret written 0600 to a temporary
 * name opened with O_EXCL, then published with link(2), which fails rather than replace a file
 * another process published first (then that one is used). Readers never see a half-written file.
 */
export function loadOrCreateUserSecret(path: string): { secret: string; created: boolean } {
  const existing = readUserSecret(path);
  if (existing !== null) return { secret: existing, created: false };
  ensureSecretFolder(path);
  const secret = generateSecret();
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, secret + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const other = readUserSecret(path);
    if (other !== null) return { secret: other, created: false };
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  return { secret, created: true };
}
