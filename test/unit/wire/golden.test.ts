import test from 'ava';
import { readFileSync } from 'node:fs';
import { initChecksums } from '../../../src/core/checksum.js';
import { PacketView, encodePacket, connectionIdOf } from '../../../src/wire/packet-codec.js';
import { decodeHello, HELLO_BYTES } from '../../../src/wire/control-bodies.js';
import { AckBodyView } from '../../../src/wire/control-bodies.js';
import { GOLDEN, FIXTURES } from './golden-packets.js';
import { PacketType } from '../../../src/wire/packet-layout.js';
import { referenceDecode } from './reference-decoder.js';

test.before(async () => {
  await initChecksums();
});

for (const [name, fields] of Object.entries(GOLDEN)) {
  test(`golden packet ${name}: encoder reproduces the stored bytes, decoders read the fields`, (t) => {
    const stored = readFileSync(new URL(`${name}.bin`, FIXTURES));
    t.deepEqual(encodePacket(fields), stored);
    const view = new PacketView();
    t.is(view.decode(stored), 'ok');
    t.is(view.type, fields.type);
    t.is(connectionIdOf(view), fields.connectionId);
    t.is(view.packetNumber, fields.packetNumber ?? 0);
    const ref = referenceDecode(stored);
    t.not(typeof ref, 'string');
    if (typeof ref === 'string' || fields.type !== PacketType.DATA) return;
    const records = fields.records ?? [
      {
        ...fields.data!,
        ...(fields.piece ? { piece: fields.piece } : {}),
        bytes: fields.payload ?? new Uint8Array(0),
      },
    ];
    t.deepEqual(
      ref.records,
      records.map((r) => ({ ...r, bytes: [...r.bytes] })),
    );
    t.is(view.recordCount, records.length);
  });
}

test('golden HELLO and ACK bodies decode to their fields', (t) => {
  const view = new PacketView();
  t.is(view.decode(readFileSync(new URL('hello.bin', FIXTURES))), 'ok');
  const hello = decodeHello(view.payload());
  t.is(hello?.incarnation, 1_700_000_000_000);
  t.is(hello?.sourceConnectionId, 0x1111_2222_3333_4444n);
  t.is(hello?.maxPacketBytes, 1452);
  t.is(hello?.encrypt, true);
  t.deepEqual(hello?.publicKey, Buffer.alloc(32, 0x5c));
  t.is(view.decode(readFileSync(new URL('ack-with-sack-and-delivered.bin', FIXTURES))), 'ok');
  const ack = new AckBodyView();
  const body = view.payload();
  t.true(ack.decode(body, 0, body.length, 10));
  t.is(ack.deliveredBelow, 10);
  t.deepEqual([ack.rangeCount, ack.rangeStart[0], ack.rangeLength[0], ack.rangeStart[1]], [2, 12, 3, 20]);
  t.is(view.sackStart[0], 2 ** 33 + 2);
});

test('control bodies of the wrong size or with absurd values are refused', (t) => {
  const ack = new AckBodyView();
  const bad = Buffer.alloc(8);
  bad.writeUInt16BE(60_000, 4);
  t.false(ack.decode(bad, 0, bad.length, 1));
  t.false(ack.decode(Buffer.alloc(3), 0, 3, 1));
  t.is(decodeHello(Buffer.alloc(35)), null);
  t.is(decodeHello(Buffer.alloc(HELLO_BYTES)), null, 'connection id 0 and packet size 0');
});
