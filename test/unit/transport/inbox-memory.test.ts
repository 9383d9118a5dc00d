/**
 * Reassembly memory under a lying sender: many messages claiming the next FIFO number (each a first
 * fragment of a huge message), a packet carrying many fragment records, an endpoint-wide cap shared by
 * sessions, an allocator that fails. What the inbox charges must stay within the session budget plus
 * one FIFO message, and within the endpoint's cap; the inbox must keep serving honest messages.
 */
import test from 'ava';
import { initChecksums } from '../../../src/core/checksum.js';
import { LIMITS, MiB } from '../../../src/core/limits.js';
import { PacketView, encodePacket, type RecordFields } from '../../../src/wire/packet-codec.js';
import { PacketType } from '../../../src/wire/packet-layout.js';
import { ReceiveMemory } from '../../../src/transport/receive-memory.js';
import { Inbox, type CompleteMessage } from '../../../src/transport/udp/inbox.js';

test.before(async () => {
  await initChecksums();
});

const BUDGET = 16 * MiB;
const MESSAGE = 8 * MiB;
const FRAGMENT = 1000;

/** The first fragment of a `messageLength`-byte message cut in FRAGMENT-byte fragments. */
function firstFragment(seq: number, fifoSeq: number, messageLength = MESSAGE): PacketView {
  const view = new PacketView();
  const status = view.decode(
    encodePacket({
      type: PacketType.DATA,
      connectionId: 1n,
      data: {
        messageSeq: seq,
        fifoSeq,
        messageLength,
        fragmentOffset: 0,
        fragmentIndex: 0,
        fragmentCount: Math.ceil(messageLength / FRAGMENT),
      },
      payload: Buffer.alloc(FRAGMENT, 7),
    }),
  );
  if (status !== 'ok') throw new Error(status);
  return view;
}

function whole(seq: number, fifoSeq: number, bytes = 100): PacketView {
  const view = new PacketView();
  view.decode(
    encodePacket({
      type: PacketType.DATA,
      connectionId: 1n,
      data: {
        messageSeq: seq,
        fifoSeq,
        messageLength: bytes,
        fragmentOffset: 0,
        fragmentIndex: 0,
        fragmentCount: 1,
      },
      payload: Buffer.alloc(bytes, seq),
    }),
  );
  return view;
}

function setup(memory = new ReceiveMemory(1024 * MiB)): { inbox: Inbox; got: CompleteMessage[] } {
  const inbox = new Inbox(BUDGET, MESSAGE, () => {});
  inbox.memory = memory;
  const got: CompleteMessage[] = [];
  inbox.setDispatch((m) => {
    got.push(m);
    return true;
  });
  return { inbox, got };
}

test('200 first fragments all claiming the next FIFO number: one is taken, the rest are malformed', (t) => {
  const memory = new ReceiveMemory(1024 * MiB);
  const { inbox } = setup(memory);
  const results: Record<string, number> = {};
  for (let seq = 1; seq <= 200; seq++) {
    const r = inbox.onRecord(firstFragment(seq, 1), 0);
    results[r] = (results[r] ?? 0) + 1;
  }
  t.deepEqual(results, { accepted: 1, malformed: 199 });
  t.is(inbox.partialCount, 1);
  t.true(inbox.usedBytes <= BUDGET + MESSAGE, `charged ${inbox.usedBytes}`);
  t.is(memory.usedBytes, inbox.usedBytes);
});

test('FIFO numbers already delivered or beyond the window are malformed for a new message', (t) => {
  const { inbox, got } = setup();
  t.is(inbox.onRecord(whole(1, 1), 0), 'accepted');
  t.is(got.length, 1);
  t.is(inbox.onRecord(whole(2, 1), 0), 'malformed', 'FIFO 1 was delivered');
  t.is(inbox.onRecord(whole(3, 2 + LIMITS.MAX_MESSAGE_WINDOW), 0), 'malformed', 'beyond the window');
  t.is(inbox.onRecord(whole(4, 2), 0), 'accepted');
  t.is(got.length, 2);
});

test('two complete messages can never hold the same FIFO number (no charge leaks in the rule)', (t) => {
  const { inbox, got } = setup();
  // FIFO 2 completes and waits for FIFO 1; a second message claiming FIFO 2 is refused
  t.is(inbox.onRecord(whole(2, 2), 0), 'accepted');
  t.is(inbox.onRecord(whole(3, 2), 0), 'malformed');
  t.is(inbox.onRecord(whole(1, 1), 0), 'accepted');
  t.deepEqual(
    got.map((m) => m.seq),
    [1, 2],
  );
  t.is(inbox.usedBytes, 0, 'every charge given back');
});

