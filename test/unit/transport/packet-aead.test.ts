// The per-packet AEAD and its replay window, alone: round trips (plain and gathered), every tamper
// refused, replays and too-old packet numbers refused, the window sliding without forgetting; each on
// both AEAD paths (node:crypto and the native addon's context).
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { LIMITS } from '../../../src/core/limits.js';
import { SessionKeys } from '../../../src/transport/crypto/key-schedule.js';
import { bodyOffset, encodePacket, PacketView, writeU64 } from '../../../src/wire/packet-codec.js';
import { AEAD_TAG_BYTES, PACKET_NUMBER_OFFSET, PacketType } from '../../../src/wire/packet-layout.js';
import { openDatagram, sealDatagram } from '../../../src/transport/seal.js';
import { AEAD_KINDS, aeadRuns } from '../../helpers/aead.js';

const keys = new SessionKeys(randomBytes(32), Buffer.from('secret'), randomBytes(32));

/** A DATA packet (one whole message) with packet number `pn`, in a buffer with room for the tag. */
function dataPacket(pn: number, payload: Buffer): { buf: Buffer; length: number } {
  const plain = encodePacket({
    type: PacketType.DATA,
    connectionId: 7n,
    packetNumber: pn,
    sack: [[pn + 5, 2]],
    cumulativeAck: pn,
    payload,
    data: {
      messageSeq: 1,
      fifoSeq: 0,
      messageLength: payload.length,
      fragmentOffset: 0,
      fragmentIndex: 0,
      fragmentCount: 1,
    },
  });
  const buf = Buffer.alloc(plain.length + AEAD_TAG_BYTES + 4096);
  plain.copy(buf);
  return { buf, length: plain.length };
}

for (const kind of AEAD_KINDS) {
  const run = aeadRuns(kind) ? test : test.skip;
  run(`${kind}: a sealed packet opens under the peer keys, body encrypted, header readable`, (t) => {
    const sealer = keys.sealer('client', kind);
    const opener = keys.opener('server', kind);
    const payload = randomBytes(500);
    const { buf, length } = dataPacket(1, payload);
    const n = sealDatagram(buf, length, undefined, 0, sealer);
    t.is(n, length + AEAD_TAG_BYTES);
    const wire = Buffer.from(buf.subarray(0, n));
    t.false(wire.includes(payload.subarray(0, 32)), 'the body is not in clear');
    const view = new PacketView();
    t.is(openDatagram(view, wire, opener), 'ok');
    t.is(view.type, PacketType.DATA);
    t.deepEqual(view.recordData(), payload);
    t.is(openDatagram(view, Buffer.from(buf.subarray(0, n)), opener), 'replayed');
    t.is(
      openDatagram(view, Buffer.from(buf.subarray(0, n)), keys.opener('client', kind)),
      'badSeal',
      'the other direction',
    );
  });

  run(`${kind}: gathered slices are encrypted into the buffer; the result opens to the joined bytes`, (t) => {
    const sealer = keys.sealer('server', kind);
    const opener = keys.opener('client', kind);
    const payload = randomBytes(3000);
    const { buf, length } = dataPacket(9, payload);
    const headerLength = length - payload.length;
    const slices = [payload.subarray(0, 1000), payload.subarray(1000, 1001), payload.subarray(1001)];
    const n = sealDatagram(buf, headerLength, slices, slices.length, sealer);
    t.is(n, length + AEAD_TAG_BYTES);
    const view = new PacketView();
    t.is(openDatagram(view, Buffer.from(buf.subarray(0, n)), opener), 'ok');
    t.deepEqual(view.recordData(), payload);
  });

  run(`${kind}: any flipped bit (header, SACK range, body, tag) fails the tag`, (t) => {
    const sealer = keys.sealer('client', kind);
    const { buf, length } = dataPacket(1, randomBytes(100));
    const n = sealDatagram(buf, length, undefined, 0, sealer);
    const sealed = Buffer.from(buf.subarray(0, n));
    const view = new PacketView();
    for (const at of [4, 30, 41, bodyOffset(1) - 3, bodyOffset(1) + 10, n - 1]) {
      const opener = keys.opener('server', kind);
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x10;
      const status = openDatagram(view, bad, opener);
      t.true(status === 'badSeal' || status === 'malformed', `byte ${at}: ${status}`);
      t.is(openDatagram(view, Buffer.from(sealed), opener), 'ok', 'a failed open marks nothing seen');
    }
  });

  run(
    `${kind}: the replay window: new numbers pass once, old ones within the window once, older never`,
    (t) => {
      const sealer = keys.sealer('client', kind);
      const opener = keys.opener('server', kind);
      const view = new PacketView();
      const send = (pn: number): string => {
        const { buf, length } = dataPacket(pn, Buffer.from('x'));
        return openDatagram(
          view,
          Buffer.from(buf.subarray(0, sealDatagram(buf, length, undefined, 0, sealer))),
          opener,
        );
      };
      t.is(send(10), 'ok');
      t.is(send(5), 'ok', 'reordered, inside the window');
      t.is(send(5), 'replayed');
      t.is(send(10), 'replayed');
      const far = 10 + LIMITS.REPLAY_WINDOW_PACKETS + 3;
      t.is(send(far), 'ok');
      t.is(send(11), 'replayed', 'below the window: too old');
      t.is(send(far - 1), 'ok', 'a number the window slid over was never seen');
      t.is(send(far - 1), 'replayed');
      t.is(send(far - LIMITS.REPLAY_WINDOW_PACKETS + 1), 'ok', 'the oldest number still inside');
    },
  );

  run(`${kind}: the nonce differs per packet number: the same plaintext seals to different bytes`, (t) => {
    const sealer = keys.sealer('client', kind);
    const a = dataPacket(1, Buffer.alloc(64, 1));
    const b = dataPacket(1, Buffer.alloc(64, 1));
    writeU64(b.buf, PACKET_NUMBER_OFFSET, 2);
    const na = sealDatagram(a.buf, a.length, undefined, 0, sealer);
    const nb = sealDatagram(b.buf, b.length, undefined, 0, sealer);
    t.notDeepEqual(a.buf.subarray(bodyOffset(1), na), b.buf.subarray(bodyOffset(1), nb));
  });
}
