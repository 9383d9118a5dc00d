/** `createEndpoint` picks the transport; the rest of the options and the API are the same. */
import test from 'ava';
import { createEndpoint, Endpoint, TcpEndpoint } from '../../src/index.js';

for (const transport of ['udp', 'tcp'] as const) {
  test(`createEndpoint({ transport: '${transport}' }) serves the same API, config string included`, async (t) => {
    const config = 'maxMessageBytes=1MiB,maxReassemblyBytes=4MiB,heartbeatStartMs=200';
    const a = await createEndpoint({ transport, config });
    t.teardown(() => a.close());
    const b = await createEndpoint({ transport, config });
    t.teardown(() => b.close());
    t.true(transport === 'tcp' ? a instanceof TcpEndpoint : a instanceof Endpoint);
    const got: string[] = [];
    b.onMessage((m) => void got.push(m.payload.toString()));
    const peer = await a.connect(b.address);
    await a.send(peer, Buffer.from(transport), { mode: 'fifo' }).delivered;
    t.deepEqual(got, [transport]);
    t.is(a.trySend(peer, Buffer.alloc((1 << 20) + 1)), 'MESSAGE_TOO_LARGE');
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
