/**
 * Black-hole detection under random loss: a path that never shrinks (9000 bytes, 20 % loss, 10 ms
 * delay) must keep its packet size. At the end of every message no big packet is left to be acked,
 * so losing the last packets and their resends looks like a black hole until the current size itself
 * is probed (path-mtu.ts). Seeds 2 and 3 dropped the size before that confirmation existed.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../src/core/clock.js';
import { Impairment } from '../../src/transport/impair/impairment.js';
import { endpoint, statsOf, until } from '../helpers/transport.js';

const CONFIG = 'packetBytes=9000,sendPoolBytes=16MiB';
const MESSAGES = 16;
const BUDGET_MS = 20_000;

for (const seed of [2, 3]) {
  test(`20 % random loss on a path that never shrinks: no black hole (seed ${seed})`, async (t) => {
    t.timeout(90_000);
    t.log(`impairment seed ${seed}`);
    const path = new Impairment(`loss=0.2,delayMs=10,seed=${seed}`, systemClock);
    const receiver = await endpoint(t, { config: CONFIG, impair: path });
    const sender = await endpoint(t, { config: CONFIG });
    receiver.onMessage(() => {});
    const peer = await sender.connect(receiver.address);
    t.true(await until(() => (statsOf(sender, peer).packetBytes ?? 0) >= 9000 - 32), 'reached 9000');
    const startedMs = Date.now();
    let sent = 0;
    while (Date.now() - startedMs < BUDGET_MS && sent < MESSAGES) {
      await sender.send(peer, randomBytes(1024 * 1024)).delivered;
      sent++;
    }
    const s = statsOf(sender, peer);
    t.log(
      `seed ${seed}: ${sent} MiB, packetBytes ${s.packetBytes}, black holes ${s.pmtuBlackHoles}, probes sent/acked/lost ${s.pmtuProbesSent}/${s.pmtuProbesAcked}/${s.pmtuProbesLost}, retransmits ${s.retransmits}`,
    );
    t.true(sent > 0);
    t.is(path.stats().droppedMtu, 0);
    t.is(s.pmtuBlackHoles, 0, `seed ${seed}: a path that never shrank was reported as a black hole`);
    t.true((s.packetBytes ?? 0) >= 9000 - 32, `seed ${seed}: packetBytes ${s.packetBytes}`);
  });
}
