/**
 * Discovery answers only where the server's endpoint listens, never with more bytes than the probe,
 * and within per-source and overall rate limits (a forged probe flood is no reflector). Probes come
 * from plain sockets; the responder's clock is a ManualClock, so the limits count within one window
 * whatever the machine's speed.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { ManualClock } from '../../src/core/clock.js';
import { TRANSFER_LIMITS } from '../../src/core/limits.js';
import { DiscoveryResponder } from '../../src/transfer/discovery.js';
import {
  decodeDiscovery,
  DISCOVERY_HEADER_BYTES,
  DISCOVERY_PROBE,
  encodeDiscovery,
  encodeProbe,
} from '../../src/wire/transfer/index.js';

const BROADCAST = '127.255.255.255';
const NAME = 'a server with a rather long name, ' + 'x'.repeat(150);

async function responder(
  t: import('ava').ExecutionContext,
  clock = new ManualClock(1000),
): Promise<{ port: number; r: DiscoveryResponder }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const r = await DiscoveryResponder.start({
    host: '127.0.0.1',
    port,
    serverPort: 4242,
    serverName: NAME,
    needsSecret: false,
    readOnly: false,
    clock,
  });
  t.teardown(() => r.close());
  return { port, r };
}

async function prober(
  t: import('ava').ExecutionContext,
  host = '127.0.0.1',
): Promise<{ s: dgram.Socket; got: Buffer[] }> {
  const s = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())));
  await new Promise<void>((resolve) => s.bind(0, host, resolve));
  s.setBroadcast(true);
  return { s, got };
}

const send = (s: dgram.Socket, d: Buffer, port: number, host: string): Promise<void> =>
  new Promise((resolve) => s.send(d, port, host, () => resolve()));

/** Waits until `r` has heard `n` probes (answers are sent synchronously when a probe is handled). */
async function heard(r: DiscoveryResponder, n: number): Promise<void> {
  for (let i = 0; i < 500 && r.stats().probes + r.stats().ignored < n; i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 50)); // the answers' way back
}

test('a loopback server answers on loopback only', async (t) => {
  const { port, r } = await responder(t);
  t.is(r.listenAddress, '127.255.255.255');
  const { s, got } = await prober(t);
  await send(s, encodeProbe(7n), port, BROADCAST);
  await heard(r, 1);
  t.is(got.length, 1);
  t.is(decodeDiscovery(got[0]!)?.name, NAME, 'a padded probe gets the whole name');
  // the same probe sent to this machine's non-loopback address is not heard
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!external) {
    t.log('no non-loopback IPv4 interface: the off-loopback half is skipped');
    return;
  }
  const outside = await prober(t, external);
  await send(outside.s, encodeProbe(8n), port, external);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(outside.got.length, 0, `no answer to a probe sent to ${external}`);
});

test('an answer is never larger than its probe', async (t) => {
  const { port, r } = await responder(t);
  const { s, got } = await prober(t);
  const bare = encodeDiscovery({ kind: DISCOVERY_PROBE, port: 0, nonce: 9n, flags: 0, name: '' });
  const probes = [
    bare,
    encodeDiscovery({ kind: DISCOVERY_PROBE, port: 0, nonce: 10n, flags: 0, name: 'abc' }),
    encodeProbe(11n),
  ];
  for (const p of probes) await send(s, p, port, BROADCAST);
  await heard(r, probes.length);
  t.is(got.length, probes.length);
  for (const a of got) {
    const d = decodeDiscovery(a)!;
    const probe = probes.find((p) => decodeDiscovery(p)!.nonce === d.nonce)!;
    t.true(a.length <= probe.length, `answer ${a.length} B to a ${probe.length}-byte probe`);
    t.is(d.port, 4242);
  }
  t.is(got.find((a) => decodeDiscovery(a)!.nonce === 9n)!.length, DISCOVERY_HEADER_BYTES);
});

test('answers are rate-limited per source and overall', async (t) => {
  const { port, r } = await responder(t);
  const one = await prober(t);
  for (let i = 0; i < 20; i++) await send(one.s, encodeProbe(BigInt(i)), port, BROADCAST);
  await heard(r, 20);
  t.is(one.got.length, TRANSFER_LIMITS.DISCOVERY_ANSWERS_PER_SOURCE_PER_SEC, 'one source');

  // many sources (loopback has 2^24 addresses): the overall limit holds
  const sources: { s: dgram.Socket; got: Buffer[] }[] = [];
  for (let i = 0; i < 40; i++) sources.push(await prober(t, `127.0.${1 + (i >> 8)}.${1 + (i & 0xff)}`));
  for (const src of sources)
    for (let i = 0; i < 3; i++) await send(src.s, encodeProbe(BigInt(i)), port, BROADCAST);
  await heard(r, 20 + 120);
  const total = one.got.length + sources.reduce((n, src) => n + src.got.length, 0);
  t.is(total, TRANSFER_LIMITS.DISCOVERY_ANSWERS_PER_SEC);
  t.is(r.stats().answered, TRANSFER_LIMITS.DISCOVERY_ANSWERS_PER_SEC);
  t.is(r.stats().rateLimited, 140 - TRANSFER_LIMITS.DISCOVERY_ANSWERS_PER_SEC);
});
