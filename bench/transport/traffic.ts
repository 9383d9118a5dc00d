/**
 * What one node of a run does over its link: send (as fast as back-pressure allows, at a paced
 * rate, or as request-response), answer requests, and count everything it receives: messages,
 * bytes, fragments, delivery time of each message, round-trip time of each response.
 *
 * The same code drives every transport, so the figures differ only by the transport. Everything is
 * bounded: sending stops at the plan's duration or message count, whichever comes first; a
 * request-response client that hears nothing for RR_TIMEOUT_MS (raw dgram loses datagrams) counts a
 * timeout and starts a fresh window instead of waiting forever.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { LatencyHistogram } from '../lib/latency.js';
import type { ResourceUsage } from '../lib/resources.js';
import type { Link } from './links/link.js';
import {
  ageNs,
  fragCountOf,
  fragIndexOf,
  fromOf,
  HEADER_BYTES,
  KIND_DATA,
  KIND_REQUEST,
  KIND_RESPONSE,
  kindOf,
  seqOf,
  sizeOf,
  toResponse,
  writeHeader,
} from './message.js';
import type { NodePlan, NodeReport } from './protocol.js';

/** Nodes a run can have: the `from` field of a header is one byte. */
const MAX_NODES = 256;
/** A request-response client that hears nothing this long gives up on its outstanding requests. */
const RR_TIMEOUT_MS = 250;
const RR_WATCHDOG_MS = 25;
/** Paced senders look at the schedule this often. */
const PACE_TICK_MS = 1;
/** Most messages a paced sender sends in one tick to catch up with its schedule. */
const MAX_PACED_BURST = 4096;
/** Responses an rr-server holds while its link is back-pressured; beyond, they are dropped. */
const MAX_PENDING_RESPONSES = 4096;
/** Bytes a streaming sender queues per event-loop turn before letting I/O run. */
const BATCH_BYTES = 256 * 1024;
const MAX_BATCH_MESSAGES = 256;

export class Traffic {
  private readonly body: Buffer;
  private readonly self: number;
  private startNs = 0n;
  private sending = false;
  private stopSending: () => void = () => {};
  private readonly stopped: Promise<void>;
  private sendEndNs = 0n;
  private readonly delivery = new LatencyHistogram();
  private readonly rtt = new LatencyHistogram();
  private readonly sent = { messages: 0, payloadBytes: 0, offered: 0, refused: 0, backPressureWaits: 0 };
  private readonly received = { messages: 0, payloadBytes: 0, fragments: 0, firstNs: 0, lastNs: 0 };
  private readonly bySource = new Array<number>(MAX_NODES).fill(0);
  private readonly bySourceWhileSending = new Array<number>(MAX_NODES).fill(0);
  /** Raw dgram reassembly state per source: the message being collected and fragments seen. */
  private readonly fragSeq = new Array<number>(MAX_NODES).fill(-1);
  private readonly fragSeen = new Array<number>(MAX_NODES).fill(0);
  private nextSeq = 0;
  // request-response client
  private outstanding = 0;
  private validFromSeq = 0;
  private lastProgressNs = 0n;
  private rrTimeouts = 0;
  private filling = false;
  // request-response server
  private readonly pendingResponses: { to: number; header: Buffer; body: Buffer }[] = [];
  private draining = false;
  private finished = false;

  constructor(
    private readonly link: Link,
    private readonly plan: NodePlan,
  ) {
    this.self = plan.node;
    this.body = Buffer.alloc(Math.max(0, plan.sizeBytes - HEADER_BYTES));
    this.stopped = new Promise((resolve) => (this.stopSending = resolve));
    link.onReceive((h, size) => this.onReceive(h, size));
  }

  get node(): number {
    return this.self;
  }

  /** Starts the plan; resolves when this node has finished sending (at once for sinks and servers). */
  async run(startNs: bigint): Promise<void> {
    this.startNs = startNs;
    this.lastProgressNs = process.hrtime.bigint();
    const role = this.plan.role;
    if (role === 'sink' || role === 'rr-server') return;
    this.sending = true;
    const timer = setTimeout(() => this.stop(), this.plan.durationMs);
    try {
      if (role === 'stream') await this.stream();
      else if (role === 'paced') await this.paced();
      else await this.requestResponse();
    } finally {
      clearTimeout(timer);
      this.stop();
    }
  }

