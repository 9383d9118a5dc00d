/**
 * Request-level fuzzing of a FerryServer (memory backend, one memory block device) over an ENCRYPTED
 * session: a transport endpoint that completed an honest handshake (valid keys, so every packet
 * opens) sends transfer messages whose contents are made up or mutated: requests of every type in
 * the message table with random and boundary field values (names with slashes, dots, NULs, 300
 * bytes; sizes and offsets at 0, 2^32, 2^53-1; transfer ids, handles and devices the server handed
 * out earlier, or not), and the same with bytes flipped, cut, extended, or a wrong version, status,
 * type or flags byte, and plain random bytes.
 *
 * The server must answer each request with a reply or an error, or ignore it (a header it cannot
 * read), and never crash; replies must name a request id that was sent. Afterwards the fuzz client
 * leaves and the run checks the server still serves a real client (list, upload, download), its
 * receive memory is back to its start and `arrayBuffers` back near its start after GC (the memory
 * filesystem's quota is below the slack: what the fuzz legitimately stored fits in it).
 *
 *   node --import=tsx bench/transport/sealed-request-fuzz.ts [--requests 100000] [--seed N] [--json]
 */
import { fileURLToPath } from 'node:url';
import { Endpoint, FerryServer, openClient, type Peer } from '../../src/index.js';
// The fuzzer writes transfer messages itself, with the message codec.
/* eslint-disable ferry/layer-direction */
import {
  MESSAGES,
  decodeErrorReply,
  decodeReply,
  encodeRequest,
  layoutsOf,
  messageNameOf,
  type MessageName,
} from '../../src/wire/transfer/index.js';
/* eslint-enable ferry/layer-direction */
import {
  ARRAY_BUFFER_SLACK_BYTES,
  arrayBuffersAfterGc,
  fuzzArgs,
  prng,
  receiveMemoryProblems,
} from './session-fuzz.js';

/** The memory filesystem's quota: what the fuzz may legitimately leave stored (below the slack). */
const QUOTA_BYTES = 8 * 1024 * 1024;
/** The memory block device's size (its bytes are allocated as the fuzz writes them). */
const DEVICE_BYTES = 4 * 1024 * 1024;
/** Requests in flight (sent, not yet acknowledged by the transport) at once. */
const IN_FLIGHT = 32;
/** Quiet time after the last request before the replies are counted as all in. */
const SETTLE_MS = 500;
const SETTLE_MAX_MS = 10_000;
const PROGRESS_REQUESTS = 10_000;
const SECRET = 'sealed-request-fuzz-secret-0123456789';
/** Share of requests sent as encoded (valid layout, random values); the rest are mutated or random. */
const ENCODED_SHARE = 0.45;
const REPLY_BIT = 0x80;
const OFF_STATUS = 3;
const OFF_REQUEST_ID = 4;

const NAMES = Object.keys(MESSAGES) as MessageName[];
const STRINGS = ['f', 'dir/f', '..', '.', '', '.hidden', '/abs', 'a\0b', 'x'.repeat(300), 'é', 'f '];

/** Ids the server handed out (transfer ids, handles, devices): reused to reach deeper handlers. */
type Pools = Record<'transferId' | 'handle' | 'device', number[]>;

function fieldValue(rand: () => number, name: string, kind: string, pools: Pools): unknown {
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const pool = (pools as Record<string, number[] | undefined>)[name];
  if (pool && pool.length > 0 && rand() < 0.6) return pick(pool);
  switch (kind) {
    case 'u8':
      return pick([0, 1, 2, 255, int(256)]);
    case 'u16':
      return pick([0, 1, 0xffff, int(0x10000)]);
    case 'u32':
      return pick([0, 1, 4096, 65_536, 0x1_0000, 0xffff_ffff, int(2 ** 32), 0o644, 0o7777]);
    case 'u64':
      return pick([
        0,
        1,
        4095,
        4096,
        2 ** 32,
        2 ** 53 - 1,
        int(2 ** 20) * 4096,
        int(2 ** 40),
        int(QUOTA_BYTES * 2),
      ]);
    case 'h64':
      return BigInt(int(2 ** 32)) * BigInt(2 ** 32) + BigInt(int(2 ** 32));
    case 'f64':
      return pick([0, -1, Date.now(), 1e300, -1e300, Number.NaN, int(2 ** 40)]);
    case 'str':
      return rand() < 0.5 ? `f${int(16)}` : pick(STRINGS);
    default: {
      const b = Buffer.alloc(pick([0, 1 + int(64), int(4096), int(40_000)]));
      for (let i = 0; i < Math.min(b.length, 64); i++) b[i] = int(256);
      return b;
    }
  }
}

