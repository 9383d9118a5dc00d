/**
 * Structure-aware fuzzing of a live UDP endpoint from inside a real session: a peer that completed
 * the handshake (an `encrypt: false` endpoint whose socket the fuzzer takes over) sends datagrams
 * with valid headers - the session's connection id, rising packet numbers, a valid checksum - whose
 * DATA records and fragments are made up or mutated: whole messages, fragments and pieces of honest
 * and lying cuts, packets of several records, huge claimed lengths, taken FIFO numbers, ACKs with
 * random bodies, and bytes flipped after the header (checksum recomputed, so the record checks are
 * what stops them). What a secret holder can send over a valid session once packets are sealed.
 *
 * Afterwards the attacker leaves and the run checks that the endpoint is alive, that its charged
 * receive memory came back to where it started and stayed within its cap, that
 * `process.memoryUsage().arrayBuffers` came back (after a GC) near its start, and that a real client
 * still exchanges messages. CI runs 100 000 datagrams (test/integration/transport-fuzz.test.ts); the
 * benchmark run is this script:
 *
 *   node --import=tsx bench/transport/session-fuzz.ts [--datagrams 1000000] [--seed N] [--json]
 */
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Endpoint, type EndpointOptions, type Peer } from '../../src/index.js';
// The fuzzer writes packets the way an attacker would, with the packet codec itself.
// eslint-disable-next-line ferry/layer-direction
import { encodePacket, sealPacket, type RecordFields } from '../../src/wire/packet-codec.js';
// eslint-disable-next-line ferry/layer-direction
import { HEADER_BYTES, PIECE_UNIT_BYTES, PacketType } from '../../src/wire/packet-layout.js';

/** The fuzzed server: small budgets, so what a session can pin is quickly reached and checked. */
export const FUZZ_SERVER_CONFIG = 'maxMessageBytes=1MiB,maxReassemblyBytes=4MiB,maxReceiveMemoryBytes=8MiB';
export const CAP_BYTES = 8 * 1024 * 1024;
/**
 * Datagrams one attacker session sends before it closes and a new one connects: every session's
 * teardown with partial messages held is exercised, and a fresh window takes new messages again.
 */
const SESSION_DATAGRAMS = 5000;
/** A progress line (and an arrayBuffers sample) every this many datagrams. */
const PROGRESS_DATAGRAMS = 65_536;
/** Datagrams sent between two yields to the event loop (the server drains its socket meanwhile). */
const SEND_BATCH = 16;
/** How far `arrayBuffers` may stay above its start after the run (allocator slack, pools). */
export const ARRAY_BUFFER_SLACK_BYTES = 16 * 1024 * 1024;

let gcFn: (() => void) | null = null;

/** A full collection (exposed on first use: importing this module changes no V8 flag). */
function gc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** A small seeded generator (mulberry32): a failing run is replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rec = RecordFields & { bytes: Uint8Array };

/** One record: a whole message, or a fragment or piece of a cut that is honest or not. */
function fuzzRecord(rand: () => number, seqBase: number): Rec {
  const int = (n: number): number => Math.floor(rand() * n);
  const messageSeq = rand() < 0.02 ? int(2 ** 32) : seqBase + int(400);
  const fifoSeq = rand() < 0.6 ? 0 : rand() < 0.9 ? 1 + int(seqBase + 400) : int(2 ** 32);
  if (rand() < 0.35) {
    const bytes = Buffer.alloc(int(900), int(256));
    return {
      messageSeq,
      fifoSeq,
      messageLength: bytes.length,
      fragmentOffset: 0,
      fragmentIndex: 0,
      fragmentCount: 1,
      bytes,
    };
  }
  const messageLength =
    rand() < 0.7 ? 2 + int(16 * 1024) : rand() < 0.9 ? int(2 * 1024 * 1024) : int(2 ** 31);
  const cut = 200 + int(1000);
  const count = Math.max(2, Math.ceil(messageLength / cut));
  const honest = rand() < 0.8;
  const fragmentIndex = honest ? int(count) : int(2 ** 21);
  const fragmentOffset = honest ? fragmentIndex * cut : int(messageLength + 1);
  const length = honest ? Math.max(1, Math.min(cut, messageLength - fragmentOffset)) : 1 + int(1000);
  const rec: Rec = {
    messageSeq,
    fifoSeq,
    messageLength,
    fragmentOffset,
    fragmentIndex,
    fragmentCount: honest ? count : 1 + int(2 ** 21),
    bytes: Buffer.alloc(Math.min(length, 1200), int(256)),
  };
  if (rand() < 0.2) {
    // a piece of the fragment: offset a multiple of the piece unit into it
    const into = PIECE_UNIT_BYTES * int(Math.ceil(cut / PIECE_UNIT_BYTES));
    rec.piece = {
      fragmentOffset,
      fragmentLength: honest ? Math.max(1, Math.min(cut, messageLength - fragmentOffset)) : int(70_000),
    };
    rec.fragmentOffset = fragmentOffset + into;
    rec.bytes = Buffer.alloc(
      Math.max(1, Math.min(PIECE_UNIT_BYTES, rec.piece.fragmentLength - into)),
      int(256),
    );
  }
  return rec;
}

