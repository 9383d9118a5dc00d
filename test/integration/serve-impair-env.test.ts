/**
 * `ferry serve` under FERRY_IMPAIR: on loopback it serves and says on stderr that it is impaired; on
 * a non-loopback address it refuses to start.
 */
import test from 'ava';
import { generateSecret } from '../../cli/secret.js';
import { runFerry } from '../helpers/cli.js';
import { startServe } from '../helpers/server-process.js';

const IMPAIR = { FERRY_IMPAIR: 'loss=0.01,seed=5' };

test('ferry serve on loopback with FERRY_IMPAIR warns on stderr', async (t) => {
  const server = await startServe(['--memory'], { env: IMPAIR });
  t.teardown(() => server.kill());
  t.regex(server.stderr(), /warning: FERRY_IMPAIR=loss=0\.01,seed=5 is set/);
});

test('ferry serve on a non-loopback address with FERRY_IMPAIR refuses to start', async (t) => {
  const secret = generateSecret(); // a weak one would be refused before the impairment is looked at
  const r = await runFerry(['serve', '--memory', '--no-discovery', '--listen', '0.0.0.0:0'], {
    env: { ...IMPAIR, FERRY_SECRET: secret },
    timeoutMs: 30_000,
  });
  t.not(r.code, 0);
  t.regex(r.stderr, /FERRY_IMPAIR=loss=0\.01,seed=5 would drop, delay or corrupt/);
});
