/**
 * End to end: an endpoint whose packet log is small (maxInFlightPackets=4: a ring of 8)
 * receives a stream, so it sends many untracked ACK packets, while a DATA packet of its own is lost.
 * The peer acks those ACK packet numbers; one aliases the slot of the lost DATA packet, which was then
 * taken as acked: its message was never resent. Every message must still be delivered.
 */
import test from 'ava';
import { Endpoint } from '../../src/transport/endpoint.js';
import { Impairment } from '../../src/transport/impair/impairment.js';
import { systemClock } from '../../src/core/clock.js';

test('small packet log + stream the other way + loss: every message of the small side is delivered', async (t) => {
  t.timeout(30_000);
  const seed = 1 + Math.floor(Math.random() * 1e6);
  t.log(`seed ${seed}`);
  const small = 'packetBytes=1452,pmtuProbe=false,maxInFlightPackets=4,initialCwndPackets=4,minCwndPackets=2';
  // drops 20 % of what reaches b (a's DATA and ACK packets)
  const path = new Impairment(`loss=0.2,seed=${seed}`, systemClock);
  const a = await Endpoint.create({ impair: null, config: small });
  const b = await Endpoint.create({ impair: path, config: 'packetBytes=1452,pmtuProbe=false' });
  let stop = false;
  t.teardown(async () => {
    stop = true;
    await a.close();
    await b.close();
  });
  const gotAtB: number[] = [];
  b.onMessage((m) => void gotAtB.push(m.payload.readUInt32BE(0)));
  a.onMessage(() => undefined);
  const peerOfA = await a.connect(b.address);
  await new Promise((r) => setTimeout(r, 50));
  const peerOfB = b.peers().find((p) => p.state === 'connected')!;
  const bPeer = (
    b as unknown as { sessionsByAddress: Map<string, { peer: import('../../src/transport/types.js').Peer }> }
  ).sessionsByAddress.get(peerOfB.id)!.peer;
  // b streams to a as fast as a lets it
  const chunk = Buffer.alloc(1300);
  void (async () => {
    while (!stop) {
      const r = b.trySend(bPeer, chunk);
      if (typeof r === 'string') {
        if (r !== 'BACK_PRESSURED') return;
        await b.writable(bPeer).catch(() => undefined);
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  // a sends one small FIFO message every 15 ms
  const total = 60;
  for (let i = 0; i < total; i++) {
    const payload = Buffer.alloc(64);
    payload.writeUInt32BE(i, 0);
    a.send(peerOfA, payload, { mode: 'fifo' });
    await new Promise((r) => setTimeout(r, 15));
  }
  const deadline = Date.now() + 8000;
  while (gotAtB.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  stop = true;
  const sa = a.stats().totals;
  t.log(`b got ${gotAtB.length}/${total}; a: packetsSent ${sa.packetsSent}, retransmits ${sa.retransmits}`);
  t.deepEqual(gotAtB, [...Array(total).keys()], `not every message arrived in 8 s (seed ${seed})`);
});
