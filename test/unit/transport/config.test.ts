import test from 'ava';
import { readFileSync } from 'node:fs';
import { readTransportConfig, TRANSPORT_SCHEMA } from '../../../src/transport/config.js';

test('defaults match DESIGN: 1452-byte packets, 64 MiB messages, dead within 3 heartbeat intervals', (t) => {
  const c = readTransportConfig(undefined);
  t.is(c.packetBytes, 1452);
  t.is(c.maxMessageBytes, 64 * 1024 * 1024);
  t.true(c.heartbeatTimeoutMs <= 3 * c.heartbeatIntervalMs);
  t.true(Object.isFrozen(c));
});

test('key=value strings with units are read; unknown keys and bad values name the fix', (t) => {
  const c = readTransportConfig('packetBytes=9000,maxMessageBytes=1MiB,ackDelayMs=2ms,heartbeatTimeoutMs=5s');
  t.is(c.packetBytes, 9000);
  t.is(c.maxMessageBytes, 1024 * 1024);
  t.is(c.ackDelayMs, 2);
  t.is(c.heartbeatTimeoutMs, 5000);
  t.throws(() => readTransportConfig('packetSize=9000'), { message: /unknown setting "packetSize"/ });
  t.throws(() => readTransportConfig({ packetBytes: 70_000 }), { message: /packetBytes.*1200 to 65507/ });
  t.throws(() => readTransportConfig({ minRtoMs: 500, maxRtoMs: 100 }), { message: /minRtoMs/ });
  t.throws(() => readTransportConfig({ heartbeatIntervalMs: 5000, heartbeatTimeoutMs: 1000 }), {
    message: /heartbeatTimeoutMs/,
  });
  t.throws(() => readTransportConfig({ maxMessageBytes: '1GiB' }), { message: /maxReassemblyBytes/ });
});

test('every setting is documented', (t) => {
  for (const [key, s] of Object.entries(TRANSPORT_SCHEMA)) t.true(s.doc.length > 10, key);
});

test('docs/protocol.md lists every setting with its default', (t) => {
  const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
  for (const [key, s] of Object.entries(TRANSPORT_SCHEMA)) {
    t.regex(doc, new RegExp(`^\\| \`${key}\` \\| ${s.kind} \\| ${String(s.default)} \\|`, 'm'), key);
  }
});
