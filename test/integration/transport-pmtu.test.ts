/**
 * Path-MTU probing over loopback: the impairment layer's `mtu` plays a path that carries less than
 * loopback's 65507 bytes, and `setMtu` shrinks and grows it while a session runs.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { systemClock } from '../../src/core/clock.js';
import { Impairment } from '../../src/transport/impair/impairment.js';
import { endpoint, SOCKETS, statsOf, testFor, until } from '../helpers/transport.js';

const BIG = 'packetBytes=65507,sendPoolBytes=16MiB';

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

for (const socket of SOCKETS) {
  const on = socket === 'js' ? '' : `${socket} socket: `;

  testFor(test, socket)(
    on + 'a path that carries 9000 bytes: the session settles within the granularity below 9000',
    async (t) => {
      const path = new Impairment('mtu=9000', systemClock);
      const receiver = await endpoint(t, { socket, config: BIG, impair: path });
      const sender = await endpoint(t, { socket, config: BIG });
      const got: Buffer[] = [];
      receiver.onMessage((m) => void got.push(Buffer.from(m.payload)));
      const peer = await sender.connect(receiver.address);
      t.true(
        await until(() => (statsOf(sender, peer).packetBytes ?? 0) > 9000 - 32),
        'reached the path size',
      );
      const payload = randomBytes(1024 * 1024);
      await sender.send(peer, payload).delivered;
      const s = statsOf(sender, peer);
      t.true(s.packetBytes! <= 9000 && s.packetBytes! > 9000 - 32, `packetBytes ${s.packetBytes}`);
      t.true(s.pmtuProbesLost! >= 3, 'sizes above the path were tried and lost');
      t.is(s.pmtuBlackHoles, 0);
      t.is(got.length, 1);
      t.is(sha(got[0]!), sha(payload));
      t.true(path.stats().droppedMtu >= 3);
    },
  );

  testFor(test, socket)(on + 'no probing: the session sends the maximum at once', async (t) => {
    const receiver = await endpoint(t, { socket, config: `${BIG},pmtuProbe=false` });
    const sender = await endpoint(t, { socket, config: `${BIG},pmtuProbe=false` });
    const peer = await sender.connect(receiver.address);
    t.is(statsOf(sender, peer).packetBytes, 65507);
    t.is(statsOf(sender, peer).pmtuProbesSent, 0);
  });

  testFor(test, socket)(
    on +
      'the path shrinks to 1400 mid-message: 32 MiB arrive intact exactly once, the size drops; it grows back and re-probing finds it',
    async (t) => {
      const path = new Impairment('mtu=9000', systemClock);
      const config = `${BIG},pmtuReprobeMs=300`;
      const receiver = await endpoint(t, { socket, config, impair: path });
      const sender = await endpoint(t, { socket, config });
      const got: Buffer[] = [];
      receiver.onMessage((m) => void got.push(Buffer.from(m.payload)));
      const peer = await sender.connect(receiver.address);
      t.true(await until(() => (statsOf(sender, peer).packetBytes ?? 0) > 9000 - 32), 'reached 9000 first');

      const payload = randomBytes(32 * 1024 * 1024);
      const handle = sender.send(peer, payload);
      const inbound = (): number => receiver.stats().totals.payloadBytesReceived;
      t.true(await until(() => inbound() > 4 * 1024 * 1024), 'part of the message went at 9000');
      path.setMtu(1400);
      await handle.delivered;
      const s = statsOf(sender, peer);
      t.true(s.packetBytes! <= 1400, `packetBytes ${s.packetBytes} after the shrink`);
      t.true(s.pmtuBlackHoles! >= 1, 'the shrink was detected as a black hole');
      t.is(got.length, 1, 'delivered exactly once');
      t.is(got[0]!.length, payload.length);
      t.is(sha(got[0]!), sha(payload), 'bytes intact');
      t.true(path.stats().droppedMtu > 0);

      path.setMtu(9000);
      t.true(
        await until(() => (statsOf(sender, peer).packetBytes ?? 0) > 9000 - 32),
        'grew back to the path size',
      );
      t.true(statsOf(sender, peer).packetBytes! <= 9000);
      const again = randomBytes(256 * 1024);
      await sender.send(peer, again).delivered;
      t.is(got.length, 2);
      t.is(sha(got[1]!), sha(again));
    },
  );

  testFor(test, socket)(
    on + 'with default settings a loopback session probes up to the largest datagram loopback carries',
    async (t) => {
      const receiver = await endpoint(t, { socket });
      const sender = await endpoint(t, { socket });
      const peer = await sender.connect(receiver.address);
      receiver.onMessage(() => undefined);
      for (let i = 0; i < 4; i++) await sender.send(peer, Buffer.alloc(4 * 1024 * 1024, i)).delivered;
      const packetBytes = statsOf(sender, peer).packetBytes ?? 0;
      t.true(packetBytes > 65507 - 32, `packetBytes ${packetBytes}`);
    },
  );
}