  /** The run is over (the parent said finish): nothing more is sent, not even pending responses. */
  finish(): void {
    this.finished = true;
    this.stop();
  }

  /** Ends sending now (duration over, count reached, or the parent said finish). */
  stop(): void {
    if (!this.sending && this.sendEndNs !== 0n) return;
    this.sending = false;
    if (this.sendEndNs === 0n) this.sendEndNs = process.hrtime.bigint();
    this.stopSending();
  }

  progress(): { messages: number; payloadBytes: number } {
    return { messages: this.received.messages, payloadBytes: this.received.payloadBytes };
  }

  report(resources: ResourceUsage): NodeReport {
    const sendSeconds =
      this.sendEndNs > this.startNs && this.startNs > 0n ? Number(this.sendEndNs - this.startNs) / 1e9 : 0;
    return {
      node: this.self,
      pid: process.pid,
      role: this.plan.role,
      sent: { ...this.sent, seconds: sendSeconds },
      received: {
        ...this.received,
        bySource: this.bySource.slice(0, highestNonZero(this.bySource) + 1),
        bySourceWhileSending: this.bySourceWhileSending.slice(
          0,
          highestNonZero(this.bySourceWhileSending) + 1,
        ),
      },
      delivery: this.delivery.toJSON(),
      rtt: this.rtt.toJSON(),
      rrTimeouts: this.rrTimeouts,
      link: this.link.counters(),
      resources,
    };
  }

  // --- sending ---------------------------------------------------------------------------------

  private mayContinue(): boolean {
    if (this.sent.messages >= this.plan.maxMessages) this.stop();
    return this.sending;
  }

  /** Sends one message of `kind` to `node`; false when back-pressured. */
  private sendOne(node: number, kind: number): boolean {
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    writeHeader(header, kind, this.self, this.nextSeq, this.plan.sizeBytes);
    if (!this.link.trySend(node, header, this.body)) return false;
    this.nextSeq++;
    this.sent.messages++;
    this.sent.payloadBytes += this.plan.sizeBytes;
    return true;
  }

  /**
   * Waits for the link, then always yields to the event loop: a link that says "writable" at once
   * but still refuses (a connection the peer closed) must not spin in microtasks and starve the
   * timers that end the run.
   */
  private async waitWritable(node: number): Promise<void> {
    this.sent.backPressureWaits++;
    await Promise.race([this.link.writable(node), this.stopped]);
    await yieldToEventLoop();
  }

  private async stream(): Promise<void> {
    const targets = this.plan.sendTo;
    const batch = Math.max(1, Math.min(MAX_BATCH_MESSAGES, Math.floor(BATCH_BYTES / this.plan.sizeBytes)));
    let i = 0;
    while (this.mayContinue()) {
      for (let k = 0; k < batch && this.mayContinue(); k++) {
        const target = targets[i % targets.length]!;
        if (!this.sendOne(target, KIND_DATA)) {
          this.link.flush();
          await this.waitWritable(target);
          continue;
        }
        i++;
      }
      this.link.flush();
      await yieldToEventLoop();
    }
  }

  private paced(): Promise<void> {
    const targets = this.plan.sendTo;
    const rate = this.plan.rateMsgsPerSec;
    let i = 0;
    return new Promise((resolve) => {
      const tick = setInterval(() => {
        if (!this.mayContinue()) {
          clearInterval(tick);
          resolve();
          return;
        }
        const due = Math.floor((rate * Number(process.hrtime.bigint() - this.startNs)) / 1e9);
        const want = due - this.sent.offered;
        this.sent.offered = due;
        let k = 0;
        for (; k < Math.min(want, MAX_PACED_BURST) && this.mayContinue(); k++) {
          if (!this.sendOne(targets[i % targets.length]!, KIND_DATA)) break;
          i++;
        }
        this.sent.refused += want - k;
        this.link.flush();
      }, PACE_TICK_MS);
      void this.stopped.then(() => {
        clearInterval(tick);
        resolve();
      });
    });
  }

  private async requestResponse(): Promise<void> {
    const watchdog = setInterval(() => this.rrWatchdog(), RR_WATCHDOG_MS);
    try {
      this.fillRequests();
      await this.stopped;
    } finally {
      clearInterval(watchdog);
    }
  }

