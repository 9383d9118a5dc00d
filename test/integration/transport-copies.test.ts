import test from 'ava';
import { Endpoint } from '../../src/transport/endpoint.js';
import { LIMITS } from '../../src/core/limits.js';
import { DATA_OVERHEAD_BYTES } from '../../src/wire/packet-layout.js';
import { checkSocket, SOCKETS, testFor, type SocketChoice } from '../helpers/transport.js';

async function pair(
  t: import('ava').ExecutionContext,
  config?: string,
  socket?: SocketChoice,
): Promise<{ tx: Endpoint; rx: Endpoint; got: Buffer[] }> {
  // encryption off: these count the copies of the unsealed gather path (sealed, the AEAD writes every
  // payload byte into the packet buffer once as it encrypts; transport-seal.test.ts covers that path)
  const rx = await Endpoint.create({ impair: null, socket, encrypt: false });
  const tx = await Endpoint.create({ impair: null, socket, encrypt: false, ...(config ? { config } : {}) });
  t.teardown(async () => {
    await tx.close();
    await rx.close();
  });
  checkSocket(rx, socket);
  checkSocket(tx, socket);
  const got: Buffer[] = [];
  rx.onMessage((m) => {
    got.push(Buffer.from(m.payload));
  });
  return { tx, rx, got };
}

/**
 * True when `copied` is exactly what sending each of `sizes` once, plus at most `retransmits` resends of
 * them, copies (a resend under load copies its fragment again; anything else is a miscount).
 */
function copiedOncePerSend(copied: number, sizes: readonly number[], retransmits: number): boolean {
  const extra = copied - sizes.reduce((a, b) => a + b, 0);
  if (extra === 0) return true;
  if (extra < 0 || retransmits === 0) return false;
  // is `extra` a sum of at most `retransmits` resends of the sizes?
  const best = new Array<number>(extra + 1).fill(Infinity);
  best[0] = 0;
  for (let v = 1; v <= extra; v++)
    for (const s of sizes) if (s <= v && best[v - s]! + 1 < best[v]!) best[v] = best[v - s]! + 1;
  return best[extra]! <= retransmits;
}

function pattern(n: number, salt: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt) & 0xff;
  return b;
}

for (const socket of SOCKETS) {
  // dgram hands each datagram in a buffer of its own: a single-packet message is a view of it. The
  // native socket receives into a slab reused after each batch: the message is copied out of it.
  const single =
    socket === 'js'
      ? 'single-packet messages are not copied on receipt'
      : 'single-packet messages are copied out of the receive slab';
  testFor(test, socket)(
    `${socket} socket: stats count the payload bytes copied in user space: large fragments go out as slices (no copy), short ones are copied, ${single}`,
    async (t) => {
      const { tx, rx, got } = await pair(t, undefined, socket);
      const peer = await tx.connect(rx.address);
      const big = pattern(10_000, 1); // 7 fragments of 1376 bytes and one of 368 at 1452-byte packets
      await tx.send(peer, big).delivered;
      await tx.send(peer, pattern(100, 2)).delivered;
      t.is(got.length, 2);
      t.true(got[0]!.equals(big));
      t.true(got[1]!.equals(pattern(100, 2)));
      const sent = tx.stats().totals;
      const chunk = 1452 - DATA_OVERHEAD_BYTES;
      const tail = 10_000 % chunk;
      t.true(tail < LIMITS.GATHER_MIN_PAYLOAD_BYTES, 'the test needs a short last fragment');
      t.true(
        copiedOncePerSend(sent.bytesCopied ?? -1, [tail, 100], sent.retransmits),
        `only fragments shorter than GATHER_MIN_PAYLOAD_BYTES were copied, once per send (copied ${sent.bytesCopied}, retransmits ${sent.retransmits})`,
      );
      t.true(sent.payloadBytesSent >= 10_100);
      if (socket === 'js')
        t.is(
          rx.stats().totals.bytesCopied,
          10_000,
          'the single-packet message was handed over without a copy',
        );
      else
        t.is(
          rx.stats().totals.bytesCopied,
          10_100,
          'the single-packet message was copied out of the slab, once',
        );
    },
  );
}

for (const nativeSend of [true, false]) {
  test(`a 1 MiB message in uneven pieces is sent without copying its payload (a short last fragment aside) and arrives intact (nativeSend=${nativeSend})`, async (t) => {
    const { tx, rx, got } = await pair(t, `nativeSend=${nativeSend}`);
    const peer = await tx.connect(rx.address);
    const whole = pattern(1 << 20, 7);
    // piece boundaries fall inside fragments at odd offsets, so many datagrams carry two slices
    const cuts = [0, 1, 1000, 4097, 333_333, 700_001, 1 << 20];
    const pieces = cuts.slice(1).map((end, i) => whole.subarray(cuts[i]!, end));
    await tx.send(peer, pieces).delivered;
    t.is(got.length, 1);
    t.true(got[0]!.equals(whole), 'bytes arrive as sent');
    const sent = tx.stats().totals;
    const tail = (1 << 20) % (1452 - DATA_OVERHEAD_BYTES); // the last fragment: copied when short
    const copied = tail < LIMITS.GATHER_MIN_PAYLOAD_BYTES ? tail : 0;
    t.true(
      copiedOncePerSend(sent.bytesCopied ?? -1, copied === 0 ? [] : [copied], sent.retransmits),
      `no payload byte copied on the send path but a short last fragment, once per send (copied ${sent.bytesCopied})`,
    );
    t.true(sent.payloadBytesSent >= 1 << 20);
    t.is(rx.stats().dropped.badChecksum, 0, 'every gathered datagram carried a valid checksum');
  });
}

test('a fragment spanning more pieces than MAX_GATHER_SLICES is copied, and arrives intact', async (t) => {
  const { tx, rx, got } = await pair(t);
  const peer = await tx.connect(rx.address);
  const whole = pattern(4000, 3);
  const pieces: Buffer[] = [];
  for (let at = 0; at < whole.length; at += 50) pieces.push(whole.subarray(at, at + 50));
  await tx.send(peer, pieces).delivered;
  t.true(got[0]!.equals(whole));
  const sent = tx.stats().totals;
  t.true((sent.bytesCopied ?? 0) >= 4000);
  t.is(sent.bytesCopied, sent.payloadBytesSent, 'every fragment spans 28 pieces: every byte sent was copied');
});
