/**
 * The reassembly memory attacks a review found, as datagrams a peer holding a valid session sends
 * (`hijackSession`): first fragments of huge messages that all claim the next FIFO number, one per
 * packet (40 packets of about 1.1 KB charged 2.5 GiB against a 256 MiB budget), and packets of
 * about 1.1 KB that each carry 20 fragment records (200 of them made `ferry serve` fail with
 * `RangeError: Array buffer allocation failed`). Used in-process and from a child process.
 */
import dgram from 'node:dgram';
import { MiB } from '../../src/core/limits.js';
import { encodePacket, type RecordFields } from '../../src/wire/packet-codec.js';
import { PacketType } from '../../src/wire/packet-layout.js';
import type { PeerAddress } from '../../src/index.js';

/** The claimed length of the one-record attack (the default maxMessageBytes). */
export const HUGE_MESSAGE_BYTES = 64 * MiB;
/** Records per packet of the many-records attack, and the bytes each carries. */
const RECORDS_PER_PACKET = 20;
const RECORD_DATA_BYTES = 24;
/** Its claimed message length: the most fragments of RECORD_DATA_BYTES a message may have. */
const MANY_MESSAGE_BYTES = 24 * MiB;

type Record = RecordFields & { bytes: Uint8Array };

function firstFragment(seq: number, fifoSeq: number, length: number, dataBytes: number): Record {
  return {
    messageSeq: seq,
    fifoSeq,
    messageLength: length,
    fragmentOffset: 0,
    fragmentIndex: 0,
    fragmentCount: Math.ceil(length / dataBytes),
    bytes: Buffer.alloc(dataBytes, 0x5a),
  };
}

/**
 * The attack's datagrams: `packets` of one record (all claiming FIFO number 1), of RECORDS_PER_PACKET
 * records each, or of one record with FIFO numbers 1, 2, 3... (what fills a session's budget).
 */
export function attackDatagrams(
  kind: 'one-record' | 'many-records' | 'fifo-run',
  packets: number,
  connectionId: bigint,
  firstPacketNumber: number,
  firstSeq: number,
): Buffer[] {
  const out: Buffer[] = [];
  let seq = firstSeq;
  for (let i = 0; i < packets; i++) {
    const records: Record[] = [];
    if (kind === 'one-record') records.push(firstFragment(seq++, 1, HUGE_MESSAGE_BYTES, 1000));
    else if (kind === 'fifo-run') records.push(firstFragment(seq++, i + 1, HUGE_MESSAGE_BYTES, 1000));
    else
      for (let r = 0; r < RECORDS_PER_PACKET; r++)
        records.push(firstFragment(seq++, 1, MANY_MESSAGE_BYTES, RECORD_DATA_BYTES));
    const packetNumber = firstPacketNumber + i;
    out.push(
      encodePacket({
        type: PacketType.DATA,
        connectionId,
        packetNumber,
        leastUnacked: packetNumber,
        receiveWindow: 1000,
        records,
      }),
    );
  }
  return out;
}

/** Sends `datagrams` to `to`, a few at a time so the receiver drains its socket. */
export async function sendAll(
  socket: dgram.Socket,
  datagrams: readonly Buffer[],
  to: PeerAddress,
): Promise<void> {
  for (let i = 0; i < datagrams.length; i++) {
    await new Promise<void>((resolve) => socket.send(datagrams[i]!, to.port, to.host, () => resolve()));
    if (i % 8 === 7) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
