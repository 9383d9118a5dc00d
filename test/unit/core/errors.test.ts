import test from 'ava';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, FerryError, ferryError, isFerryError } from '../../../src/core/errors.js';

test('docs/errors.md lists exactly the codes of ERROR_CODES', (t) => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
  t.deepEqual(documented, Object.keys(ERROR_CODES).sort());
});

test('FerryError carries code, default message and details', (t) => {
  const e = ferryError('NOT_FOUND', undefined, { name: 'x' });
  t.true(e instanceof FerryError);
  t.true(e instanceof Error);
  t.is(e.code, 'NOT_FOUND');
  t.is(e.message, ERROR_CODES.NOT_FOUND);
  t.deepEqual(e.toJSON(), { code: 'NOT_FOUND', message: ERROR_CODES.NOT_FOUND, details: { name: 'x' } });
  t.true(isFerryError(e, 'NOT_FOUND'));
  t.false(isFerryError(e, 'EXISTS'));
  t.false(isFerryError(new Error('x')));
});
