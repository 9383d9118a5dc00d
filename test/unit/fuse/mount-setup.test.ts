/**
 * The parts of mounting that need no mount: the `-o` option string, settings, the mount table
 * parser, and the check for /dev/fuse.
 */
import test from 'ava';
import { checkFuseAvailable, readFuseMountConfig } from '../../../src/index.js';
import { fuseOptionString, type NativeMountOptions } from '../../../src/fuse/native.js';
import { parseMountInfo } from '../../../src/fuse/mount-table.js';

const BASE: NativeMountOptions = {
  fsName: 'ferry',
  subtype: 'ferry',
  readOnly: false,
  maxWriteBytes: 131072,
  maxReadBytes: 131072,
  maxReadaheadBytes: 131072,
  attrTimeoutMs: 1000,
  entryTimeoutMs: 250,
  allowOther: false,
  debug: false,
};

test('the -o string carries big writes, the I/O sizes and the cache timeouts in seconds', (t) => {
  const opts = fuseOptionString(BASE).replace(/^-o/, '').split(',');
  for (const o of ['big_writes', 'max_write=131072', 'max_read=131072', 'max_readahead=131072']) {
    t.true(opts.includes(o), o);
  }
  t.true(opts.includes('attr_timeout=1'));
  t.true(opts.includes('entry_timeout=0.25'));
  t.false(opts.includes('ro'));
});

test('zero timeouts are passed (fuse-native would drop them), ro and allow_other when asked', (t) => {
  const opts = fuseOptionString({
    ...BASE,
    attrTimeoutMs: 0,
    entryTimeoutMs: 0,
    readOnly: true,
    allowOther: true,
  })
    .slice(2)
    .split(',');
  t.true(opts.includes('attr_timeout=0'));
  t.true(opts.includes('entry_timeout=0'));
  t.true(opts.includes('ro'));
  t.true(opts.includes('allow_other'));
  t.true(opts.includes('default_permissions'), 'allow_other always comes with default_permissions');
});

test('without allow_other no default_permissions is needed (only the owner reaches the mount)', (t) => {
  const opts = fuseOptionString(BASE).slice(2).split(',');
  t.false(opts.includes('allow_other'));
});

test('an fsname cannot inject options', (t) => {
  const s = fuseOptionString({ ...BASE, fsName: 'a,allow_other=1 x' });
  t.false(s.slice(2).split(',').includes('allow_other=1 x'));
  t.regex(s, /fsname=a_allow_other_1_x/);
});

test('mount settings: defaults, units, and errors that name the fix', (t) => {
  const c = readFuseMountConfig(undefined);
  t.is(c.attrTimeoutMs, 1000);
  t.is(c.entryTimeoutMs, 1000);
  t.is(c.maxIoBytes, 131072);
  t.is(readFuseMountConfig({ attrTimeoutMs: '2s' }).attrTimeoutMs, 2000);
  t.is(readFuseMountConfig('opTimeoutMs=250ms,readOnly=true').opTimeoutMs, 250);
  t.throws(() => readFuseMountConfig({ maxIoBytes: '1MiB' }), { code: 'INVALID_CONFIG', message: /131072/ });
  t.throws(() => readFuseMountConfig({ opTimeoutMs: '1ms' }), { code: 'INVALID_CONFIG' });
  t.throws(() => readFuseMountConfig('nope=1'), { code: 'INVALID_CONFIG', message: /attrTimeoutMs/ });
});

test('mountinfo: mountpoint with escaped spaces, fuse type, device minor, ro flag', (t) => {
  const text =
    '22 27 0:21 / /proc rw,relatime - proc proc rw\n' +
    '80 27 0:45 / /tmp/a\\040b ro,nosuid,nodev,relatime - fuse.ferry ferry rw,user_id=0,group_id=0\n';
  const e = parseMountInfo(text);
  t.is(e.length, 2);
  t.deepEqual(e[1], {
    mountpoint: '/tmp/a b',
    fsType: 'fuse.ferry',
    source: 'ferry',
    deviceMinor: 45,
    readOnly: true,
  });
  t.false(e[0]!.readOnly);
});

test('no FUSE device is FUSE_UNAVAILABLE with what to do', (t) => {
  t.throws(() => checkFuseAvailable('/nonexistent/fuse'), {
    code: 'FUSE_UNAVAILABLE',
    message: /apt-get install/,
  });
  t.notThrows(() => checkFuseAvailable('/dev/null'));
});
