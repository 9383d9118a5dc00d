import test from 'ava';
import {
  readConfig,
  parseBytes,
  parseDurationMs,
  parseKeyValues,
  type Schema,
} from '../../../src/core/config.js';
import { isFerryError } from '../../../src/core/errors.js';

const schema = {
  packetBytes: { kind: 'bytes', default: 1452, min: 1200, max: 65507, doc: 'packet size' },
  ackDelayMs: { kind: 'ms', default: 5, min: 0, max: 1000, doc: 'ack delay' },
  loss: { kind: 'number', default: 0, min: 0, max: 1, doc: 'loss' },
  insecure: { kind: 'bool', default: false, doc: 'allow' },
  mode: { kind: 'string', default: 'fifo', values: ['fifo', 'unordered'], doc: 'mode' },
} as const satisfies Schema;

test('defaults, object and key=value input', (t) => {
  t.deepEqual(
    { ...readConfig(schema, undefined) },
    { packetBytes: 1452, ackDelayMs: 5, loss: 0, insecure: false, mode: 'fifo' },
  );
  const c = readConfig(schema, 'packetBytes=8KiB, ackDelayMs=1s,loss=0.05,insecure=true,mode=unordered');
  t.is(c.packetBytes, 8192);
  t.is(c.ackDelayMs, 1000);
  t.is(c.loss, 0.05);
  t.true(c.insecure);
  t.is(c.mode, 'unordered');
  t.true(Object.isFrozen(c));
  t.is(readConfig(schema, { packetBytes: 2000 }).packetBytes, 2000);
});

test('bad values name the key and the allowed range', (t) => {
  const e1 = t.throws(() => readConfig(schema, 'packetBytes=100'));
  t.true(isFerryError(e1, 'INVALID_CONFIG'));
  t.regex(e1!.message, /packetBytes.*1200 to 65507/);
  const e2 = t.throws(() => readConfig(schema, 'nope=1'));
  t.regex(e2!.message, /unknown setting "nope".*packetBytes/);
  t.throws(() => readConfig(schema, 'mode=lifo'), { message: /one of fifo, unordered/ });
  t.throws(() => readConfig(schema, 'insecure=maybe'), { message: /true or false/ });
  t.throws(() => readConfig(schema, 'ackDelayMs=1.5'), { message: /whole number/ });
  t.throws(() => parseKeyValues('a=1,b'), { message: /expected key=value/ });
});

test('unit parsers', (t) => {
  t.is(parseBytes('64MiB'), 64 * 1024 * 1024);
  t.is(parseBytes('1G'), 1024 ** 3);
  t.is(parseBytes('10MB'), 10_000_000);
  t.true(Number.isNaN(parseBytes('ten')));
  t.is(parseDurationMs('2s'), 2000);
  t.is(parseDurationMs('15'), 15);
  t.is(parseDurationMs('90m'), 90 * 60_000);
  t.is(parseDurationMs('2h'), 2 * 3_600_000, 'hours, for --part-ttl 24h');
  t.is(parseDurationMs('7d'), 7 * 86_400_000);
  t.true(Number.isNaN(parseDurationMs('2w')));
  t.true(Number.isNaN(parseDurationMs('h')));
});
