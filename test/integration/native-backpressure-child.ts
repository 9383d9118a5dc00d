/**
 * Run by native-backpressure.test.ts inside a private network namespace whose loopback has a slow
 * token-bucket qdisc: datagrams wait in the qdisc, still charged to the sender's tiny socket buffer,
 * so sendmmsg stops with EAGAIN (on a plain loopback it never does: the device frees the buffer at
 * once). Sends DATAGRAMS datagrams through the back-pressure loop (send, discard what went, await
 * writable, send the rest) and prints one JSON line with what arrived.
 */
import { NativeUdpSocket } from '../../src/transport/native/native-udp-socket.js';
import { SendBatch } from '../../src/transport/native/send-batch.js';
import { patterned } from './native-helpers.js';

const DATAGRAMS = 64;
const BYTES = 1400;
const TIMEOUT_MS = 10_000;

const rx = NativeUdpSocket.open({ host: '127.0.0.1', recvBufferBytes: 4 << 20 });
const tx = NativeUdpSocket.open({ host: '127.0.0.1', sendBufferBytes: 1 });
const to = tx.destination('127.0.0.1', rx.port);
const received: number[] = [];
let intact = true;
let writableCalls = 0;
let shortSends = 0;

const timer = setTimeout(() => finish('timeout'), TIMEOUT_MS);

function finish(outcome: string): void {
  clearTimeout(timer);
  const stats = tx.stats;
  console.log(
    JSON.stringify({
      outcome,
      received,
      intact,
      writableCalls,
      shortSends,
      wouldBlock: stats.wouldBlock,
      sendBufferBytes: tx.sendBufferBytes,
    }),
  );
  rx.close();
  tx.close();
}

rx.onBatch((b) => {
  for (let i = 0; i < b.count; i++) {
    const d = b.data(i);
    const index = Buffer.from(d.buffer, d.byteOffset, d.length).readUInt32BE(0);
    if (!Buffer.from(d).equals(patterned(index, BYTES))) intact = false;
    received.push(index);
  }
  if (received.length === DATAGRAMS) finish('done');
});

const batch = new SendBatch(DATAGRAMS);
for (let i = 0; i < DATAGRAMS; i++) batch.add(to, patterned(i, BYTES));

function pump(): void {
  const sent = tx.sendBatch(batch);
  batch.discard(sent);
  if (batch.length === 0) return;
  shortSends++;
  tx.awaitWritable(() => {
    writableCalls++;
    pump();
  });
}
pump();
