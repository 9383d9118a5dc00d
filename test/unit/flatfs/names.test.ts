/**
 * Name rules and name order, checked against slow oracles: validity against a direct reading of
 * the rule on the UTF-8 bytes, order against Buffer.compare of the encoded names.
 */
import test from 'ava';
import fc from 'fast-check';
import { isHiddenName, isValidName, compareNames, validateName } from '../../../src/flatfs/names.js';
import { HIDDEN_PREFIX } from '../../../src/flatfs/types.js';

/** The rule, read literally on the encoded bytes. */
/** Well-formed UTF-16 survives a UTF-8 round trip; a lone surrogate turns into U+FFFD. */
function wellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

function oracleValid(name: string): boolean {
  if (!wellFormed(name)) return false;
  const bytes = Buffer.from(name, 'utf8');
  return (
    bytes.length >= 1 &&
    bytes.length <= 255 &&
    !bytes.includes(0x2f) &&
    !bytes.includes(0x00) &&
    name !== '.' &&
    name !== '..'
  );
}

const nameLike = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 140 }),
  fc.string({ unit: 'grapheme', maxLength: 90 }),
  fc.constantFrom(
    '',
    '.',
    '..',
    '...',
    '/',
    'a/b',
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
  t.regex(tooLong.message, /256 UTF-8 bytes/);
  for (const [bad, why] of [
    ['', /empty/],
    ['..', /reserved/],
    ['a/b', /'\/'/],
    ['a\0', /NUL/],
    ['\uD800', /surrogate/],
  ] as const) {
    const err = t.throws(() => validateName(bad));
    t.is((err as { code?: string }).code, 'BAD_NAME');
    t.regex(err.message, why);
    t.regex(err.message, /a valid name is 1\.\.255 UTF-8 bytes/);
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