  /** Keeps rrDepth requests outstanding; when back-pressured, waits for the link and tries again. */
  private fillRequests(): void {
    if (this.filling) return;
    const target = this.plan.sendTo[0]!;
    while (this.outstanding < this.plan.rrDepth && this.mayContinue()) {
      if (!this.sendOne(target, KIND_REQUEST)) {
        this.filling = true;
        void this.waitWritable(target).then(() => {
          this.filling = false;
          this.fillRequests();
        });
        break;
      }
      this.outstanding++;
    }
    this.link.flush();
  }

  private rrWatchdog(): void {
    if (!this.sending || this.outstanding === 0) return;
    const now = process.hrtime.bigint();
    if (Number(now - this.lastProgressNs) < RR_TIMEOUT_MS * 1e6) return;
    this.rrTimeouts++;
    this.validFromSeq = this.nextSeq;
    this.outstanding = 0;
    this.lastProgressNs = now;
    this.fillRequests();
  }

  // --- receiving -------------------------------------------------------------------------------

  private onReceive(h: Buffer, sizeBytes: number): void {
    const nowNs = process.hrtime.bigint();
    const r = this.received;
    r.fragments++;
    r.payloadBytes += sizeBytes;
    if (!this.completes(h)) return;
    const relNs = Number(nowNs - this.startNs);
    if (r.messages === 0) r.firstNs = relNs;
    r.lastNs = relNs;
    r.messages++;
    this.bySource[fromOf(h)]!++;
    if (relNs <= this.plan.durationMs * 1e6) this.bySourceWhileSending[fromOf(h)]!++;
    const kind = kindOf(h);
    if (kind === KIND_DATA) this.delivery.recordNs(ageNs(h, nowNs));
    else if (kind === KIND_REQUEST) {
      this.delivery.recordNs(ageNs(h, nowNs));
      this.respond(h);
    } else if (kind === KIND_RESPONSE) this.onResponse(h, nowNs);
  }

  /** True when this datagram or message completes a message (all fragments of a raw dgram one seen). */
  private completes(h: Buffer): boolean {
    const count = fragCountOf(h);
    if (count <= 1) return true;
    const from = fromOf(h);
    const seq = seqOf(h);
    if (this.fragSeq[from] !== seq) {
      this.fragSeq[from] = seq;
      this.fragSeen[from] = 0;
    }
    this.fragSeen[from]!++;
    return fragIndexOf(h) === count - 1 && this.fragSeen[from] === count;
  }

  private respond(request: Buffer): void {
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    request.copy(header, 0, 0, HEADER_BYTES);
    toResponse(header, this.self);
    const body = this.body.subarray(0, Math.max(0, sizeOf(request) - HEADER_BYTES));
    const to = fromOf(request);
    if (this.pendingResponses.length === 0 && this.link.trySend(to, header, body)) {
      this.countResponse(body);
      this.link.flush();
      return;
    }
    if (this.pendingResponses.length < MAX_PENDING_RESPONSES)
      this.pendingResponses.push({ to, header, body });
    else this.sent.refused++;
    void this.drainResponses();
  }

  private countResponse(body: Buffer): void {
    this.sent.messages++;
    this.sent.payloadBytes += HEADER_BYTES + body.length;
  }

  private async drainResponses(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.pendingResponses.length > 0 && !this.finished) {
        const next = this.pendingResponses[0]!;
        if (!this.link.trySend(next.to, next.header, next.body)) {
          this.link.flush();
          await this.waitWritable(next.to);
          continue;
        }
        this.pendingResponses.shift();
        this.countResponse(next.body);
      }
      this.link.flush();
    } finally {
      this.draining = false;
    }
  }

  private onResponse(h: Buffer, nowNs: bigint): void {
    if (seqOf(h) < this.validFromSeq) return;
    this.rtt.recordNs(ageNs(h, nowNs));
    this.lastProgressNs = nowNs;
    if (this.outstanding > 0) this.outstanding--;
    if (this.sending) this.fillRequests();
  }
}

function highestNonZero(a: readonly number[]): number {
  for (let i = a.length - 1; i >= 0; i--) if (a[i]) return i;
  return -1;
}
