import test from 'ava';
import { isFerryError } from '../../../src/core/errors.js';
import { formatHostPort, isLoopbackHost, parseHostPort } from '../../../src/transport/impair/address.js';

test('parseHostPort reads IPv4, bracketed IPv6 and localhost', (t) => {
  t.deepEqual(parseHostPort('127.0.0.1:9000', 'x'), { host: '127.0.0.1', port: 9000, family: 'udp4' });
  t.deepEqual(parseHostPort('[::1]:53', 'x'), { host: '::1', port: 53, family: 'udp6' });
  t.deepEqual(parseHostPort('localhost:1', 'x'), { host: '127.0.0.1', port: 1, family: 'udp4' });
  t.is(parseHostPort('127.0.0.1:0', 'x', true).port, 0);
});

test('parseHostPort refuses what it cannot forward to, saying what to write', (t) => {
  const cases: [string, RegExp][] = [
    ['127.0.0.1', /HOST:PORT/],
    ['127.0.0.1:', /HOST:PORT/],
    ['::1:9000', /HOST:PORT|brackets/],
    ['example.org:9', /IP address/],
    ['127.0.0.1:0', /PORT must be from 1/],
    ['127.0.0.1:70000', /PORT must be from 1/],
    ['[127.0.0.1:9', /HOST:PORT/],
  ];
  for (const [text, pattern] of cases) {
    const err = t.throws(() => parseHostPort(text, 'target address'), undefined, text);
    t.true(isFerryError(err, 'INVALID_ARGUMENT'), text);
    t.regex(err!.message, pattern, text);
  }
});

test('isLoopbackHost knows 127.0.0.0/8, ::1 and IPv4-mapped loopback, and nothing else', (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1'])
    t.true(isLoopbackHost(h), h);
  for (const h of ['10.0.0.1', '128.0.0.1', '0.0.0.0', '::', '::2', 'fe80::1', 'localhost', '']) {
    t.false(isLoopbackHost(h), h);
  }
});

test('formatHostPort brackets IPv6', (t) => {
  t.is(formatHostPort({ host: '::1', port: 5 }), '[::1]:5');
  t.is(formatHostPort({ host: '127.0.0.1', port: 5 }), '127.0.0.1:5');
});