/** A request of a random type with random and boundary field values, or null if one cannot hold. */
function encodedRequest(rand: () => number, id: number, pools: Pools): Buffer | null {
  const name = NAMES[Math.floor(rand() * NAMES.length)]!;
  const fields: Record<string, unknown> = {};
  for (const row of layoutsOf(name).request.rows)
    fields[row.name] = fieldValue(rand, row.name, row.kind, pools);
  try {
    return encodeRequest(name, id, fields as never, rand() < 0.8 ? 0 : Math.floor(rand() * 256));
  } catch {
    return null; // a value the codec refuses (e.g. a name longer than a str holds)
  }
}

/** One fuzz message: encoded, then maybe mutated; or random bytes. */
export function fuzzRequest(rand: () => number, id: number, pools: Pools): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  const kind = rand();
  if (kind > 0.95) {
    const b = Buffer.alloc(1 + int(200));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return b;
  }
  let m = encodedRequest(rand, id, pools);
  while (!m) m = encodedRequest(rand, id, pools);
  if (kind < ENCODED_SHARE) return m;
  switch (int(6)) {
    case 0:
      for (let i = 1 + int(4); i > 0; i--) m[int(m.length)]! ^= 1 + int(255);
      return m;
    case 1:
      return m.subarray(0, 1 + int(m.length)); // cut (maybe inside the header)
    case 2: {
      const extra = Buffer.alloc(1 + int(300), int(256));
      return Buffer.concat([m, extra]);
    }
    case 3:
      m[1] = int(256); // version
      return m;
    case 4:
      m[OFF_STATUS] = 1 + int(255);
      return m;
    default:
      m[0] = int(256); // type: unknown, a reply's, another request's
      return m;
  }
}

export interface RequestFuzzResult {
  seed: number;
  requests: number;
  seconds: number;
  replies: { ok: number; error: number; byCode: Record<string, number> };
  /** Requests left without a reply (headers the server could not read, among others). */
  unanswered: number;
  /** Replies to a request id never sent: must be none. */
  strayReplies: number;
  /** Errors the server reported as INTERNAL (an unexpected exception in a handler). */
  internalErrors: number;
  firstInternal: string | null;
  receiveMemory: { startBytes: number; peakBytes: number; endBytes: number; capBytes: number };
  arrayBuffers: { startBytes: number; endBytes: number };
  /** What the memory filesystem holds at the end (files and parts the fuzz legitimately stored). */
  storedBytes: number;
  realClientOk: boolean;
}

