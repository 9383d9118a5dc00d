/**
 * The session fuzzer (session-fuzz.ts) against an ENCRYPTED session: the attacker holds valid session
 * keys. It completes an honest encrypted handshake with the fuzzed endpoint, takes over its own
 * socket (hijackSession) and seals with its session's own `PacketSealer` (`Session.sealer`, set by
 * `useKeys` from the handshake's SessionKeys; reached here by a cast, test-only: nothing in src
 * exposes it). Three kinds of datagrams, mixed:
 *
 * - (a) plaintexts from session-fuzz.ts's record generator (made-up and mutated DATA records,
 *   ACK/HEARTBEAT with random bodies, bytes flipped after the header), SEALED with the valid keys:
 *   what reassembly and record decoding must refuse is refused after authentication;
 * - (b) mutated ciphertexts: a validly sealed packet (of a packet number never sent otherwise) with
 *   bits flipped in the header (the AAD), the body or the tag, truncated, extended, or its body and
 *   tag replaced: every one must be dropped and counted (badSeal, or whatever the flip made of the
 *   demultiplexing header: malformed, badVersion, badChecksum, unknownSession); 1 % of them are
 *   instead sealed validly with a packet number 2^31 or more ahead (malformed, before the open);
 * - (c) replays of earlier valid (a) packets, of this session (replayed) or of an earlier one of the
 *   same attacker (unknownSession / staleIncarnation).
 *
 * Packet numbers come from the hijacked session itself (`SentPackets.takeUntracked`), so the session
 * stays consistent and its own packets (heartbeats, the final CLOSE) keep opening at the server;
 * those are recorded as valid too (a recording wrapper around the session's link).
 *
 * Accounting, exact per attacker session: the server-side session's opener is wrapped to record the
 * packet number of every packet that authenticates. Each must be one the attacker sealed validly and
 * sent ((a) or the session's own), each once: anything else is a forged or replayed packet accepted,
 * a failure printed with the seed. The server's drop counters must grow by exactly
 * (b) + (c) + the opened packets the session then refused (records that contradict, decoding after
 * the open), and every datagram sent must have reached the server (loopback: a loss is reported).
 *
 * Afterwards the checks of session-fuzz.ts: endpoint alive, receive memory within its cap and back to
 * its start, arrayBuffers back near its start after GC, only the real session left, a real exchange
 * works. CI runs 100 000 datagrams (test/integration/transport-fuzz.test.ts); the benchmark:
 *
 *   node --import=tsx bench/transport/sealed-session-fuzz.ts [--datagrams 1000000] [--seed N] [--json]
 */
import { fileURLToPath } from 'node:url';
import { Endpoint } from '../../src/index.js';
// The fuzzer reaches into the sessions (keys, packet numbers, link) and writes packets itself.
// eslint-disable-next-line ferry/layer-direction
import { readU64 } from '../../src/wire/packet-codec.js';
// eslint-disable-next-line ferry/layer-direction
import { AEAD_TAG_BYTES, HEADER_BYTES, PACKET_NUMBER_OFFSET } from '../../src/wire/packet-layout.js';
// eslint-disable-next-line ferry/layer-direction
import type { PacketSealer, PacketOpener } from '../../src/transport/crypto/packet-aead.js';
// eslint-disable-next-line ferry/layer-direction
import type { DatagramLink } from '../../src/transport/link.js';
import {
  FuzzArena,
  fuzzArgs,
  fuzzVerdict,
  hijackSession,
  prng,
  sessionFuzzDatagram,
  sessionFuzzDatagrams,
  type SessionFuzzResult,
} from './session-fuzz.js';

/** Datagrams one attacker session sends before it closes and a new one connects (as session-fuzz). */
const SESSION_DATAGRAMS = 5000;
const PROGRESS_DATAGRAMS = 65_536;
const SEND_BATCH = 16;
/** Valid sealed datagrams kept for replays (a random one is overwritten once full). */
const REPLAY_RING = 256;
/** Share of sends that are (a) sealed fuzz plaintexts, then (b) mutated ciphertexts; the rest (c). */
const SEALED_SHARE = 0.6;
const MUTATED_SHARE = 0.3;
/** How long the run waits for the server to have read every datagram of a session's window. */
const DRAIN_TIMEOUT_MS = 10_000;
/**
 * Share of the (b) sends that are a validly sealed packet numbered beyond LIMITS.MAX_PACKET_NUMBER_GAP
 * above the ack (at least FAR_MIN_JUMP): an ACK could not report it, and opened it would slide the
 * replay window; it must be dropped before the open (counted malformed).
 */
const FAR_SHARE = 0.01;
const FAR_MIN_JUMP = 2 ** 31;

