import test from 'ava';
import dgram from 'node:dgram';
import { Endpoint } from '../../src/transport/endpoint.js';
import { encodePacket } from '../../src/wire/packet-codec.js';
import { PacketType } from '../../src/wire/packet-layout.js';
import { encodeHello } from '../../src/wire/control-bodies.js';

const QUICK = 'handshakeTimeoutMs=1500';

async function server(
  t: import('ava').ExecutionContext,
  secret?: string,
): Promise<{ ep: Endpoint; got: Buffer[] }> {
  const ep = await Endpoint.create({ secret, impair: null, config: QUICK });
  t.teardown(() => ep.close());
  const got: Buffer[] = [];
  ep.onMessage((m) => void got.push(Buffer.from(m.payload)));
  return { ep, got };
}

test('a peer with the wrong secret fails with AUTH_FAILED and gets nothing delivered', async (t) => {
  const { ep, got } = await server(t, 'right');
  const client = await Endpoint.create({ secret: 'wrong', impair: null, config: QUICK });
  t.teardown(() => client.close());
  await t.throwsAsync(client.connect(ep.address), { code: 'AUTH_FAILED' } as never);
  t.deepEqual(ep.peers(), []);
  t.deepEqual(got, []);
});

test('a peer without a secret cannot talk to an endpoint that has one', async (t) => {
  const { ep, got } = await server(t, 'right');
  const client = await Endpoint.create({ impair: null, config: QUICK });
  t.teardown(() => client.close());
  await t.throwsAsync(client.connect(ep.address), { code: 'AUTH_FAILED' } as never);
  t.deepEqual(got, []);
  t.is(ep.peers().length, 0);
});

test('the same secret connects; the session is listed with its ids', async (t) => {
  const { ep, got } = await server(t, 'right');
  const client = await Endpoint.create({ secret: Buffer.from('right'), impair: null });
  t.teardown(() => client.close());
  const peer = await client.connect(ep.address);
  await client.send(peer, Buffer.from('hi')).delivered;
  t.deepEqual(got.map(String), ['hi']);
  const [info] = client.peers();
  t.is(info!.state, 'connected');
  t.true(info!.pinned);
  t.regex(info!.localConnectionId, /^[0-9a-f]{16}$/);
  t.is(ep.peers()[0]!.remoteConnectionId, info!.localConnectionId);
});

test('forged packets from an unauthenticated socket are dropped and counted; nothing is delivered', async (t) => {
  const { ep, got } = await server(t, 'right');
  const raw = dgram.createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => raw.close(() => resolve())));
  await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
  const send = (b: Buffer): Promise<void> =>
    new Promise((resolve) => raw.send(b, ep.address.port, '127.0.0.1', () => resolve()));
  let resets = 0;
  // DATA for sessions that do not exist
  for (let i = 1; i <= 50; i++) {
    await send(
      encodePacket({
        type: PacketType.DATA,
        connectionId: BigInt(i) * 0x1_0000_0001n,
        packetNumber: i,
        payload: Buffer.from('evil'),
        data: {
          messageSeq: 1,
          fifoSeq: 0,
          messageLength: 4,
          fragmentOffset: 0,
          fragmentIndex: 0,
          fragmentCount: 1,
        },
      }),
    );
  }
  // a HELLO, then a CONFIRM with a made-up proof for whatever id the server picked
  const hello = encodeHello({
    sourceConnectionId: 77n,
    incarnation: 1,
    nonce: Buffer.alloc(16),
    maxPacketBytes: 1452,
  });
  const challenge = new Promise<Buffer>((resolve) =>
    raw.on('message', (m) => {
      if (m[3] === PacketType.CHALLENGE) resolve(m);
      if (m[3] === PacketType.RESET) resets++;
    }),
  );
  await send(encodePacket({ type: PacketType.HELLO, connectionId: 0n, payload: hello }));
  const serverId = (await challenge).readBigUInt64BE(48);
  await send(
    encodePacket({ type: PacketType.CONFIRM, connectionId: serverId, payload: Buffer.alloc(32, 1) }),
  );
  await send(
    encodePacket({
      type: PacketType.DATA,
      connectionId: serverId,
      packetNumber: 1,
      payload: Buffer.from('evil'),
      data: {
        messageSeq: 1,
        fifoSeq: 0,
        messageLength: 4,
        fragmentOffset: 0,
        fragmentIndex: 0,
        fragmentCount: 1,
      },
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const dropped = ep.stats().dropped;
  t.is(dropped.unknownSession, 50);
  t.is(dropped.unauthenticated, 2, 'the bad CONFIRM and the DATA for the half-open handshake');
  t.deepEqual(got, []);
  t.is(ep.peers().length, 0);
  t.true(resets > 0, 'a peer that believes in a session we do not have is told so (RESET)');
});

test('binding a non-loopback address without a secret is refused unless insecure', async (t) => {
  await t.throwsAsync(Endpoint.create({ host: '0.0.0.0', impair: null }), { code: 'INSECURE_BIND' } as never);
  await t.throwsAsync(Endpoint.create({ host: 'localhost' }), { code: 'INVALID_ARGUMENT' } as never);
  await t.throwsAsync(Endpoint.create({ secret: '' }), { code: 'INVALID_ARGUMENT' } as never);
  await t.throwsAsync(Endpoint.create({ config: 'packetBytes=1' }), { code: 'INVALID_CONFIG' } as never);
});