test('the session budget holds for unordered first fragments; the FIFO head may pass it once', (t) => {
  const { inbox } = setup();
  let accepted = 0;
  for (let seq = 1; seq <= 10; seq++) if (inbox.onRecord(firstFragment(seq, 0), 0) === 'accepted') accepted++;
  t.is(accepted, BUDGET / MESSAGE);
  t.is(inbox.onRecord(firstFragment(11, 1), 0), 'accepted', 'the FIFO head passes the full budget');
  t.is(inbox.onRecord(firstFragment(12, 2), 0), 'refused', 'the next FIFO message does not');
  t.is(inbox.usedBytes, BUDGET + MESSAGE);
});

test('the endpoint cap binds every session together, the FIFO head included', (t) => {
  const memory = new ReceiveMemory(BUDGET + MESSAGE);
  const a = setup(memory).inbox;
  const b = setup(memory).inbox;
  t.is(a.onRecord(firstFragment(1, 0), 0), 'accepted');
  t.is(a.onRecord(firstFragment(2, 0), 0), 'accepted');
  t.is(b.onRecord(firstFragment(1, 0), 0), 'accepted');
  t.is(b.onRecord(firstFragment(2, 1), 0), 'refused', 'no room at the endpoint, even for a FIFO head');
  t.is(memory.usedBytes, BUDGET + MESSAGE);
  t.true(memory.refusals > 0);
  t.is(b.windowPackets(1000, 1_000_000), 0, 'the advertised window says the endpoint is full');
  a.clear();
  t.is(memory.usedBytes, MESSAGE, "a's session ended: its memory is back");
  t.is(b.onRecord(firstFragment(2, 1), 0), 'accepted');
});

test('a message in its handler stays charged after clear() until the handler settles', (t) => {
  const memory = new ReceiveMemory(1024 * MiB);
  const inbox = new Inbox(BUDGET, MESSAGE, () => {});
  inbox.memory = memory;
  const held: CompleteMessage[] = [];
  inbox.setDispatch((m) => {
    held.push(m);
    return false;
  });
  t.is(inbox.onRecord(whole(1, 0, 500), 500), 'accepted');
  t.is(inbox.onRecord(firstFragment(2, 0), 0), 'accepted');
  t.is(memory.usedBytes, 500 + MESSAGE);
  inbox.clear();
  t.is(memory.usedBytes, 500);
  inbox.onHandled(held[0]!);
  t.is(memory.usedBytes, 0);
  t.is(inbox.usedBytes, 0);
});

class FailingMemory extends ReceiveMemory {
  fail = true;
  protected override alloc(bytes: number): Buffer {
    if (this.fail) throw new RangeError('Array buffer allocation failed');
    return super.alloc(bytes);
  }
}

test('an allocation failure refuses the message, is counted, and the inbox keeps serving', (t) => {
  const memory = new FailingMemory(1024 * MiB);
  const { inbox, got } = setup(memory);
  t.is(inbox.onRecord(firstFragment(1, 0), 0), 'refused');
  t.is(memory.allocationFailures, 1);
  t.is(memory.usedBytes, 0, 'the charge is given back');
  t.is(inbox.usedBytes, 0);
  t.is(inbox.onRecord(whole(2, 0), 0), 'accepted', 'a whole message needs no buffer');
  memory.fail = false;
  t.is(inbox.onRecord(firstFragment(1, 0), 0), 'accepted', 'the resent fragment is taken');
  t.is(got.length, 1);
});

function packet(records: (RecordFields & { bytes: Uint8Array })[]): string {
  return new PacketView().decode(encodePacket({ type: PacketType.DATA, connectionId: 1n, records }));
}

const frag = (seq: number): RecordFields & { bytes: Uint8Array } => ({
  messageSeq: seq,
  fifoSeq: 0,
  messageLength: 2000,
  fragmentOffset: 0,
  fragmentIndex: 0,
  fragmentCount: 2,
  bytes: Buffer.alloc(1000),
});
const small = (seq: number): RecordFields & { bytes: Uint8Array } => ({
  messageSeq: seq,
  fifoSeq: 0,
  messageLength: 10,
  fragmentOffset: 0,
  fragmentIndex: 0,
  fragmentCount: 1,
  bytes: Buffer.alloc(10),
});

test('a fragment record travels alone: a packet with it and any other record is malformed', (t) => {
  t.is(packet([frag(1)]), 'ok');
  t.is(packet([small(1), small(2), small(3)]), 'ok', 'whole small messages share packets');
  t.is(packet([frag(1), frag(2)]), 'malformed');
  t.is(packet([small(1), frag(2)]), 'malformed');
  t.is(packet([frag(1), small(2)]), 'malformed');
});
