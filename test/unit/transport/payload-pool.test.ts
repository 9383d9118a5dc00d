/**
 * Reassembly buffers reused: a pool hands a given-back buffer to the next message of the same size,
 * keeps no more than its limit, ignores buffers it did not make, and never hands one buffer to two
 * holders; an inbox whose endpoint turned reuse on gives each message's buffer back when its handler
 * finished, and one with reuse off never does.
 */
import test from 'ava';
import { initChecksums } from '../../../src/core/checksum.js';
import { LIMITS, MiB } from '../../../src/core/limits.js';
import { PacketView, encodePacket } from '../../../src/wire/packet-codec.js';
import { PacketType } from '../../../src/wire/packet-layout.js';
import { PayloadPool } from '../../../src/transport/payload-pool.js';
import { ReceiveMemory } from '../../../src/transport/receive-memory.js';
import { Inbox, type CompleteMessage } from '../../../src/transport/udp/inbox.js';

test.before(async () => {
  await initChecksums();
});

const BLOCK = 256 * 1024 + 40;

test('a given-back buffer is the next one taken of its size, not a new one', (t) => {
  const pool = new PayloadPool();
  const a = pool.take(BLOCK);
  t.is(a.length, BLOCK);
  pool.give(a);
  const b = pool.take(BLOCK - 20); // same page-rounded size
  t.true(b.buffer === a.buffer, 'the same memory');
  t.is(b.length, BLOCK - 20);
  t.is(pool.reuses, 1);
  const c = pool.take(BLOCK);
  t.false(c.buffer === a.buffer, 'b still holds it: c gets another');
});

test('a buffer given back twice is kept once, so two holders never share it', (t) => {
  const pool = new PayloadPool();
  const a = pool.take(BLOCK);
  pool.give(a);
  pool.give(a);
  t.is(pool.doubleGives, 1);
  const b = pool.take(BLOCK);
  const c = pool.take(BLOCK);
  t.false(b.buffer === c.buffer);
});

test('buffers the pool did not make, and views into the middle of its own, are not taken', (t) => {
  const pool = new PayloadPool();
  pool.give(Buffer.allocUnsafe(BLOCK));
  const own = pool.take(BLOCK);
  pool.give(own.subarray(40));
  t.is(pool.freeBytes, 0);
  t.false(pool.take(BLOCK).buffer === own.buffer);
});

test('free buffers stop at the limit; small messages come from Node, not the pool', (t) => {
  const pool = new PayloadPool(3 * MiB);
  const held = Array.from({ length: 8 }, () => pool.take(MiB));
  for (const b of held) pool.give(b);
  t.is(pool.freeBytes, 3 * MiB);
  const small = pool.take(LIMITS.PAYLOAD_POOL_MIN_BYTES - 1);
  pool.give(small);
  t.is(pool.freeBytes, 3 * MiB);
  pool.clear();
  t.is(pool.freeBytes, 0);
});

/** Fragment `index` of message `seq` (`count` fragments of `cut` bytes, filled with `fill`). */
function fragment(seq: number, index: number, count: number, cut: number, fill: number): PacketView {
  const view = new PacketView();
  const status = view.decode(
    encodePacket({
      type: PacketType.DATA,
      connectionId: 1n,
      data: {
        messageSeq: seq,
        fifoSeq: 0,
        messageLength: count * cut,
        fragmentOffset: index * cut,
        fragmentIndex: index,
        fragmentCount: count,
      },
      payload: Buffer.alloc(cut, fill),
    }),
  );
  if (status !== 'ok') throw new Error(status);
  return view;
}

/** Delivers two 4-fragment messages through an inbox; returns the two payloads' memory and bytes. */
function twoMessages(reuse: boolean): { same: boolean; first: number[]; second: number[] } {
  const memory = new ReceiveMemory(1024 * MiB);
  memory.reusePayloads(reuse);
  const inbox = new Inbox(64 * MiB, 16 * MiB, () => {});
  inbox.memory = memory;
  const got: CompleteMessage[] = [];
  const seen: number[][] = [];
  inbox.setDispatch((m) => {
    got.push(m);
    seen.push([m.payload[0]!, m.payload[m.payload.length - 1]!]);
    return true; // handled at once: the buffer is free after this
  });
  const cut = 8000;
  for (let i = 0; i < 4; i++) inbox.onRecord(fragment(1, i, 4, cut, 1), cut);
  for (let i = 0; i < 4; i++) inbox.onRecord(fragment(2, i, 4, cut, 2), cut);
  if (got.length !== 2) throw new Error(`expected 2 messages, got ${got.length}`);
  return { same: got[0]!.payload.buffer === got[1]!.payload.buffer, first: seen[0]!, second: seen[1]! };
}

test('with reuse on, the second message is reassembled in the buffer of the first, with its own bytes', (t) => {
  const r = twoMessages(true);
  t.true(r.same);
  t.deepEqual(r.first, [1, 1]);
  t.deepEqual(r.second, [2, 2]);
});

test('with reuse off, every message has its own buffer', (t) => {
  t.false(twoMessages(false).same);
});
