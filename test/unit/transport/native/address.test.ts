// Native socket addresses: destinations parse to the words the addon reads, and source words format
// back to the canonical text (RFC 5952 for IPv6), checked against Node's own parser.
import { isIPv6 } from 'node:net';

import test from 'ava';
import fc from 'fast-check';

import { isFerryError } from '../../../../src/core/errors.js';
import { formatIPv6, parseDestination, SourceCache } from '../../../../src/transport/native/address.js';
import { FLAG_IPV6 } from '../../../../src/transport/native/native-limits.js';

function bytesOf(words: Uint32Array): number[] {
  return [...new Uint8Array(words.buffer, 4, 16)];
}

test('IPv4 destination: port in the low 16 bits, address bytes in network order', (t) => {
  const d = parseDestination('10.1.2.3', 4433, 4);
  t.is(d.words[0], 4433);
  t.deepEqual(bytesOf(d.words).slice(0, 4), [10, 1, 2, 3]);
});

test('IPv6 destination, and IPv4 on an IPv6 socket becomes IPv4-mapped', (t) => {
  const d = parseDestination('2001:db8::1:0:5', 9, 6);
  t.is(d.words[0], 9 | FLAG_IPV6);
  t.deepEqual(bytesOf(d.words), [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5]);
  const m = parseDestination('127.0.0.1', 9, 6);
  t.deepEqual(bytesOf(m.words), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
  t.deepEqual(bytesOf(parseDestination('::ffff:1.2.3.4', 9, 6).words).slice(10), [0xff, 0xff, 1, 2, 3, 4]);
});

test('bad destinations are refused with INVALID_ARGUMENT', (t) => {
  for (const [host, port, family] of [
    ['localhost', 9, 4],
    ['::1', 9, 4],
    ['fe80::1%lo', 9, 6],
    ['127.0.0.1', 0, 4],
    ['127.0.0.1', 65536, 4],
    ['127.0.0.1', 1.5, 4],
  ] as const) {
    const err = t.throws(() => parseDestination(host, port, family));
    t.true(isFerryError(err, 'INVALID_ARGUMENT'), `${host}:${port}`);
  }
});

test('formatIPv6 writes the canonical forms', (t) => {
  const fmt = (host: string): string =>
    formatIPv6(new Uint8Array(parseDestination(host, 1, 6).words.buffer), 4);
  t.is(fmt('::1'), '::1');
  t.is(fmt('::'), '::');
  t.is(fmt('2001:0db8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
  t.is(fmt('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  t.is(fmt('fe80::'), 'fe80::');
  t.is(fmt('::ffff:127.0.0.1'), '::ffff:127.0.0.1');
});

test('any 16 bytes format to a valid IPv6 literal that parses back to the same bytes', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const text = formatIPv6(bytes, 0);
      if (!isIPv6(text)) return false;
      return bytesOf(parseDestination(text, 1, 6).words).every((b, i) => b === bytes[i]);
    }),
  );
  t.pass();
});

test('SourceCache: the same source returns the same object; a new source evicts round-robin', (t) => {
  const cache = new SourceCache(2);
  const meta = new Uint32Array(5);
  const put = (host: string, port: number): void => meta.set(parseDestination(host, port, 6).words);
  put('::1', 1000);
  const a = cache.lookup(meta, 0);
  t.deepEqual({ ...a }, { host: '::1', port: 1000, family: 6 });
  t.is(cache.lookup(meta, 0), a);
  put('127.0.0.1', 1000);
  const v4 = new Uint32Array(5);
  v4.set(parseDestination('127.0.0.1', 1000, 4).words);
  t.deepEqual({ ...cache.lookup(v4, 0) }, { host: '127.0.0.1', port: 1000, family: 4 });
  put('::1', 1000);
  t.is(cache.lookup(meta, 0), a, 'still cached with two entries');
  put('::2', 1);
  cache.lookup(meta, 0);
  put('::1', 1000);
  t.not(cache.lookup(meta, 0), a, 'evicted by the third source');
});
