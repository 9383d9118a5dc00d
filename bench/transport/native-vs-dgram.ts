/**
 * Micro-benchmark of the send paths issue 13 is about, one way on loopback: N datagrams of 1452 B
 * and of 65,000 B sent by (a) node:dgram (connected socket, one syscall per datagram: the raw
 * baseline), (b) the native addon with sendmmsg batches, (c) the addon with UDP GSO (each batch entry
 * one buffer the kernel cuts into 1452-byte segments). The receiver is always the addon (recvmmsg
 * into one slab), with GRO on, and for GSO also with GRO off (on loopback a GRO receiver gets the
 * GSO buffer whole; without GRO the kernel segments it on delivery, as a NIC path would without GRO). Sender and receiver run in separate processes; the sender reports what it
 * pushed, the receiver what arrived (a sender faster than its receiver shows as loss, not as speed).
 *
 *   node --import=tsx bench/transport/native-vs-dgram.ts [--count-small N] [--count-large N] [--json]
 *
 * Prints datagrams/s and MB/s (10^6 bytes) per path and size, sender and receiver side, the
 * system calls and the CPU microseconds each side spent per datagram (the CPU figures hold up on a
 * busy machine; the rates do not). Needs the addon (node scripts/build-native.js).
 */
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { formatTable } from '../lib/table.js';
// The native socket is not part of the public API (src/index.ts) until a link uses it; this
// benchmark measures it directly, as the dgram baseline measures node:dgram directly.
// eslint-disable-next-line ferry/layer-direction
import { NativeUdpSocket, SendBatch, nativeUdpStatus } from '../../src/transport/native/index.js';

const HOST = '127.0.0.1';
const SMALL_BYTES = 1452;
const LARGE_BYTES = 65_000;
/** Datagrams per sendmmsg for the batched path (one descriptor each). */
const SEND_BATCH = 64;
/** GSO: segments per buffer (45 x 1452 = 65,340 B, under the 65,507-byte ceiling)... */
const GSO_SEGMENTS = 45;
/** ...and buffers per sendmmsg. */
const GSO_BATCH = 16;
/** node:dgram: sends between yields to the event loop (lets libuv flush anything it queued). */
const DGRAM_YIELD_EVERY = 1024;
const SOCKET_BUFFER_BYTES = 32 * 1024 * 1024;
/** The receiver reports once nothing arrived for this long after the sender finished. */
const QUIET_MS = 300;
const DEFAULT_COUNT_SMALL = 200_000;
const DEFAULT_COUNT_LARGE = 20_000;

type Path = 'dgram' | 'sendmmsg' | 'gso';
/** The receiver always runs recvmmsg; with GRO (default) or without (GSO segments arrive one by one). */
type Receive = 'gro' | 'no-gro';

interface SenderReport {
  datagrams: number;
  bytes: number;
  elapsedMs: number;
  syscalls: number;
  /** CPU time (user + system) the sending took: steadier than rates on a busy machine. */
  cpuUs: number;
}

interface ReceiverReport {
  datagrams: number;
  bytes: number;
  elapsedMs: number;
  syscalls: number;
  groRecords: number;
  cpuUs: number;
}

// ---------- receiver process ----------

function runReceiver(receive: Receive): void {
  const rx = NativeUdpSocket.open({
    host: HOST,
    recvBufferBytes: SOCKET_BUFFER_BYTES,
    gro: receive === 'gro',
  });
  let datagrams = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  const cpu = process.cpuUsage();
  rx.onBatch((b) => {
    const now = performance.now();
    if (first === 0) first = now;
    last = now;
    for (let i = 0; i < b.count; i++) {
      datagrams += b.segmentCount(i);
      bytes += b.length(i);
    }
  });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd !== 'report') return;
    const stats = rx.stats;
    const used = process.cpuUsage(cpu);
    const report: ReceiverReport = {
      datagrams,
      bytes,
      elapsedMs: last - first,
      syscalls: stats.recvSyscalls,
      groRecords: stats.groDatagrams,
      cpuUs: used.user + used.system,
    };
    rx.close();
    process.send!(report);
    process.disconnect();
  });
  process.send!({ port: rx.port });
}

// ---------- sender process ----------

async function sendDgram(port: number, size: number, count: number): Promise<SenderReport> {
  const s = dgram.createSocket({ type: 'udp4', sendBufferSize: SOCKET_BUFFER_BYTES });
  s.bind(0, HOST);
  await once(s, 'listening');
  s.connect(port, HOST);
  await once(s, 'connect');
  const buf = Buffer.alloc(size, 1);
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    s.send(buf);
    if (i % DGRAM_YIELD_EVERY === DGRAM_YIELD_EVERY - 1) await new Promise((r) => setImmediate(r));
  }
  while (s.getSendQueueCount() > 0) await new Promise((r) => setImmediate(r));
  const elapsedMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  s.close();
  return {
    datagrams: count,
    bytes: count * size,
    elapsedMs,
    syscalls: count,
    cpuUs: used.user + used.system,
  };
}

/**
 * Sends `batch` until `count` datagrams went. Every entry is the same buffer to the same peer, so a
 * short send (socket buffer full) just waits for writability and sends the whole batch again.
 */
