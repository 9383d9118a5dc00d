/**
 * The TCP twin of the reassembly memory attack: peers that hold real sessions (hand-made frames, so
 * the endpoint runs with `encrypt: false`) each start a DATA frame whose header claims the largest
 * body allowed and then send almost nothing. Every such body is charged to the endpoint's receive
 * memory (maxReceiveMemoryBytes) before its buffer is allocated: what they pin stays within the cap,
 * the connections past it are ended (counted as overLimit), every byte is given back when they
 * leave, and a real client then exchanges messages.
 */
import test from 'ava';
import { MiB } from '../../src/core/limits.js';
import { encodeFrame, FrameType, RawClient, writeFrameHeader } from '../helpers/raw-tcp.js';
import { openEndpoint, until } from '../helpers/transport.js';

const SECRET = Buffer.from('tcp memory attack secret');
const MESSAGE_BYTES = 4 * MiB;
const CAP_BYTES = 16 * MiB;
const ATTACKERS = 20;
const CONFIG = `maxMessageBytes=${MESSAGE_BYTES},maxReassemblyBytes=${MESSAGE_BYTES},maxReceiveMemoryBytes=${CAP_BYTES}`;

/** The header of a DATA frame claiming a whole message, followed by 1 KiB of its body. */
function startOfHugeFrame(): Buffer {
  const head = encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(0));
  writeFrameHeader(head, 0, FrameType.DATA, 0, MESSAGE_BYTES, 1);
  return Buffer.concat([head, Buffer.alloc(1024, 0x5a)]);
}

test.serial(
  'tcp: 20 sessions each starting a 4 MiB frame pin at most the 16 MiB cap; the rest are ended, everything is given back, a real client is served',
  async (t) => {
    const server = await openEndpoint(t, 'tcp', { secret: SECRET, encrypt: false, config: CONFIG });
    const got: Buffer[] = [];
    server.onMessage((m) => void got.push(Buffer.from(m.payload)));

    const attackers: RawClient[] = [];
    t.teardown(() => attackers.forEach((a) => a.destroy()));
    for (let i = 0; i < ATTACKERS; i++) {
      const c = await RawClient.open(server.address);
      attackers.push(c);
      const end = await c.handshake({
        listenPort: 20_000 + i,
        incarnation: Date.now(),
        secret: SECRET,
        encrypt: false,
        connectionId: BigInt(i + 1) * 0x1_0000_0001n,
      });
      t.is(end?.type, FrameType.ACCEPT, `attacker ${i} completed the handshake`);
      c.write(startOfHugeFrame());
    }
    // every attacker's frame start reached the endpoint: either it is charged, or its session ended
    await until(() => {
      const partial = server.memoryStats().partialFrameBytes;
      const ended = attackers.filter((a) => a.closed).length;
      return partial / MESSAGE_BYTES + ended >= ATTACKERS;
    }, 1000);

    const partial = server.memoryStats().partialFrameBytes;
    t.true(partial <= CAP_BYTES, `${ATTACKERS} frame starts pinned ${partial} bytes (cap ${CAP_BYTES})`);
    const memory = server.stats().receiveMemory!;
    t.true(memory.usedBytes <= CAP_BYTES, `charged ${memory.usedBytes} of ${CAP_BYTES}`);
    t.true(memory.peakBytes <= CAP_BYTES);
    // sessions past the cap were ended for it (others may end as silent peers: raw clients answer no heartbeat)
    t.true(server.stats().dropped.overLimit >= 1, 'frame starts past the cap end their sessions');

    for (const a of attackers) a.destroy();
    await until(() => server.stats().receiveMemory!.usedBytes === 0, 1000);
    t.is(server.memoryStats().partialFrameBytes, 0);

    const client = await openEndpoint(t, 'tcp', { secret: SECRET, encrypt: false });
    const peer = await client.connect(server.address);
    const payload = Buffer.alloc(MESSAGE_BYTES - 1024, 0x42);
    await client.send(peer, payload, { mode: 'fifo' }).delivered;
    await until(() => got.length === 1, 1000);
    t.true(got[0]!.equals(payload), 'a real client is served after the attack');
    t.is(server.stats().receiveMemory!.usedBytes, 0, 'the handled message gave its memory back');
  },
);
