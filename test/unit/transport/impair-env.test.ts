/**
 * FERRY_IMPAIR is never silent and never impairs a server on a real network: a warning on stderr for
 * every endpoint it impairs, refused (INSECURE_BIND) on a non-loopback bind, and shown in stats with
 * its source. Impairment asked for in code is taken as given, quietly.
 */
import test from 'ava';
import { systemClock } from '../../../src/core/clock.js';
import { endpointImpairment } from '../../../src/transport/impair/endpoint-impairment.js';
import { Impairment } from '../../../src/transport/impair/impairment.js';
import { endpoint } from '../../helpers/transport.js';

const ENV = { FERRY_IMPAIR: 'loss=0.05,seed=7' };

test('FERRY_IMPAIR on loopback: impairs, and warns on stderr every time an endpoint takes it', (t) => {
  const lines: string[] = [];
  for (const host of ['127.0.0.1', '::1']) {
    const imp = endpointImpairment(undefined, host, systemClock, ENV, (l) => lines.push(l));
    t.truthy(imp);
    t.is(imp!.source, 'FERRY_IMPAIR');
    t.is(imp!.config.loss, 0.05);
    imp!.close();
  }
  t.is(lines.length, 2);
  t.regex(lines[0]!, /FERRY_IMPAIR=loss=0\.05,seed=7 is set: the endpoint on 127\.0\.0\.1 drops/);
});

test('FERRY_IMPAIR on a non-loopback bind is refused with INSECURE_BIND', (t) => {
  for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
    t.throws(() => endpointImpairment(undefined, host, systemClock, ENV, () => t.fail('warned')), {
      code: 'INSECURE_BIND',
      message: /unset FERRY_IMPAIR/,
    } as never);
  }
});

test('the impair option wins over FERRY_IMPAIR, quietly; null switches impairment off', (t) => {
  const warn = (): void => t.fail('warned');
  t.is(endpointImpairment(null, '0.0.0.0', systemClock, ENV, warn), null);
  const given = new Impairment('dup=0.1', systemClock);
  t.is(endpointImpairment(given, '127.0.0.1', systemClock, ENV, warn), given);
  t.is(given.source, 'option');
  given.close();
  t.is(endpointImpairment(undefined, '127.0.0.1', systemClock, {}, warn), null);
});

test('an impaired endpoint says so in its stats and its text stats', async (t) => {
  const ep = await endpoint(t, { impair: 'loss=0.01,seed=3' });
  t.is(ep.stats().impairment?.source, 'option');
  t.is(ep.stats().impairment?.seed, 3);
  t.regex(ep.formatStats(), /IMPAIRED \(option, seed 3\)/);
  const plain = await endpoint(t);
  t.is(plain.stats().impairment, undefined);
});
