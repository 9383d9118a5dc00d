/**
 * The golden packets: fields and the file holding their exact bytes in test/fixtures/packets/.
 * Regenerate the files (only when the wire version changes) with
 * `npx tsx test/unit/wire/golden-packets.ts --write`.
 */
import { writeFileSync } from 'node:fs';
import { initChecksums } from '../../../src/core/checksum.js';
import { encodePacket, type PacketFields, type RecordFields } from '../../../src/wire/packet-codec.js';
import { PacketType, Flags, PIECE_UNIT_BYTES } from '../../../src/wire/packet-layout.js';
import { encodeHello, ackBodyBytes, writeAckBody } from '../../../src/wire/control-bodies.js';

function ackBody(): Buffer {
  const b = Buffer.alloc(ackBodyBytes(2));
  writeAckBody(b, 0, 10, [12, 20], [3, 1], 2);
  return b;
}

/** A record holding a whole message (FIFO when `fifoSeq` is not 0). */
function whole(messageSeq: number, fifoSeq: number, text: string): RecordFields & { bytes: Buffer } {
  const bytes = Buffer.from(text);
  const n = bytes.length;
  return {
    messageSeq,
    fifoSeq,
    messageLength: n,
    fragmentOffset: 0,
    fragmentIndex: 0,
    fragmentCount: 1,
    bytes,
  };
}

export const GOLDEN: Record<string, PacketFields> = {
  'data-fifo-fragment': {
    type: PacketType.DATA,
    connectionId: 0x0123_4567_89ab_cdefn,
    packetNumber: 1000,
    cumulativeAck: 77,
    leastUnacked: 990,
    receiveWindow: 4096,
    data: {
      messageSeq: 5,
      fifoSeq: 2,
      messageLength: 2 * 1380 + 12,
      fragmentOffset: 2 * 1380,
      fragmentIndex: 2,
      fragmentCount: 3,
    },
    payload: Buffer.from('hello, ferry'),
  },
  'data-empty-message': {
    type: PacketType.DATA,
    connectionId: 0xfedc_ba98_7654_3210n,
    packetNumber: 1,
    receiveWindow: 1,
    data: {
      messageSeq: 1,
      fifoSeq: 0,
      messageLength: 0,
      fragmentOffset: 0,
      fragmentIndex: 0,
      fragmentCount: 1,
    },
  },
  'data-coalesced': {
    type: PacketType.DATA,
    connectionId: 0x0102_0304_0506_0708n,
    packetNumber: 77,
    cumulativeAck: 5,
    leastUnacked: 70,
    receiveWindow: 512,
    sack: [[8, 2]],
    records: [whole(9, 4, 'ping'), whole(10, 0, 'unordered'), whole(11, 0, ''), whole(12, 5, 'fifo again')],
  },
  'ack-with-sack-and-delivered': {
    type: PacketType.ACK,
    connectionId: 42n,
    packetNumber: 2 ** 40 + 3,
    cumulativeAck: 2 ** 33,
    leastUnacked: 2 ** 40,
    receiveWindow: 123,
    sack: [
      [2 ** 33 + 2, 5],
      [2 ** 33 + 10, 1],
    ],
    payload: ackBody(),
  },
  hello: {
    type: PacketType.HELLO,
    connectionId: 0n,
    payload: encodeHello({
      sourceConnectionId: 0x1111_2222_3333_4444n,
      incarnation: 1_700_000_000_000,
      nonce: Buffer.alloc(16, 0xab),
      maxPacketBytes: 1452,
      encrypt: true,
      publicKey: Buffer.alloc(32, 0x5c),
    }),
  },
  'data-piece': {
    type: PacketType.DATA,
    connectionId: 0x0123_4567_89ab_cdefn,
    packetNumber: 2000,
    cumulativeAck: 12,
    leastUnacked: 1990,
    receiveWindow: 64,
    data: {
      messageSeq: 6,
      fifoSeq: 0,
      messageLength: 8928 + PIECE_UNIT_BYTES + 10,
      fragmentOffset: 8928 + PIECE_UNIT_BYTES,
      fragmentIndex: 1,
      fragmentCount: 2,
    },
    piece: { fragmentOffset: 8928, fragmentLength: PIECE_UNIT_BYTES + 10 },
    payload: Buffer.from('ten bytes!'),
  },
  probe: {
    type: PacketType.PROBE,
    connectionId: 7n,
    packetNumber: 10,
    leastUnacked: 10,
    payload: Buffer.alloc(1400 - 48),
  },
  heartbeat: {
    type: PacketType.HEARTBEAT,
    flags: Flags.ACK_NOW,
    connectionId: 7n,
    packetNumber: 9,
    leastUnacked: 9,
  },
};

export const FIXTURES = new URL('../../fixtures/packets/', import.meta.url);

if (process.argv.includes('--write')) {
  await initChecksums();
  for (const [name, fields] of Object.entries(GOLDEN)) {
    writeFileSync(new URL(`${name}.bin`, FIXTURES), encodePacket(fields));
  }
}
