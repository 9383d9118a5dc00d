/**
 * The reassembly memory attacks from a peer that holds a real session (test/helpers/memory-attack.ts),
 * at an endpoint with `encrypt: false` (hand-made packets): 40 first fragments of 64 MiB messages all
 * claiming the next FIFO number, then 200 packets of 20 fragment records each. Afterwards the
 * endpoint's charged memory is within its cap, it still serves a real client, and when the attacker
 * leaves every byte is given back.
 */
import test from 'ava';
import v8 from 'node:v8';
import vm from 'node:vm';
import { MiB } from '../../src/core/limits.js';
import { attackDatagrams, sendAll } from '../helpers/memory-attack.js';
import { hijackSession } from '../helpers/raw-udp.js';
import { endpoint, until } from '../helpers/transport.js';

const PLAIN = { encrypt: false, socket: 'js' as const };

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const CAP_BYTES = 512 * MiB;

test.serial(
  'udp: 40 huge first fragments on one FIFO number and 200 packets of 20 fragment records: memory within the cap, the endpoint serves on',
  async (t) => {
    const server = await endpoint(t, { ...PLAIN, config: `maxReceiveMemoryBytes=${CAP_BYTES}` });
    const got: Buffer[] = [];
    server.onMessage((m) => void got.push(Buffer.from(m.payload)));
    const attacker = await endpoint(t, PLAIN);
    await attacker.connect(server.address);
    await until(() => server.peers().length === 1 && server.peers()[0]!.state === 'connected');
    const { socket, remoteConnectionId } = hijackSession(attacker);

    await sendAll(socket, attackDatagrams('one-record', 40, remoteConnectionId, 1000, 1), server.address);
    await until(() => server.stats().packetsReceived >= 40, 200);
    const afterFirst = server.memoryStats().reassemblyBytes;
    t.true(afterFirst <= CAP_BYTES, `40 packets charged ${afterFirst} bytes`);

    await sendAll(
      socket,
      attackDatagrams('many-records', 200, remoteConnectionId, 2000, 100),
      server.address,
    );
    await until(() => server.stats().dropped.malformed >= 200, 200);
    const mem = server.memoryStats();
    t.true(mem.reassemblyBytes <= CAP_BYTES, `charged ${mem.reassemblyBytes} bytes`);
    t.true(mem.receiveMemoryBytes <= CAP_BYTES, `endpoint charged ${mem.receiveMemoryBytes} bytes`);
    t.true(server.stats().dropped.malformed >= 200, 'a packet of many fragment records is malformed');
    t.is(server.stats().receiveMemory?.capBytes, CAP_BYTES);

    // a real client still exchanges messages, FIFO and large ones included
    const client = await endpoint(t, PLAIN);
    const peer = await client.connect(server.address);
    const payloads = [Buffer.alloc(10, 1), Buffer.alloc(100_000, 2), Buffer.alloc(1 << 20, 3)];
    await Promise.all(payloads.map((p) => client.send(peer, p, { mode: 'fifo' }).delivered));
    t.is(got.length, payloads.length);
    t.true(got.every((g, i) => g.equals(payloads[i]!)));

    // the attacker leaves (its CLOSE still goes out): everything it held is given back
    await attacker.close();
    t.true(await until(() => server.memoryStats().receiveMemoryBytes === 0, 500), 'memory back to 0');
  },
);

test.serial(
  'udp: sessions that come and go leave no buffers behind (an ended session is kept as its info only)',
  async (t) => {
    const server = await endpoint(t, PLAIN);
    server.onMessage(() => {});
    const client = await endpoint(t, PLAIN);
    const arrayBuffers = (): number => {
      gc();
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const before = arrayBuffers();
    for (let i = 0; i < 20; i++) {
      const peer = await client.connect(server.address);
      await client.send(peer, Buffer.alloc(10)).delivered;
      await client.disconnect(peer);
    }
    t.true(await until(() => server.peers().length === 0));
    t.is(server.peers({ includeInactive: true }).length, 20, 'ended sessions are still listed');
    const grownBytes = arrayBuffers() - before;
    // a session's windows and packet log are about 1.5 MB on each side: 20 kept would be 60 MB
    t.true(grownBytes < 8 * MiB, `arrayBuffers grew by ${grownBytes} bytes over 20 ended sessions`);
  },
);