/**
 * Every fragment of an honest small message (2 to 6 fragments), one packet each, from packet number
 * `pn` on: what makes the fuzz reach reassembly's completion and delivery.
 */
function honestMessage(rand: () => number, connectionId: bigint, pn: number, seq: number): Buffer[] {
  const int = (n: number): number => Math.floor(rand() * n);
  const cut = 500 + int(500);
  const count = 2 + int(5);
  const messageLength = (count - 1) * cut + 1 + int(cut);
  const out: Buffer[] = [];
  for (let index = 0; index < count; index++) {
    const offset = index * cut;
    const bytes = Buffer.alloc(Math.min(cut, messageLength - offset), int(256));
    const rec: Rec = {
      messageSeq: seq,
      fifoSeq: 0,
      messageLength,
      fragmentOffset: offset,
      fragmentIndex: index,
      fragmentCount: count,
      bytes,
    };
    out.push(
      encodePacket({
        type: PacketType.DATA,
        connectionId,
        packetNumber: pn + index,
        leastUnacked: pn,
        records: [rec],
      }),
    );
  }
  return out;
}

/**
 * The next datagrams of the session whose peer knows itself as `connectionId`, from packet number
 * `pn` on (one, or the packets of an honest message); `seqBase` is where made-up sequences start.
 */
export function sessionFuzzDatagrams(
  rand: () => number,
  connectionId: bigint,
  pn: number,
  seqBase: number,
): Buffer[] {
  if (rand() < 0.03) return honestMessage(rand, connectionId, pn, seqBase + 400 + Math.floor(rand() * 400));
  return [sessionFuzzDatagram(rand, connectionId, pn, seqBase)];
}

/** One datagram of the session whose peer knows itself as `connectionId`, packet number `pn`. */
export function sessionFuzzDatagram(
  rand: () => number,
  connectionId: bigint,
  pn: number,
  seqBase: number,
): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  const kind = rand();
  const header = {
    connectionId,
    packetNumber: pn,
    leastUnacked: Math.max(0, pn - int(50)),
    receiveWindow: int(4096),
  };
  if (kind < 0.1) {
    return encodePacket({
      ...header,
      type: rand() < 0.5 ? PacketType.ACK : PacketType.HEARTBEAT,
      cumulativeAck: int(100),
      payload: Buffer.alloc(int(120), int(256)),
    });
  }
  const records: Rec[] = [fuzzRecord(rand, seqBase)];
  if (kind < 0.25) for (let n = 1 + int(8); n > 0; n--) records.push(fuzzRecord(rand, seqBase));
  const packet = encodePacket({ ...header, type: PacketType.DATA, records });
  if (kind < 0.75) return packet;
  // flip a few bytes after the header and seal again: only the record checks stand in the way
  for (let i = 1 + int(4); i > 0 && packet.length > HEADER_BYTES; i--)
    packet[HEADER_BYTES + int(packet.length - HEADER_BYTES)] = int(256);
  return sealPacket(packet, packet.length);
}

