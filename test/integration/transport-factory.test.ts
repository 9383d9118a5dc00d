/**
 * `createEndpoint` picks the transport; the rest of the options and the API are the same, and both
 * transports refuse bad options with the same typed errors.
 */
import test from 'ava';
import { createEndpoint, Endpoint, TcpEndpoint } from '../../src/index.js';
import { openEndpoint, TRANSPORTS } from '../helpers/transport.js';

for (const transport of TRANSPORTS) {
  test(`createEndpoint({ transport: '${transport}' }) serves the same API, config string included`, async (t) => {
    const config = 'maxMessageBytes=1MiB,maxReassemblyBytes=4MiB,heartbeatStartMs=200';
    const a = await openEndpoint(t, transport, { config });
    const b = await openEndpoint(t, transport, { config });
    t.true(transport === 'tcp' ? a instanceof TcpEndpoint : a instanceof Endpoint);
    const got: string[] = [];
    b.onMessage((m) => void got.push(m.payload.toString()));
    const peer = await a.connect(b.address);
    await a.send(peer, Buffer.from(transport), { mode: 'fifo' }).delivered;
    t.deepEqual(got, [transport]);
    t.is(a.trySend(peer, Buffer.alloc((1 << 20) + 1)), 'MESSAGE_TOO_LARGE');
  });

  test(`${transport}: create refuses bad options with typed errors`, async (t) => {
    const create = (opts: Parameters<typeof createEndpoint>[0]): Promise<unknown> =>
      createEndpoint({ transport, impair: null, ...opts });
    await t.throwsAsync(create({ host: 'localhost' }), { code: 'INVALID_ARGUMENT' } as never);
    await t.throwsAsync(create({ port: 70000 }), { code: 'INVALID_ARGUMENT' } as never);
    await t.throwsAsync(create({ secret: '' }), { code: 'INVALID_ARGUMENT' } as never);
    await t.throwsAsync(create({ config: 'packetBytes=1' }), { code: 'INVALID_CONFIG' } as never);
    await t.throwsAsync(create({ config: 'nope=1' }), { code: 'INVALID_CONFIG' } as never);
    // too small for TCP; for UDP a setting it does not have: the same code either way
    await t.throwsAsync(create({ config: 'tcpWriteQueueBytes=1' }), { code: 'INVALID_CONFIG' } as never);
    const taken = await openEndpoint(t, transport);
    await t.throwsAsync(create({ port: taken.address.port }), { code: 'BIND_FAILED' } as never);
  });
}

test('the default transport is UDP; bad transports and impairment over TCP are refused', async (t) => {
  const a = await createEndpoint({ impair: null });
  t.teardown(() => a.close());
  t.true(a instanceof Endpoint);
  await t.throwsAsync(createEndpoint({ transport: 'sctp' as never }), { code: 'INVALID_ARGUMENT' } as never);
  await t.throwsAsync(createEndpoint({ transport: 'tcp', impair: 'loss=0.1' }), {
    code: 'INVALID_ARGUMENT',
  } as never);
  await t.throwsAsync(createEndpoint({ transport: 'udp', config: 'tcpWriteQueueBytes=1MiB' }), {
    code: 'INVALID_CONFIG',
  } as never);
});