async function pumpNative(
  tx: NativeUdpSocket,
  batch: SendBatch,
  perEntry: number,
  count: number,
): Promise<number> {
  let sentDatagrams = 0;
  while (sentDatagrams < count) {
    const sent = tx.sendBatch(batch);
    sentDatagrams += sent * perEntry;
    if (sent < batch.length) await new Promise<void>((resolve) => tx.awaitWritable(resolve));
  }
  return sentDatagrams;
}

async function sendNative(port: number, size: number, count: number, gso: boolean): Promise<SenderReport> {
  const tx = NativeUdpSocket.open({ host: HOST, sendBufferBytes: SOCKET_BUFFER_BYTES });
  const to = tx.destination(HOST, port);
  const perEntry = gso ? GSO_SEGMENTS : 1;
  const entries = gso ? GSO_BATCH : SEND_BATCH;
  const buffer = new Uint8Array(size * perEntry).fill(1);
  const batch = new SendBatch(entries);
  for (let i = 0; i < entries; i++) batch.add(to, buffer, gso ? size : 0);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const datagrams = await pumpNative(tx, batch, perEntry, count);
  const elapsedMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const syscalls = tx.stats.sendSyscalls;
  tx.close();
  return { datagrams, bytes: datagrams * size, elapsedMs, syscalls, cpuUs: used.user + used.system };
}

async function runSender(path: Path, port: number, size: number, count: number): Promise<void> {
  const report =
    path === 'dgram'
      ? await sendDgram(port, size, count)
      : await sendNative(port, size, count, path === 'gso');
  process.send!(report);
  process.disconnect();
}

// ---------- coordinator ----------

function child(args: string[]): ChildProcess {
  return fork(fileURLToPath(import.meta.url), args, { execArgv: process.execArgv });
}

async function message<T>(proc: ChildProcess): Promise<T> {
  const [m] = (await once(proc, 'message')) as [T];
  return m;
}

interface Row {
  path: Path;
  receive: Receive;
  bytes: number;
  sender: SenderReport;
  receiver: ReceiverReport;
}

async function measure(path: Path, receive: Receive, size: number, count: number): Promise<Row> {
  const rx = child(['receiver', receive]);
  const { port } = await message<{ port: number }>(rx);
  const tx = child(['sender', path, String(port), String(size), String(count)]);
  const sender = await message<SenderReport>(tx);
  await new Promise((r) => setTimeout(r, QUIET_MS));
  rx.send({ cmd: 'report' });
  const receiver = await message<ReceiverReport>(rx);
  await Promise.all([once(rx, 'exit'), tx.exitCode === null ? once(tx, 'exit') : null]);
  return { path, receive, bytes: size, sender, receiver };
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a positive integer`);
  return v;
}

async function main(): Promise<void> {
  const status = nativeUdpStatus();
  if (!status.available) {
    console.error(`native UDP addon unavailable: ${status.reason}`);
    process.exit(1);
  }
  const small = option('--count-small', DEFAULT_COUNT_SMALL);
  const large = option('--count-large', DEFAULT_COUNT_LARGE);
  // GSO at 65,000 B is absent: a GSO buffer (<= 65,507 B) holds one such segment, so it is sendmmsg.
  const plan: [Path, Receive, number, number][] = [
    ['dgram', 'gro', SMALL_BYTES, small],
    ['sendmmsg', 'gro', SMALL_BYTES, small],
    ['gso', 'gro', SMALL_BYTES, small],
    ['gso', 'no-gro', SMALL_BYTES, small],
    ['dgram', 'gro', LARGE_BYTES, large],
    ['sendmmsg', 'gro', LARGE_BYTES, large],
  ];
  const rows: Row[] = [];
  for (const [path, receive, size, count] of plan) rows.push(await measure(path, receive, size, count));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ gso: status.gso, gro: status.gro, rows }, null, 2));
    return;
  }
  const rate = (n: number, ms: number): number => (ms > 0 ? (n * 1000) / ms : 0);
  console.log(
    formatTable(
      [
        'path',
        'receiver',
        'bytes',
        'sent dgram/s',
        'sent MB/s',
        'recv dgram/s',
        'recv MB/s',
        'lost %',
        'tx sys/dgram',
        'rx sys/dgram',
        'tx cpu us/dgram',
        'rx cpu us/dgram',
      ],
      rows.map((r) => [
        r.path,
        r.receive,
        r.bytes,
        rate(r.sender.datagrams, r.sender.elapsedMs),
        rate(r.sender.bytes, r.sender.elapsedMs) / 1e6,
        rate(r.receiver.datagrams, r.receiver.elapsedMs),
        rate(r.receiver.bytes, r.receiver.elapsedMs) / 1e6,
        (100 * (r.sender.datagrams - r.receiver.datagrams)) / r.sender.datagrams,
        r.sender.syscalls / r.sender.datagrams,
        r.receiver.syscalls / Math.max(1, r.receiver.datagrams),
        r.sender.cpuUs / r.sender.datagrams,
        r.receiver.cpuUs / Math.max(1, r.receiver.datagrams),
      ]),
    ),
  );
  console.log(
    `kernel: GSO ${status.gso ? 'yes' : 'no'}, GRO ${status.gro ? 'yes' : 'no'}; receiver: the addon, recvmmsg`,
  );
}

const [role, ...rest] = process.argv.slice(2);
if (role === 'receiver') runReceiver(rest[0] === 'no-gro' ? 'no-gro' : 'gro');
else if (role === 'sender')
  void runSender(rest[0] as Path, Number(rest[1]), Number(rest[2]), Number(rest[3]));
else void main();
