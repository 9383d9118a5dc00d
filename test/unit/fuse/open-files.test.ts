import test from 'ava';
import { OpenFiles, isFuseHiddenName } from '../../../src/fuse/open-files.js';

test('handles are positive, distinct, and the table refuses more than its limit with 0', (t) => {
  const files = new OpenFiles(3);
  const a = files.add(10, 'a');
  const b = files.add(11, 'a');
  const c = files.add(12, 'b');
  t.deepEqual(new Set([a, b, c]).size, 3);
  t.true([a, b, c].every((fh) => fh > 0));
  t.is(files.add(13, 'c'), 0);
  t.is(files.remove(b)?.backend, 11);
  t.true(files.add(13, 'c') > 0);
  t.is(files.get(b), undefined);
});

test('names follow renames; hidden files answer only to their hidden name', (t) => {
  const files = new OpenFiles(10);
  const a1 = files.add(1, 'a');
  files.add(2, 'a');
  files.renamed('a', 'b');
  t.is(files.findByName('a'), undefined);
  t.is(files.findByName('b')?.name, 'b');
  files.hide('b', '.fuse_hidden0000000000000001');
  t.is(files.findByName('b'), undefined);
  const hidden = files.findByName('.fuse_hidden0000000000000001');
  t.true(hidden?.unlinked);
  // A later rename of the old name does not move an unlinked file.
  files.renamed('.fuse_hidden0000000000000001', 'c');
  t.is(files.findByName('c'), undefined);
  files.remove(a1);
  t.is(files.size, 1);
  t.deepEqual(files.backendHandles(), [2]);
  files.clear();
  t.is(files.size, 0);
  t.is(files.findByName('.fuse_hidden0000000000000001'), undefined);
});

test('libfuse hidden names are recognised exactly', (t) => {
  t.true(isFuseHiddenName('.fuse_hidden00000001000000a2'));
  t.false(isFuseHiddenName('.fuse_hidden'));
  t.false(isFuseHiddenName('x.fuse_hidden00000001000000a2'));
  t.false(isFuseHiddenName('.fuse_hidden00000001000000a2x'));
});
