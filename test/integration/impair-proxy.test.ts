import test, { type ExecutionContext } from 'ava';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../src/core/clock.js';
import { isFerryError } from '../../src/core/errors.js';
import { ImpairProxy, type ImpairProxyOptions } from '../../src/proxy/index.js';

async function udpSocket(t: ExecutionContext, type: 'udp4' | 'udp6' = 'udp4'): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())));
  await new Promise<void>((resolve) => s.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
  return s;
}

/** An echo server and a proxy in front of it, both closed in teardown. */
async function setup(
  t: ExecutionContext,
  options: Partial<ImpairProxyOptions> = {},
  type: 'udp4' | 'udp6' = 'udp4',
): Promise<{ proxy: ImpairProxy; server: dgram.Socket; serverGot: string[] }> {
  const server = await udpSocket(t, type);
  const serverGot: string[] = [];
  server.on('message', (msg, rinfo) => {
    serverGot.push(msg.toString());
    server.send(msg, rinfo.port, rinfo.address);
  });
  const host = type === 'udp4' ? '127.0.0.1' : '[::1]';
  const proxy = await ImpairProxy.create({
    listen: `${host}:0`,
    to: `${host}:${server.address().port}`,
    ...options,
  });
  t.teardown(() => proxy.close());
  return { proxy, server, serverGot };
}

/** Sends one datagram and waits (bounded) for `expect` answers in `got`. */
async function exchange(
  client: dgram.Socket,
  proxy: ImpairProxy,
  got: string[],
  text: string,
  expect: number,
) {
  client.send(text, proxy.listenAddress.port, proxy.listenAddress.host);
  for (let i = 0; i < 100 && got.length < expect; i++) await sleep(10);
}

function collect(socket: dgram.Socket): string[] {
  const got: string[] = [];
  socket.on('message', (msg) => got.push(msg.toString()));
  return got;
}

test('beyond maxClients, datagrams from new clients are dropped and counted', async (t) => {
  const { proxy } = await setup(t, { maxClients: 1 });
  const a = await udpSocket(t);
  const b = await udpSocket(t);
  const gotA = collect(a);
  const gotB = collect(b);
  await exchange(a, proxy, gotA, 'a1', 1);
  await exchange(b, proxy, gotB, 'b1', 1);
  await exchange(a, proxy, gotA, 'a2', 2);
  t.deepEqual(gotA, ['a1', 'a2']);
  t.deepEqual(gotB, []);
  t.like(proxy.stats(), { clientsActive: 1, clientsTotal: 1, clientsRefused: 1 });
});

test('an idle client mapping expires and a returning client gets a new one', async (t) => {
  const clock = new ManualClock();
  const { proxy } = await setup(t, { clock, clientIdleMs: 1000 });
  const a = await udpSocket(t);
  const got = collect(a);
  await exchange(a, proxy, got, 'first', 1);
  clock.advance(600);
  t.is(proxy.stats().clientsActive, 1, 'not idle long enough yet');
  clock.advance(1000);
  t.like(proxy.stats(), { clientsActive: 0, clientsExpired: 1 });
  await exchange(a, proxy, got, 'again', 2);
  t.deepEqual(got, ['first', 'again']);
  t.like(proxy.stats(), { clientsActive: 1, clientsTotal: 2 });
});

test('direction limits impairment to one way', async (t) => {
  const up = await setup(t, { direction: 'up', impairment: { loss: 1, seed: 1 } });
  const down = await setup(t, { direction: 'down', impairment: { loss: 1, seed: 1 } });
  const c1 = await udpSocket(t);
  const c2 = await udpSocket(t);
  const got1 = collect(c1);
  const got2 = collect(c2);
  await exchange(c1, up.proxy, got1, 'x', 1);
  await exchange(c2, down.proxy, got2, 'y', 1);
  t.deepEqual(up.serverGot, [], 'up: everything lost on the way to the target');
  t.deepEqual(down.serverGot, ['y'], 'down: the target gets it');
  t.deepEqual(got2, [], 'down: the reply is lost');
  t.is(up.proxy.stats().down, null);
  t.is(down.proxy.stats().up, null);
  t.is(down.proxy.stats().down?.droppedLoss, 1);
});

test('the two directions get distinct seeds derived from the one given', async (t) => {
  const { proxy } = await setup(t, { impairment: 'seed=42' });
  const s = proxy.stats();
  t.is(s.up?.seed, 42);
  t.not(s.down?.seed, 42);
});

test('IPv6 loopback works', async (t) => {
  const { proxy } = await setup(t, {}, 'udp6');
  const c = await udpSocket(t, 'udp6');
  const got = collect(c);
  await exchange(c, proxy, got, 'six', 1);
  t.deepEqual(got, ['six']);
});

test('non-loopback addresses are refused without insecure; a taken port is BIND_FAILED', async (t) => {
  const err = await t.throwsAsync(ImpairProxy.create({ listen: '127.0.0.1:0', to: '192.0.2.1:9' }));
  t.true(isFerryError(err, 'NOT_LOOPBACK'), String(err));
  const err2 = await t.throwsAsync(ImpairProxy.create({ listen: '0.0.0.0:0', to: '127.0.0.1:9' }));
  t.true(isFerryError(err2, 'NOT_LOOPBACK'), String(err2));
  const taken = await udpSocket(t);
  const err3 = await t.throwsAsync(
    ImpairProxy.create({ listen: `127.0.0.1:${taken.address().port}`, to: '127.0.0.1:9' }),
  );
  t.true(isFerryError(err3, 'BIND_FAILED'), String(err3));
});