/** A connected `js`-socket endpoint's socket, taken over, and its session's peer connection id. */
export function hijackSession(ep: Endpoint): {
  socket: dgram.Socket;
  remoteConnectionId: bigint;
  /** Gives the socket back to the endpoint (it reads its datagrams again). */
  release(): void;
} {
  const bound = (ep as unknown as { bound: { kind: string; socket: dgram.Socket } }).bound;
  if (bound.kind !== 'js') throw new Error('hijackSession needs an endpoint on the js socket');
  const peer = ep.peers()[0];
  if (!peer) throw new Error('hijackSession needs a connected endpoint');
  // the endpoint stops reading its socket: the peer's answers to forged packets would confuse it
  const socket = bound.socket;
  const listeners = socket.listeners('message') as ((...args: unknown[]) => void)[];
  const ignore = (): void => {};
  socket.removeAllListeners('message');
  socket.on('message', ignore);
  const release = (): void => {
    socket.off('message', ignore);
    for (const l of listeners) socket.on('message', l);
  };
  return { socket, remoteConnectionId: BigInt(`0x${peer.remoteConnectionId}`), release };
}

export interface SessionFuzzResult {
  seed: number;
  datagrams: number;
  seconds: number;
  /** Datagrams the server received, and what it dropped, by reason. */
  received: number;
  dropped: Record<string, number>;
  /** Messages the fuzz completed that reached the application (under the attacker's name only). */
  deliveredFromFuzz: number;
  deliveredUnderRealName: number;
  receiveMemory: {
    capBytes: number;
    startBytes: number;
    peakBytes: number;
    endBytes: number;
    refusals: number;
    allocationFailures: number;
  };
  arrayBuffers: { startBytes: number; peakBytes: number; endBytes: number };
  sessionsLeft: number;
  realExchangeOk: boolean;
}

export function arrayBuffersAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

const PLAIN = { encrypt: false, socket: 'js' as const, impair: null };

/** What every session fuzz run reports of its server and its real peer after the attack. */
export type FuzzArenaOutcome = Pick<
  SessionFuzzResult,
  | 'received'
  | 'dropped'
  | 'deliveredFromFuzz'
  | 'deliveredUnderRealName'
  | 'receiveMemory'
  | 'arrayBuffers'
  | 'sessionsLeft'
  | 'realExchangeOk'
>;

/**
 * The fuzzed server, a real client with a session to it and the attacker's endpoint, as the plain
 * and the sealed fuzzers both set them up: counts what reaches the server's application (under the
 * real peer's name or not), measures memory from `startMeasuring` on, and ends with the checks
 * both runs make (`finish`).
 */
export class FuzzArena {
  deliveredFromFuzz = 0;
  private readonly realGot: Buffer[] = [];
  private realId = '';
  private startMemory = 0;
  private startArrayBuffers = 0;
  private peakArrayBuffers = 0;

  private constructor(
    readonly server: Endpoint,
    readonly client: Endpoint,
    readonly attacker: Endpoint,
    readonly realPeer: Peer,
  ) {}

  /** Opens the three endpoints (the server with FUZZ_SERVER_CONFIG) and the real session. */
  static async open(options: EndpointOptions): Promise<FuzzArena> {
    const server = await Endpoint.create({ ...options, config: FUZZ_SERVER_CONFIG });
    const client = await Endpoint.create(options);
    const attacker = await Endpoint.create(options);
    const realPeer = await client.connect(server.address);
    const arena = new FuzzArena(server, client, attacker, realPeer);
    arena.realId = server.peers()[0]!.id;
    server.onMessage((m) => {
      if (m.peer.id === arena.realId) arena.realGot.push(Buffer.from(m.payload));
      else arena.deliveredFromFuzz++;
    });
    await client.send(realPeer, Buffer.from('before')).delivered;
    arena.realGot.length = 0;
    return arena;
  }

  /** Memory is measured against what the server holds from here on. */
  startMeasuring(): void {
    this.startMemory = this.server.receiveMemory.usedBytes;
    this.startArrayBuffers = arrayBuffersAfterGc();
    this.peakArrayBuffers = this.startArrayBuffers;
  }

