import test from 'ava';
import { readTcpConfig, TCP_ONLY_SCHEMA, TCP_SCHEMA } from '../../../src/transport/tcp/tcp-config.js';
import { TRANSPORT_SCHEMA } from '../../../src/transport/config.js';

test('defaults: every UDP setting plus the TCP ones', (t) => {
  const c = readTcpConfig(undefined);
  for (const [key, s] of Object.entries(TCP_SCHEMA)) t.is(c[key as keyof typeof c], s.default, key);
  t.deepEqual(
    Object.keys(TCP_SCHEMA).sort(),
    [...Object.keys(TRANSPORT_SCHEMA), ...Object.keys(TCP_ONLY_SCHEMA)].sort(),
  );
  t.true(Object.isFrozen(c));
});

test('one config string serves both transports; TCP settings take units', (t) => {
  const c = readTcpConfig(
    'maxMessageBytes=1MiB,maxReassemblyBytes=2MiB,packetBytes=9000,tcpWriteQueueBytes=1MiB',
  );
  t.is(c.maxMessageBytes, 1 << 20);
  t.is(c.packetBytes, 9000);
  t.is(c.tcpWriteQueueBytes, 1 << 20);
  t.is(readTcpConfig({ heartbeatTimeoutMs: 5000 }).heartbeatTimeoutMs, 5000);
});

test('bad values, unknown keys and the shared cross-field rules are refused with INVALID_CONFIG', (t) => {
  for (const bad of [
    'tcpWriteQueueBytes=1',
    'tcpWriteQueueBytes=lots',
    'nope=1',
    'heartbeatIntervalMs=2000,heartbeatTimeoutMs=1000',
    'maxMessageBytes=2MiB,maxReassemblyBytes=1MiB',
  ]) {
    t.throws(() => readTcpConfig(bad), { code: 'INVALID_CONFIG' } as never, bad);
  }
  const err = t.throws(() => readTcpConfig('heartbeatIntervalMs=2000,heartbeatTimeoutMs=1000'));
  t.regex(err!.message, /heartbeatTimeoutMs/);
});

test('every TCP-only setting has a line of doc', (t) => {
  for (const [key, s] of Object.entries(TCP_ONLY_SCHEMA)) t.true(s.doc.length > 10, key);
});