/** Runs the request fuzz (see the module comment); closes everything it opened. */
export async function runSealedRequestFuzz(
  requests: number,
  seed: number,
  progress?: (line: string) => void,
): Promise<RequestFuzzResult> {
  const rand = prng(seed);
  const server = await FerryServer.start({
    memory: true,
    quotaBytes: QUOTA_BYTES,
    devices: { d0: `memory:${DEVICE_BYTES}` },
    discovery: false,
    secret: SECRET,
    impair: null,
  });
  const fuzzer = await Endpoint.create({ secret: SECRET, socket: 'js', impair: null });
  try {
    const peer: Peer = await fuzzer.connect(server.address);
    const startMemory = server.endpoint.receiveMemory.usedBytes;
    const startArrayBuffers = arrayBuffersAfterGc();
    const pools: Pools = { transferId: [], handle: [], device: [0, 1] };
    // request ids as sent (a mutation may have changed one): how many replies each may still get
    const sentIds = new Map<number, number>();
    let unreadable = 0;
    const replies = { ok: 0, error: 0, byCode: {} as Record<string, number> };
    let strayReplies = 0;
    let internalErrors = 0;
    let firstInternal: string | null = null;
    let lastReplyAt = performance.now();
    fuzzer.onMessage((msg) => {
      lastReplyAt = performance.now();
      const b = Buffer.from(msg.payload);
      const id = b.length >= 8 ? b.readUInt32LE(OFF_REQUEST_ID) : -1;
      const left = sentIds.get(id) ?? 0;
      if (b.length < 8 || (b[0]! & REPLY_BIT) === 0 || left === 0) {
        strayReplies++;
        return;
      }
      if (left === 1) sentIds.delete(id);
      else sentIds.set(id, left - 1);
      const name = messageNameOf(b[0]!);
      if (b[OFF_STATUS] !== 0) {
        replies.error++;
        let code = 'UNDECODABLE';
        try {
          const e = decodeErrorReply(b);
          code = e.code;
          if (code === 'INTERNAL') {
            internalErrors++;
            firstInternal ??= `${name ?? b[0]}: ${e.message}`;
          }
        } catch {
          // counted under UNDECODABLE
        }
        replies.byCode[code] = (replies.byCode[code] ?? 0) + 1;
        return;
      }
      replies.ok++;
      if (!name) return;
      try {
        const fields = decodeReply(name, b) as Record<string, unknown>;
        for (const k of ['transferId', 'handle', 'device'] as const) {
          const v = fields[k];
          if (typeof v === 'number' && pools[k].length < 64) pools[k].push(v);
        }
      } catch {
        // an OK reply whose body does not decode: the counts show it
      }
    });
    const started = performance.now();
    let peakMemory = startMemory;
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < requests; i++) {
      const id = i + 1;
      const m = fuzzRequest(rand, id, pools);
      if (m.length >= 8) {
        const sentId = m.readUInt32LE(OFF_REQUEST_ID);
        sentIds.set(sentId, (sentIds.get(sentId) ?? 0) + 1);
      } else unreadable++;
      const p = fuzzer
        .send(peer, m)
        .delivered.catch(() => undefined)
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      if ((i + 1) % PROGRESS_REQUESTS === 0) {
        peakMemory = Math.max(peakMemory, server.endpoint.receiveMemory.usedBytes);
        progress?.(`${i + 1} requests, ${replies.ok} ok, ${replies.error} errors`);
      }
    }
    await Promise.all(inFlight);
    const settleEnd = performance.now() + SETTLE_MAX_MS;
    while (performance.now() - lastReplyAt < SETTLE_MS && performance.now() < settleEnd)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const seconds = (performance.now() - started) / 1000;
    peakMemory = Math.max(peakMemory, server.endpoint.receiveMemory.peakBytes);
    // the fuzzer leaves; a real client still gets served
    await fuzzer.close();
    for (let i = 0; i < 500 && server.endpoint.peers().length > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    let realClientOk = false;
    let storedBytes = 0;
    const client = await openClient({ host: '127.0.0.1', port: server.address.port, secret: SECRET });
    try {
      await client.listAll();
      const st = await client.statfs();
      storedBytes = st.usedBytes;
      realClientOk = st.totalBytes > 0;
    } finally {
      await client.close();
    }
    for (let i = 0; i < 500 && server.endpoint.peers().length > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    return {
      seed,
      requests,
      seconds,
      replies,
      unanswered: [...sentIds.values()].reduce((a, b) => a + b, unreadable),
      strayReplies,
      internalErrors,
      firstInternal,
      receiveMemory: {
        startBytes: startMemory,
        peakBytes: peakMemory,
        endBytes: server.endpoint.receiveMemory.usedBytes,
        capBytes: server.endpoint.receiveMemory.capBytes,
      },
      arrayBuffers: { startBytes: startArrayBuffers, endBytes: arrayBuffersAfterGc() },
      storedBytes,
      realClientOk,
    };
  } finally {
    await fuzzer.close().catch(() => undefined);
    await server.close();
  }
}

/** Whether a result passes: server alive and serving, memory back, no reply to an unsent request. */
export function requestFuzzVerdict(r: RequestFuzzResult): string[] {
  const problems: string[] = [];
  if (!r.realClientOk) problems.push('a real client was not served after the fuzz');
  if (r.strayReplies > 0) problems.push(`${r.strayReplies} replies to requests never sent`);
  problems.push(...receiveMemoryProblems(r.receiveMemory));
  const growth = r.arrayBuffers.endBytes - r.arrayBuffers.startBytes - r.storedBytes - DEVICE_BYTES;
  if (growth > ARRAY_BUFFER_SLACK_BYTES)
    problems.push(`arrayBuffers grew by ${growth} B beyond what the filesystem and the device hold`);
  return problems;
}

async function main(argv: string[]): Promise<number> {
  const args = fuzzArgs(argv, 'sealed-request-fuzz.ts', '--requests', 100_000);
  if (!args) return 2;
  const json = args.json;
  const r = await runSealedRequestFuzz(
    args.count,
    args.seed,
    json ? undefined : (l) => process.stderr.write(`${l}\n`),
  );
  const problems = requestFuzzVerdict(r);
  if (json) process.stdout.write(JSON.stringify({ ...r, problems }, null, 2) + '\n');
  else
    process.stdout.write(
      `${r.requests} requests in ${r.seconds.toFixed(1)} s (seed ${r.seed}): ${r.replies.ok} ok, ${r.replies.error} errors ` +
        `${JSON.stringify(r.replies.byCode)}, ${r.unanswered} unanswered, ${r.strayReplies} stray replies\n` +
        `INTERNAL errors ${r.internalErrors}${r.firstInternal ? ` (first: ${r.firstInternal})` : ''}\n` +
        `receive memory: start ${r.receiveMemory.startBytes} B, peak ${r.receiveMemory.peakBytes} B, end ${r.receiveMemory.endBytes} B; ` +
        `arrayBuffers: start ${r.arrayBuffers.startBytes} B, end ${r.arrayBuffers.endBytes} B (filesystem holds ${r.storedBytes} B)\n` +
        (problems.length === 0 ? 'ok\n' : `FAILED: ${problems.join('; ')}\n`),
    );
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`sealed-request-fuzz: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