  /** A sample of `arrayBuffers` for the peak (taken with each progress line). */
  sampleArrayBuffers(): void {
    this.peakArrayBuffers = Math.max(this.peakArrayBuffers, process.memoryUsage().arrayBuffers);
  }

  /**
   * After the attack: lets the server drain, reads its counters, lets the attacker leave (what it
   * held must come back), then has the real client exchange FIFO messages of 10 B to 1 MiB.
   */
  async finish(): Promise<FuzzArenaOutcome> {
    const { server, client, realGot } = this;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const deliveredUnderRealName = realGot.length;
    const stats = server.stats();
    const peakBytes = server.receiveMemory.peakBytes;
    // the attacker leaves (its CLOSE still goes out): what it held is given back
    await this.attacker.close();
    for (let i = 0; i < 500 && server.peers().length > 1; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const payloads = [Buffer.alloc(10, 1), Buffer.alloc(100_000, 2), Buffer.alloc(1 << 20, 3)];
    await Promise.all(payloads.map((p) => client.send(this.realPeer, p, { mode: 'fifo' }).delivered));
    const realExchangeOk =
      realGot.length === payloads.length && realGot.every((g, i) => g.equals(payloads[i]!));
    realGot.length = 0;
    const m = server.receiveMemory;
    return {
      received: stats.packetsReceived,
      dropped: { ...stats.dropped },
      deliveredFromFuzz: this.deliveredFromFuzz,
      deliveredUnderRealName,
      receiveMemory: {
        capBytes: m.capBytes,
        startBytes: this.startMemory,
        peakBytes,
        endBytes: m.usedBytes,
        refusals: m.refusals,
        allocationFailures: m.allocationFailures,
      },
      arrayBuffers: {
        startBytes: this.startArrayBuffers,
        peakBytes: this.peakArrayBuffers,
        endBytes: arrayBuffersAfterGc(),
      },
      sessionsLeft: server.peers().length,
      realExchangeOk,
    };
  }

  async close(): Promise<void> {
    await this.attacker.close().catch(() => undefined);
    await this.client.close();
    await this.server.close();
  }
}

/** Runs the fuzz (see the module comment); closes everything it opened. */
export async function runSessionFuzz(
  datagrams: number,
  seed: number,
  progress?: (line: string) => void,
): Promise<SessionFuzzResult> {
  const rand = prng(seed);
  const arena = await FuzzArena.open(PLAIN);
  const { server, attacker } = arena;
  try {
    let attackerPeer = await attacker.connect(server.address);
    let { socket, remoteConnectionId, release } = hijackSession(attacker);
    arena.startMeasuring();
    const started = performance.now();
    const to = server.address;
    let sessionStart = 0;
    let nextProgress = PROGRESS_DATAGRAMS;
    for (let i = 0; i < datagrams;) {
      if (i - sessionStart >= SESSION_DATAGRAMS) {
        // the same endpoint closes its session and opens a new one (a new connection id, a new window)
        release();
        await attacker.disconnect(attackerPeer).catch(() => undefined);
        attackerPeer = await attacker.connect(server.address);
        ({ socket, remoteConnectionId, release } = hijackSession(attacker));
        sessionStart = i;
      }
      const n = i - sessionStart;
      for (const d of sessionFuzzDatagrams(rand, remoteConnectionId, 1000 + n, 1 + Math.floor(n / 64))) {
        i++;
        if (i % SEND_BATCH === 0) {
          await new Promise<void>((resolve) => socket.send(d, to.port, to.host, () => resolve()));
          await new Promise((resolve) => setImmediate(resolve));
        } else socket.send(d, to.port, to.host);
      }
      if (i >= nextProgress) {
        nextProgress += PROGRESS_DATAGRAMS;
        arena.sampleArrayBuffers();
        progress?.(`${i + 1} datagrams, receive memory ${server.receiveMemory.usedBytes} B`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return { seed, datagrams, seconds, ...(await arena.finish()) };
  } finally {
    await arena.close();
  }
}

/** Receive memory of a fuzz run: never over its cap, back to where it started. */
export interface FuzzMemory {
  capBytes: number;
  startBytes: number;
  peakBytes: number;
  endBytes: number;
}

/** What every fuzz run checks of its server's receive memory (one line per problem). */
export function receiveMemoryProblems(m: FuzzMemory): string[] {
  const problems: string[] = [];
  if (m.peakBytes > m.capBytes) problems.push(`receive memory peaked at ${m.peakBytes} B`);
  if (m.endBytes !== m.startBytes)
    problems.push(`receive memory ${m.endBytes} B at the end, ${m.startBytes} B at the start`);
  return problems;
}

/** What a session fuzz run leaves to check, encrypted or not. */
export interface SessionFuzzOutcome {
  receiveMemory: FuzzMemory;
  arrayBuffers: { startBytes: number; endBytes: number };
  deliveredUnderRealName: number;
  sessionsLeft: number;
  realExchangeOk: boolean;
}

/** Whether a result passes: alive, memory back and within its cap, the real peer untouched. */
export function fuzzVerdict(r: SessionFuzzOutcome): string[] {
  const problems = receiveMemoryProblems(r.receiveMemory);
  if (r.arrayBuffers.endBytes - r.arrayBuffers.startBytes > ARRAY_BUFFER_SLACK_BYTES)
    problems.push(`arrayBuffers grew by ${r.arrayBuffers.endBytes - r.arrayBuffers.startBytes} B`);
  if (r.deliveredUnderRealName > 0)
    problems.push(`${r.deliveredUnderRealName} messages under the real peer's name`);
  if (r.sessionsLeft !== 1) problems.push(`${r.sessionsLeft} sessions left (the real one only expected)`);
  if (!r.realExchangeOk) problems.push('the real exchange failed');
  return problems;
}

/**
 * The command line every fuzz script takes: `COUNT_FLAG N` (default `defaultCount`), `--seed N`,
 * `--json`; null (after the usage line on stderr) when a number is not a positive safe integer.
 */
export function fuzzArgs(
  argv: string[],
  script: string,
  countFlag: string,
  defaultCount: number,
): { count: number; seed: number; json: boolean } | null {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const count = Number(arg(countFlag) ?? defaultCount);
  const seed = Number(arg('--seed') ?? Math.floor(Math.random() * 2 ** 31));
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(seed)) {
    process.stderr.write(`usage: ${script} [${countFlag} N] [--seed N] [--json]\n`);
    return null;
  }
  return { count, seed, json: argv.includes('--json') };
}

async function main(argv: string[]): Promise<number> {
  const args = fuzzArgs(argv, 'session-fuzz.ts', '--datagrams', 1_000_000);
  if (!args) return 2;
  const json = args.json;
  const r = await runSessionFuzz(
    args.count,
    args.seed,
    json ? undefined : (line) => process.stderr.write(`${line}\n`),
  );
  const problems = fuzzVerdict(r);
  if (json) process.stdout.write(JSON.stringify({ ...r, problems }, null, 2) + '\n');
  else {
    process.stdout.write(
      `${r.datagrams} datagrams in ${r.seconds.toFixed(1)} s (seed ${r.seed}): received ${r.received}, ` +
        `dropped ${JSON.stringify(r.dropped)}, ${r.deliveredFromFuzz} fuzz messages delivered\n` +
        `receive memory: start ${r.receiveMemory.startBytes} B, peak ${r.receiveMemory.peakBytes} B (cap ${r.receiveMemory.capBytes}), end ${r.receiveMemory.endBytes} B; ` +
        `${r.receiveMemory.refusals} refused at the cap, ${r.receiveMemory.allocationFailures} allocation failures\n` +
        `arrayBuffers: start ${r.arrayBuffers.startBytes} B, peak ${r.arrayBuffers.peakBytes} B, end ${r.arrayBuffers.endBytes} B\n` +
        (problems.length === 0 ? 'ok\n' : `FAILED: ${problems.join('; ')}\n`),
    );
  }
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`session-fuzz: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