/** What the fuzzer uses of a session (test-only view of its internals). */
interface SessionInternals {
  sealer: PacketSealer | null;
  opener: PacketOpener | null;
  localConnectionId: bigint;
  remoteConnectionId: bigint;
  sent: { takeUntracked(): number };
  link: DatagramLink;
  onPacket(view: unknown, nowMs: number): boolean;
}

interface EndpointInternals {
  sessionsByAddress: Map<string, SessionInternals>;
  onDatagram(buf: Buffer, fromHost: string, fromPort: number): void;
  dropped: Record<string, number>;
}

function internals(ep: Endpoint): EndpointInternals {
  return ep as unknown as EndpointInternals;
}

function droppedTotal(ep: Endpoint): number {
  let n = 0;
  for (const v of Object.values(internals(ep).dropped)) n += v;
  return n;
}

/** Seals plaintext `p` (header with its packet number, no SACK ranges) as the session would. */
export function seal(sealer: PacketSealer, p: Buffer): Buffer {
  const out = Buffer.alloc(p.length + AEAD_TAG_BYTES);
  p.copy(out);
  const n = sealer.seal(out, HEADER_BYTES, p.length, undefined, 0);
  return out.subarray(0, n);
}

/** (b): a validly sealed datagram changed so that its tag cannot hold (or it does not parse). */
function mutateSealed(rand: () => number, d: Buffer): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  // distinct bytes, each XORed with a non-zero mask: two flips of one byte could cancel out and
  // leave a valid packet (the first 1M run counted three such "forgeries")
  const flip = (b: Buffer, from: number, to: number): Buffer => {
    const first = from + int(to - from);
    const count = Math.min(1 + int(3), to - from);
    for (let i = 0; i < count; i++) b[from + ((first - from + i) % (to - from))]! ^= 1 + int(255);
    return b;
  };
  const body = d.length - AEAD_TAG_BYTES;
  switch (int(6)) {
    case 0:
      return flip(d, 0, HEADER_BYTES); // the header: authenticated data
    case 1:
      return body > HEADER_BYTES ? flip(d, HEADER_BYTES, body) : flip(d, body, d.length);
    case 2:
      return flip(d, body, d.length); // the tag
    case 3:
      return d.subarray(0, 1 + int(d.length - 1)); // truncated (into the header, the body or the tag)
    case 4: {
      const extra = Buffer.alloc(1 + int(64));
      for (let i = 0; i < extra.length; i++) extra[i] = int(256);
      return Buffer.concat([d, extra]);
    }
    default:
      // body and tag replaced by random bytes: a forgery by someone without the keys
      for (let i = HEADER_BYTES; i < d.length; i++) d[i] = int(256);
      return d;
  }
}

/** A hijacked encrypted attacker session and the wrapped server-side session it talks to. */
export interface Hijack {
  socket: import('node:dgram').Socket;
  remoteConnectionId: bigint;
  session: SessionInternals;
  release(): void;
}

