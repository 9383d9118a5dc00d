import test from 'ava';
import { runFerry } from '../helpers/cli.js';

test('ferry --help lists the commands and exits 0', async (t) => {
  const r = await runFerry(['--help']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /ferry <command>/);
});

test('an unknown command is bad usage: exit 2 and one line that says what to do', async (t) => {
  const r = await runFerry(['frobnicate']);
  t.is(r.code, 2);
  t.regex(r.stderr, /ferry --help/);
  t.is(r.stderr.trim().split('\n').length, 1);
});
