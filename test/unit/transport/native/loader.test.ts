// The native addon loader: a missing or wrong file is reported, never thrown; FERRY_SOCKET picks the
// implementation and refuses `native` without the addon; the addon's limits equal the TypeScript ones.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';

import { isFerryError } from '../../../../src/core/errors.js';
import {
  defaultAddonPath,
  loadNativeUdp,
  nativeUdpStatus,
  selectSocketKind,
  type NativeUdpStatus,
} from '../../../../src/transport/native/addon.js';
import { NATIVE_UDP_LIMITS } from '../../../../src/transport/native/native-limits.js';
import { nativeOrFallback } from '../../../integration/native-helpers.js';

const missing: NativeUdpStatus = {
  available: false,
  reason: 'not built',
  gso: false,
  gro: false,
  path: '/x',
};
const present: NativeUdpStatus = { available: true, gso: true, gro: true, path: '/x' };

test('a missing addon file is reported as unavailable with the path and the fix', (t) => {
  const file = path.join(tmpdir(), 'ferry-no-such-dir', 'ferry_udp.node');
  const { addon, status } = loadNativeUdp(file);
  t.is(addon, null);
  t.false(status.available);
  t.false(status.gso);
  t.false(status.gro);
  t.regex(status.reason!, /ferry-no-such-dir.*does not exist.*build-native/);
});

test('a file that is not a loadable addon is reported, not thrown', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ferry-native-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ferry_udp.node');
  writeFileSync(file, 'not an ELF file');
  const { addon, status } = loadNativeUdp(file);
  t.is(addon, null);
  t.false(status.available);
  t.regex(status.reason!, /failed to load/);
});

test('FERRY_NATIVE_ADDON overrides where the addon is looked for', (t) => {
  t.is(defaultAddonPath({ FERRY_NATIVE_ADDON: '/tmp/elsewhere.node' }), '/tmp/elsewhere.node');
  t.regex(defaultAddonPath({}), /build\/Release\/ferry_udp\.node$/);
});

test('FERRY_SOCKET: unset picks native when available, js otherwise; js is always allowed', (t) => {
  t.is(
    selectSocketKind({}, () => present),
    'native',
  );
  t.is(
    selectSocketKind({}, () => missing),
    'js',
  );
  t.is(
    selectSocketKind({ FERRY_SOCKET: 'js' }, () => present),
    'js',
  );
  t.is(
    selectSocketKind({ FERRY_SOCKET: 'native' }, () => present),
    'native',
  );
});

test('FERRY_SOCKET=native without the addon is an error that says why and what to do', (t) => {
  const err = t.throws(() => selectSocketKind({ FERRY_SOCKET: 'native' }, () => missing));
  t.true(isFerryError(err, 'NOT_SUPPORTED'));
  t.regex(err.message, /FERRY_SOCKET=native.*not built.*FERRY_SOCKET=js/);
  const bad = t.throws(() => selectSocketKind({ FERRY_SOCKET: 'fast' }, () => present));
  t.true(isFerryError(bad, 'INVALID_CONFIG'));
});

test('the process-wide status is loaded once and agrees with FERRY_NATIVE_ADDON', (t) => {
  t.is(nativeUdpStatus(), nativeUdpStatus());
  if (process.env.FERRY_NATIVE_ADDON)
    t.is(nativeUdpStatus().path, path.resolve(process.env.FERRY_NATIVE_ADDON));
});

test("the addon's compiled-in limits equal NATIVE_UDP_LIMITS", (t) => {
  if (!nativeOrFallback(t)) return;
  const { addon } = loadNativeUdp();
  t.deepEqual({ ...addon!.limits }, { ...NATIVE_UDP_LIMITS });
});