/** Takes over `attacker`'s one session (its socket, its link, its keys); see the module comment. */
export function hijackSealed(attacker: Endpoint, valid: Set<number>, onOwnPacket: () => void): Hijack {
  const { socket, remoteConnectionId, release } = hijackSession(attacker);
  const session = [...internals(attacker).sessionsByAddress.values()][0];
  if (!session?.sealer) throw new Error('the attacker session is not encrypted');
  const link = session.link;
  // The session's own packets still go out (heartbeats, its CLOSE): recorded as valid ones.
  session.link = new Proxy(link, {
    get(target, prop, receiver) {
      if (prop === 'send')
        return (...args: Parameters<DatagramLink['send']>): void => {
          valid.add(readU64(args[2], PACKET_NUMBER_OFFSET));
          onOwnPacket();
          target.send(...args);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return {
    socket,
    remoteConnectionId,
    session,
    release: () => {
      session.link = link;
      release();
    },
  };
}

/** What the server side of one attacker session saw (its opener and onPacket, wrapped). */
interface ServerWatch {
  /** Set once the window's accounts are settled: the session's CLOSE is not judged. */
  stopped: boolean;
  opened: number;
  forged: number[];
  onPacketCalls: number;
  onPacketRefused: number;
}

function watchServerSession(server: Endpoint, clientLocalId: bigint, valid: Set<number>): ServerWatch {
  const s = [...internals(server).sessionsByAddress.values()].find(
    (x) => x.remoteConnectionId === clientLocalId,
  );
  if (!s?.opener) throw new Error('no encrypted server session for the attacker');
  const w: ServerWatch = { stopped: false, opened: 0, forged: [], onPacketCalls: 0, onPacketRefused: 0 };
  const opener = s.opener;
  const open = opener.open.bind(opener);
  opener.open = (buf: Buffer, aad: number): boolean => {
    const pn = readU64(buf, PACKET_NUMBER_OFFSET);
    const ok = open(buf, aad);
    if (ok && !w.stopped) {
      w.opened++;
      if (!valid.delete(pn)) w.forged.push(pn);
    }
    return ok;
  };
  const onPacket = s.onPacket.bind(s);
  s.onPacket = (view: unknown, nowMs: number): boolean => {
    const ok = onPacket(view, nowMs);
    if (w.stopped) return ok;
    w.onPacketCalls++;
    if (!ok) w.onPacketRefused++;
    return ok;
  };
  return w;
}

export interface SealedFuzzResult {
  seed: number;
  datagrams: number;
  seconds: number;
  /** (a) sealed, (b) mutated (of which `far`: validly sealed, packet number far ahead), (c) replayed. */
  sent: { sealed: number; mutated: number; far: number; replayed: number; own: number };
  /** Sealed datagrams the server authenticated, and those of them it refused afterwards. */
  opened: number;
  refusedAfterOpen: number;
  /** Packets that authenticated without being a valid one sent once: must be none. */
  forgedAccepted: number;
  firstForged: string | null;
  /** Valid sealed datagrams that did not authenticate (lost or refused): must be none. */
  validNotOpened: number;
  /** Drop counters' growth minus (b) + (c) + refused after open: must be 0. */
  dropMismatch: number;
  /** Datagrams sent that the server never read (loopback loss). */
  lost: number;
  dropped: Record<string, number>;
  deliveredFromFuzz: number;
  deliveredUnderRealName: number;
  receiveMemory: SessionFuzzResult['receiveMemory'];
  arrayBuffers: { startBytes: number; peakBytes: number; endBytes: number };
  sessionsLeft: number;
  realExchangeOk: boolean;
}

const SEALED = {
  encrypt: true,
  socket: 'js' as const,
  impair: null,
  secret: 'sealed-fuzz-secret-0123456789abcdef',
};

/** Runs the encrypted fuzz (see the module comment); closes everything it opened. */
export async function runSealedSessionFuzz(
  datagrams: number,
  seed: number,
  progress?: (line: string) => void,
): Promise<SealedFuzzResult> {
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const arena = await FuzzArena.open(SEALED);
  const { server, attacker } = arena;
  try {
    // datagrams the server read from the attacker's address
    const attackerPort = attacker.address.port;
    let fromAttacker = 0;
    const serverIn = internals(server);
    const onDatagram = serverIn.onDatagram.bind(server);
    serverIn.onDatagram = (buf, host, port) => {
      if (port === attackerPort) fromAttacker++;
      onDatagram(buf, host, port);
    };

    const sent = { sealed: 0, mutated: 0, far: 0, replayed: 0, own: 0 };
    let opened = 0;
    let refusedAfterOpen = 0;
    let forgedAccepted = 0;
    let firstForged: string | null = null;
    let validNotOpened = 0;
    let dropMismatch = 0;
    let lost = 0;
    const ring: Buffer[] = [];

    arena.startMeasuring();
    const started = performance.now();
    const to = server.address;
    let nextProgress = PROGRESS_DATAGRAMS;

    for (let i = 0; i < datagrams;) {
      const attackerPeer = await attacker.connect(server.address);
      const valid = new Set<number>();
      let window = 0; // datagrams of this session's window the server must read
      const h = hijackSealed(attacker, valid, () => {
        sent.own++;
        window++;
      });
      const w = watchServerSession(server, h.session.localConnectionId, valid);
      const sealer = h.session.sealer!;
      const fromAttackerStart = fromAttacker;
      const droppedStart = droppedTotal(server);
      let expectedDrops = 0;
      const send = async (d: Buffer, n: number): Promise<void> => {
        window++;
        if (n % SEND_BATCH === 0) {
          await new Promise<void>((resolve) => h.socket.send(d, to.port, to.host, () => resolve()));
          await new Promise((resolve) => setImmediate(resolve));
        } else h.socket.send(d, to.port, to.host);
      };
      const sessionStart = i;
      while (i < datagrams && i - sessionStart < SESSION_DATAGRAMS) {
        const n = i - sessionStart;
        const seqBase = 1 + Math.floor(n / 64);
        const kind = rand();
        if (kind < SEALED_SHARE || ring.length === 0) {
          const first = h.session.sent.takeUntracked();
          const plains = sessionFuzzDatagrams(rand, h.remoteConnectionId, first, seqBase);
          for (let k = 1; k < plains.length; k++) h.session.sent.takeUntracked();
          for (const p of plains) {
            const d = seal(sealer, p);
            valid.add(readU64(d, PACKET_NUMBER_OFFSET));
            if (ring.length < REPLAY_RING) ring.push(Buffer.from(d));
            else ring[int(REPLAY_RING)] = Buffer.from(d);
            sent.sealed++;
            await send(d, ++i);
          }
        } else if (kind < SEALED_SHARE + MUTATED_SHARE) {
          const far = rand() < FAR_SHARE;
          // a far packet number is sealed validly and sent as is: dropped before the open
          const pn = far ? FAR_MIN_JUMP + int(2 ** 40) : h.session.sent.takeUntracked();
          const sealed = seal(sealer, sessionFuzzDatagram(rand, h.remoteConnectionId, pn, seqBase));
          const d = far ? sealed : mutateSealed(rand, sealed);
          sent.mutated++;
          if (far) sent.far++;
          expectedDrops++;
          await send(d, ++i);
        } else {
          sent.replayed++;
          expectedDrops++;
          await send(ring[int(ring.length)]!, ++i);
        }
        if (i >= nextProgress) {
          nextProgress += PROGRESS_DATAGRAMS;
          arena.sampleArrayBuffers();
          progress?.(`${i} datagrams, receive memory ${server.receiveMemory.usedBytes} B`);
        }
      }
      // wait until the server has read the window, then settle its accounts
      const deadline = performance.now() + DRAIN_TIMEOUT_MS;
      while (fromAttacker - fromAttackerStart < window && performance.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 1));
      const read = fromAttacker - fromAttackerStart;
      lost += Math.max(0, window - read);
      const refused = w.opened - w.onPacketCalls + w.onPacketRefused;
      if (read === window) dropMismatch += droppedTotal(server) - droppedStart - (expectedDrops + refused);
      opened += w.opened;
      refusedAfterOpen += refused;
      forgedAccepted += w.forged.length;
      if (w.forged.length > 0 && firstForged === null)
        firstForged = `packet number ${w.forged[0]} of session ${h.remoteConnectionId.toString(16)}`;
      validNotOpened += valid.size;
      // the attacker leaves (its CLOSE is sealed by the session and opens at the server)
      w.stopped = true;
      h.release();
      await attacker.disconnect(attackerPeer).catch(() => undefined);
    }
    const seconds = (performance.now() - started) / 1000;
    const { received: _received, ...outcome } = await arena.finish();
    return {
      seed,
      datagrams,
      seconds,
      sent,
      opened,
      refusedAfterOpen,
      forgedAccepted,
      firstForged,
      validNotOpened,
      dropMismatch,
      lost,
      ...outcome,
    };
  } finally {
    await arena.close();
  }
}

/** Whether a result passes (see the module comment); each problem names what went wrong. */
export function sealedFuzzVerdict(r: SealedFuzzResult): string[] {
  const problems: string[] = [];
  if (r.forgedAccepted > 0)
    problems.push(
      `${r.forgedAccepted} forged or replayed packets accepted (first: ${r.firstForged}, seed ${r.seed})`,
    );
  if (r.validNotOpened > 0) problems.push(`${r.validNotOpened} validly sealed packets did not open`);
  if (r.lost > 0) problems.push(`${r.lost} datagrams never reached the server`);
  if (r.dropMismatch !== 0)
    problems.push(`drop counters off by ${r.dropMismatch} from (b) + (c) + refused after open`);
  problems.push(...fuzzVerdict(r));
  return problems;
}

async function main(argv: string[]): Promise<number> {
  const args = fuzzArgs(argv, 'sealed-session-fuzz.ts', '--datagrams', 1_000_000);
  if (!args) return 2;
  const json = args.json;
  const r = await runSealedSessionFuzz(
    args.count,
    args.seed,
    json ? undefined : (l) => process.stderr.write(`${l}\n`),
  );
  const problems = sealedFuzzVerdict(r);
  if (json) process.stdout.write(JSON.stringify({ ...r, problems }, null, 2) + '\n');
  else
    process.stdout.write(
      `${r.datagrams} datagrams in ${r.seconds.toFixed(1)} s (seed ${r.seed}): sent ${JSON.stringify(r.sent)}\n` +
        `opened ${r.opened} (refused after open ${r.refusedAfterOpen}), forged accepted ${r.forgedAccepted}, ` +
        `valid not opened ${r.validNotOpened}, lost ${r.lost}, drop mismatch ${r.dropMismatch}\n` +
        `dropped ${JSON.stringify(r.dropped)}, ${r.deliveredFromFuzz} fuzz messages delivered\n` +
        `receive memory: start ${r.receiveMemory.startBytes} B, peak ${r.receiveMemory.peakBytes} B (cap ${r.receiveMemory.capBytes}), end ${r.receiveMemory.endBytes} B, ${r.receiveMemory.refusals} refused at the cap\n` +
        `arrayBuffers: start ${r.arrayBuffers.startBytes} B, peak ${r.arrayBuffers.peakBytes} B, end ${r.arrayBuffers.endBytes} B\n` +
        (problems.length === 0 ? 'ok\n' : `FAILED: ${problems.join('; ')}\n`),
    );
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`sealed-session-fuzz: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
