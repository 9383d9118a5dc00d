/**
 * Name rules and name order, checked against slow oracles: validity against a direct reading of
 * the rule on the UTF-8 bytes (split at 0x2f), order against Buffer.compare of the encoded names.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  compareNames,
  folderOf,
  internalName,
  isHiddenName,
  isValidName,
  parentsOf,
  validateCursor,
  validateName,
  validatePrefix,
} from '../../../src/flatfs/names.js';
import { HIDDEN_PREFIX } from '../../../src/flatfs/types.js';

/** The rule, read literally on the encoded bytes. */
/** Well-formed UTF-16 survives a UTF-8 round trip; a lone surrogate turns into U+FFFD. */
function wellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

function oracleValid(name: string): boolean {
  if (!wellFormed(name)) return false;
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length < 1 || bytes.length > 1024 || bytes.includes(0x00)) return false;
  const segments: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x2f) {
      segments.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  return segments.every((seg) => {
    const text = seg.toString('latin1');
    return seg.length >= 1 && seg.length <= 255 && text !== '.' && text !== '..';
  });
}

/** Segments that hit every rule: empty, dots, long, unicode. */
const segmentLike = fc.oneof(
  fc.constantFrom('', '.', '..', '...', 'a', 'x'.repeat(255), 'x'.repeat(256), '\u00e9'.repeat(128), '\0'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const nameLike = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 140 }),
  fc.string({ unit: 'grapheme', maxLength: 90 }),
  fc.array(segmentLike, { minLength: 1, maxLength: 8 }).map((segs) => segs.join('/')),
  fc
    .array(fc.constantFrom('x'.repeat(255), 'y'.repeat(254), 'zz'), { minLength: 3, maxLength: 6 })
    .map((segs) => segs.join('/')),
  fc.constantFrom(
    '',
    '.',
    '..',
    '...',
    '/',
    'a/b',
    'a//b',
    '/a',
    'a/',
    'a/./b',
    'a/../b',
    '\0',
    'x'.repeat(255),
    'x'.repeat(256),
    '\uD800',
    '\uDFFF',
  ),
);

test('validateName accepts exactly what the rule allows', (t) => {
  fc.assert(
    fc.property(nameLike, (name) => isValidName(name) === oracleValid(name)),
    { numRuns: 2000 },
  );
  t.pass();
});

test('validateName tells what is wrong and what a valid name is', (t) => {
  const tooLong = t.throws(() => validateName('\u00e9'.repeat(128)));
  t.is((tooLong as { code?: string }).code, 'NAME_TOO_LONG');
  t.regex(tooLong.message, /segment .* is 256 UTF-8 bytes/);
  const keyTooLong = t.throws(() => validateName('abcd/'.repeat(204) + 'abcde'));
  t.is((keyTooLong as { code?: string }).code, 'NAME_TOO_LONG');
  t.regex(keyTooLong.message, /file name is 1025 UTF-8 bytes/);
  for (const [bad, why] of [
    ['', /empty/],
    ['..', /'\.\.' segment, which is reserved/],
    ['a/./b', /'\.' segment, which is reserved/],
    ['a//b', /empty segment/],
    ['/a', /starts with '\/'/],
    ['a/', /ends with '\/'/],
    ['a\0', /NUL/],
    ['\uD800', /surrogate/],
  ] as const) {
    const err = t.throws(() => validateName(bad));
    t.is((err as { code?: string }).code, 'BAD_NAME');
    t.regex(err.message, why);
    t.regex(err.message, /a valid name is 1\.\.1024 UTF-8 bytes .* each segment 1\.\.255 bytes/);
  }
  t.is((t.throws(() => validateName(7)) as { code?: string }).code, 'BAD_NAME');
});

test('compareNames orders by UTF-8 bytes', (t) => {
  const wellFormedString = fc.string({ unit: 'binary', maxLength: 12 }).filter(wellFormed);
  fc.assert(
    fc.property(wellFormedString, wellFormedString, (a, b) => {
      const expected = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      return Math.sign(compareNames(a, b)) === expected;
    }),
    { numRuns: 3000 },
  );
  t.is(compareNames('\uFFFD', '\u{1F600}'), -1, 'UTF-16 order would say the opposite');
  t.is(compareNames('ab', 'ab'), 0);
  t.true(compareNames('ab', 'abc') < 0);
});

test('hidden names are those with the prefix', (t) => {
  t.true(isHiddenName(`${HIDDEN_PREFIX}x`));
  t.true(isValidName(`${HIDDEN_PREFIX}x`));
  t.false(isHiddenName('.ferry'));
  t.false(isHiddenName(`x${HIDDEN_PREFIX}`));
});

test('prefixes and cursors: a prefix is any text a name could start with; a cursor a name or folder', (t) => {
  for (const prefix of ['', 'a', 'a/', 'a/b', '.', '..', '../', '/', 'a//'])
    t.notThrows(() => validatePrefix(prefix));
  for (const [bad, code] of [
    ['a\0', 'BAD_NAME'],
    ['\uD800', 'BAD_NAME'],
    ['x'.repeat(1025), 'NAME_TOO_LONG'],
  ] as const) {
    t.is((t.throws(() => validatePrefix(bad)) as { code?: string }).code, code);
  }
  for (const cursor of ['a', 'a/b', 'a/', 'a/b/']) t.notThrows(() => validateCursor(cursor));
  for (const cursor of ['', '/', 'a//', '../', 'a/../']) {
    t.is((t.throws(() => validateCursor(cursor)) as { code?: string }).code, 'BAD_NAME', cursor);
  }
});

test('parentsOf and folderOf split at every /', (t) => {
  t.deepEqual(parentsOf('a/b/c'), ['a', 'a/b']);
  t.deepEqual(parentsOf('a'), []);
  t.is(folderOf('a/b/c'), 'a/b/');
  t.is(folderOf('a/b/'), 'a/b/');
  t.is(folderOf('ab'), '');
});

test('internal names mirror the user tree under one hidden folder per kind', (t) => {
  t.is(internalName('part', 'photos/a.jpg'), `${HIDDEN_PREFIX}part/photos/a.jpg`);
  t.true(isHiddenName(internalName('part', 'a') ?? ''));
  const longest = `${'0'.repeat(255)}/${'1'.repeat(255)}/${'2'.repeat(255)}/${'3'.repeat(254)}/z`;
  t.true(isValidName(longest));
  t.is(internalName('part', longest), null, 'too long for the hidden tree: the caller hashes');
  // The internal names of two user names collide only when the user names do.
  t.not(internalName('part', 'a'), internalName('part', 'a.part'));
  t.false((internalName('part', 'a.part/x') ?? '').startsWith(`${internalName('part', 'a')}/`));
});
